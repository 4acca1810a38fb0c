#!/usr/bin/env python3
# The SQL half of the benchmark, driven by bench/run: for PostgreSQL, MariaDB and SQLite, a
# `sessions` table as `session:setup --backend database` creates it (id primary key,
# session_id varchar(255) unique, data text, expires_at, created_at, updated_at, an index on
# expires_at) filled with N rows, cleared by
#   azu      azu-session session:clear -b database --force   (DATABASE_URL set)
#   alt      with --alt-bin: another azu-session build (a proposed change), side by side
#   delete   one `DELETE FROM sessions` through the server's own client (psql, mariadb, sqlite3)
# in rounds whose order alternates, each on freshly built data (PostgreSQL: fresh table,
# VACUUM ANALYZE, CHECKPOINT; MariaDB: fresh table, purge of earlier deletes awaited;
# SQLite: a copy of one prepared file). Timed rounds run alone; then one more run per method
# with sql_probe.py acting as the application (worst wait of its 50 ms INSERT/UPDATE/DELETE
# cycle, and the longest single statement). Every run is checked to leave the table empty.
# MariaDB also gets "until purged": from the start until InnoDB's purge of the deleted rows is
# done (its history list is empty), since a single DELETE leaves that work for after it ends.
# Writes JSON to --out.

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import env_with, log, median, percentile, read_json, timed, write_json  # noqa: E402
from sql_probe import mysql_argv  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ["azu", "delete"]
# The database the MariaDB admin connection starts in: one every user may open, so that a user
# granted only the benchmark's databases (as scripts/services makes `azs`) can run it.
ADMIN_DB = "information_schema"


def loopback_only(url):
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("refusing a non-loopback database host: %r" % host)


def through(url, port):
    """`url` with its port replaced by `port` (a latency proxy's), or as it is."""
    if not port:
        return url
    u = urlsplit(url)
    auth = u.netloc.rpartition("@")[0]
    return u._replace(netloc=(auth + "@" if auth else "") + "%s:%d" % (u.hostname, port)).geturl()


class Server:
    """What PostgreSQL and MariaDB share: the clients measured (azu-session and the one
    DELETE) connect through `proxy_port` when a latency proxy stands in front of the server;
    the bench's own statements always go straight to it."""
    proxy_port = None

    def server_port(self):
        return urlsplit(self.admin).port

    def client_url(self):
        return through(self.url, self.proxy_port)


class Postgres(Server):
    name = "postgres"
    title = "PostgreSQL"

    def __init__(self, admin_url, db, n, work):
        loopback_only(admin_url)
        u = urlsplit(admin_url)
        self.admin = admin_url
        self.url = u._replace(path="/" + db).geturl()
        self.db, self.n = db, n

    def psql(self, sql, url=None):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            url or self.url], input=sql.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise SystemExit("psql failed: %s" % p.stderr.decode()[-800:])
        return p.stdout.decode().strip()

    def create(self):
        self.psql('DROP DATABASE IF EXISTS "%s"; CREATE DATABASE "%s";' % (self.db, self.db),
                  url=self.admin)

    def drop(self):
        self.psql('DROP DATABASE IF EXISTS "%s";' % self.db, url=self.admin)

    def populate(self):
        # Indexes are built after the rows go in (faster; the same table in the end).
        self.psql("""
DROP TABLE IF EXISTS sessions;
CREATE TABLE sessions (id bigserial, session_id varchar(255) NOT NULL, data text NOT NULL,
  expires_at timestamp NOT NULL, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
INSERT INTO sessions (session_id, data, expires_at, created_at, updated_at)
SELECT 'sess-' || lpad(g::text, 10, '0') || '-' || md5(g::text),
       '{"user_id":' || g || ',"csrf_token":"' || md5((g * 7)::text)
         || '","flash":{},"return_to":"/posts/' || (g %% 977) || '"}',
       localtimestamp + interval '1 hour' + (g %% 3600) * interval '1 second',
       localtimestamp, localtimestamp
FROM generate_series(1, %d) g;
ALTER TABLE sessions ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX sessions_session_id_idx ON sessions (session_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
VACUUM ANALYZE sessions;
""" % self.n)
        try:  # a superuser (or pg_checkpoint) can; otherwise both methods share the same luck
            self.psql("CHECKPOINT;")
        except SystemExit:
            pass

    def count(self):
        return int(self.psql("SELECT count(*) FROM sessions;"))

    def delete_cmd(self):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.client_url(), "-c",
                "DELETE FROM sessions"]

    def probe_args(self):
        return ["--target", self.url]

    def version(self):
        return self.psql("SHOW server_version;", url=self.admin)


class MariaDB(Server):
    name = "mysql"
    title = "MariaDB"

    def __init__(self, admin_url, db, n, work):
        loopback_only(admin_url)
        u = urlsplit(admin_url)
        self.admin = admin_url
        self.url = u._replace(path="/" + db).geturl()
        self.db, self.n = db, n

    def sql(self, sql, db=None):
        p = subprocess.run(mysql_argv(self.admin, db or self.db) + ["-N", "-B"],
                           input=sql.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise SystemExit("mariadb failed: %s" % p.stderr.decode()[-800:])
        return p.stdout.decode().strip()

    def create(self):
        self.sql("DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s`;" % (self.db, self.db),
                 db=ADMIN_DB)

    def drop(self):
        self.sql("DROP DATABASE IF EXISTS `%s`;" % self.db, db=ADMIN_DB)

    def history(self):
        out = self.sql("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length';")
        return int(out.split()[-1])

    def wait_purged(self, limit=300.0):
        """Seconds until InnoDB's history list is empty (None if not within limit)."""
        t0 = time.perf_counter()
        for _ in range(int(limit / 0.05)):
            if self.history() == 0:
                return time.perf_counter() - t0
            time.sleep(0.05)
        return None

    def populate(self):
        self.sql("""
DROP TABLE IF EXISTS sessions;
CREATE TABLE sessions (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  session_id VARCHAR(255) NOT NULL, data TEXT NOT NULL, expires_at DATETIME NOT NULL,
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)
  ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
SET SESSION max_recursive_iterations = %d;
INSERT INTO sessions (session_id, data, expires_at, created_at, updated_at)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %d)
SELECT CONCAT('sess-', LPAD(n, 10, '0'), '-', MD5(n)),
       CONCAT('{"user_id":', n, ',"csrf_token":"', MD5(n * 7),
              '","flash":{},"return_to":"/posts/', n %% 977, '"}'),
       UTC_TIMESTAMP() + INTERVAL 3600 + (n %% 3600) SECOND, UTC_TIMESTAMP(), UTC_TIMESTAMP()
FROM seq;
ALTER TABLE sessions ADD UNIQUE INDEX sessions_session_id_idx (session_id),
  ADD INDEX sessions_expires_at_idx (expires_at);
ANALYZE TABLE sessions;
""" % (self.n + 10, self.n))
        if self.wait_purged(120) is None:
            log("mariadb: InnoDB history list did not empty in 120 s; measuring anyway")

    def count(self):
        return int(self.sql("SELECT COUNT(*) FROM sessions;"))

    def delete_cmd(self):
        return mysql_argv(through(self.admin, self.proxy_port), self.db) + [
            "-e", "DELETE FROM sessions"]

    def probe_args(self):
        return ["--target", self.admin, "--db", self.db]

    def version(self):
        return self.sql("SELECT VERSION();", db=ADMIN_DB)


class Sqlite:
    name = "sqlite"
    title = "SQLite"

    def __init__(self, admin_url, db, n, work):
        self.dir = os.path.join(work, "sqlite")
        self.tmpl = os.path.join(self.dir, "template.db")
        self.file = os.path.join(self.dir, "sessions.db")
        self.url = "sqlite:" + self.file
        self.n = n

    def sql(self, sql, path=None):
        p = subprocess.run(["sqlite3", "-bail", path or self.file], input=sql.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise SystemExit("sqlite3 failed: %s" % p.stderr.decode()[-800:])
        return p.stdout.decode().strip()

    def create(self):
        os.makedirs(self.dir, exist_ok=True)
        if os.path.exists(self.tmpl):
            os.unlink(self.tmpl)
        self.sql("""
CREATE TABLE sessions (id INTEGER PRIMARY KEY, session_id VARCHAR(255) NOT NULL,
  data TEXT NOT NULL, expires_at DATETIME NOT NULL, created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL);
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %d)
INSERT INTO sessions (session_id, data, expires_at, created_at, updated_at)
SELECT 'sess-' || printf('%%010d', n) || '-' || printf('%%016x%%016x', n * 2654435761, n * 40503),
       '{"user_id":' || n || ',"csrf_token":"' || printf('%%016x%%016x', n * 7 * 2654435761, n)
         || '","flash":{},"return_to":"/posts/' || (n %% 977) || '"}',
       datetime('now', '+1 hour', '+' || (n %% 3600) || ' seconds'),
       datetime('now'), datetime('now')
FROM seq;
CREATE UNIQUE INDEX sessions_session_id_idx ON sessions (session_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
ANALYZE;
""" % self.n, path=self.tmpl)

    def drop(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def populate(self):
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(self.file + suffix):
                os.unlink(self.file + suffix)
        shutil.copyfile(self.tmpl, self.file)

    def count(self):
        return int(self.sql("SELECT COUNT(*) FROM sessions;"))

    def delete_cmd(self):
        # Wait for the lock like the application and azu-session do (the CLI's default is to
        # fail at once).
        return ["sqlite3", "-bail", "-cmd", ".timeout 600000", self.file, "DELETE FROM sessions"]

    def probe_args(self):
        return ["--target", self.file]

    def version(self):
        return self.sql("SELECT sqlite_version();", path=":memory:")


DIALECTS = {"postgres": Postgres, "mysql": MariaDB, "sqlite": Sqlite}


def run_one(d, method, a, project, probe=False):
    t_pop = time.perf_counter()
    d.populate()
    pop = time.perf_counter() - t_pop
    if d.count() != d.n:
        raise SystemExit("%s populate: wrong row count" % d.title)
    cmd = ([a.bin if method == "azu" else a.alt_bin, "session:clear", "-b", "database",
            "--force", "-C", project] + (a.alt_args.split() if method == "alt" else [])
           if method in ("azu", "alt") else d.delete_cmd())
    env = env_with(DATABASE_URL=d.client_url() if isinstance(d, Server) else d.url)
    rss_file = os.path.join(a.work, "rss.txt") if method in ("azu", "alt") else None
    pr = None
    if probe:
        probe_out = os.path.join(a.work, "probe.json")
        pr = subprocess.Popen([sys.executable, os.path.join(HERE, "sql_probe.py"),
                               "--dialect", d.name, "--ids", str(d.n), "--out", probe_out]
                              + d.probe_args(), stdout=subprocess.PIPE)
        pr.stdout.readline()  # "ready"
        time.sleep(0.3)
    t0 = time.monotonic_ns()
    # With the application writing, sessions it adds while the clear runs may be left, and
    # azu-session then says so and exits 1 (the rows left are reported below).
    codes = (0, 1) if probe and method in ("azu", "alt") else (0,)
    wall, rss, _ = timed(cmd, env=env, rss_file=rss_file, cwd=project, codes=codes)
    t1 = time.monotonic_ns()
    out = {"wall": wall, "populate_s": pop}
    if rss is not None:
        out["rss_kib"] = rss
    if isinstance(d, MariaDB):
        purged = d.wait_purged()
        out["until_purged"] = None if purged is None else wall + purged
    if pr:
        time.sleep(0.2)
        pr.send_signal(signal.SIGTERM)
        pr.wait(timeout=120)
        res = read_json(probe_out)
        os.unlink(probe_out)
        waits = [c[1] for c in res["cycles"] if c[0] <= t1 and c[0] + c[1] * 1e9 >= t0]
        out.update({"probe_cycles": len(waits),
                    "probe_max_s": max(waits) if waits else None,
                    "probe_p99_s": percentile(waits, 99) if waits else None,
                    "longest_statement_s": res.get("longest_statement_s"),
                    "probe_errors": res.get("errors", []),
                    "app_errors": res.get("app_errors", [])})
    left = d.count()
    out["rows_left"] = left
    if left != 0:
        msg = "%s %s left %d rows in the table" % (d.title, method, left)
        if not probe:
            raise SystemExit(msg)
        log("WARNING: " + msg + " (with the probe writing concurrently)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dialects", default="postgres,mysql,sqlite")
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306")
    ap.add_argument("--db", required=True, help="name of the database to create and drop")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--alt-bin", help="a second azu-session build, measured as method `alt`")
    ap.add_argument("--alt-args", default="",
                    help="extra session:clear arguments for `alt` (e.g. --batched)")
    ap.add_argument("--drop-only", action="store_true", help="drop --db (cleanup) and exit")
    ap.add_argument("--ping-mysql", action="store_true", help="exit 0 if MariaDB answers")
    ap.add_argument("--rtt", type=float, default=0.0,
                    help="ms of round trip (bench/latency_proxy.py) between PostgreSQL or "
                    "MariaDB and the clients measured; SQLite has no network and is skipped")
    a = ap.parse_args()

    if a.ping_mysql:
        loopback_only(a.mysql_url)
        p = subprocess.run(mysql_argv(a.mysql_url, ADMIN_DB) + ["-e", "SELECT 1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sys.exit(p.returncode)
    if a.drop_only:
        for name in [x for x in a.dialects.split(",") if x in ("postgres", "mysql")]:
            admin = a.pg_url if name == "postgres" else a.mysql_url
            try:
                DIALECTS[name](admin, a.db, 0, a.work).drop()
            except SystemExit as e:
                log("cleanup: %s" % e)
        return

    project = os.path.join(a.work, "project")
    os.makedirs(project, exist_ok=True)
    with open(os.path.join(project, "shard.yml"), "w") as f:
        f.write("name: bench\nversion: 0.1.0\n")

    methods = METHODS[:1] + (["alt"] if a.alt_bin else []) + METHODS[1:]
    results = {"rows": a.rows, "rounds": a.rounds, "rtt_ms": a.rtt, "dialects": {}}
    for name in [x for x in a.dialects.split(",") if x]:
        if a.rtt > 0 and name == "sqlite":
            continue
        cls = DIALECTS[name]
        admin = a.pg_url if name == "postgres" else a.mysql_url
        d = cls(admin, a.db, a.rows, a.work)
        proxy = None
        if a.rtt > 0:
            proxy = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "latency_proxy.py"), "--listen-port", "0",
                 "--target", "127.0.0.1:%d" % (d.server_port() or
                                               (5432 if name == "postgres" else 3306)),
                 "--rtt-ms", str(a.rtt)], stdout=subprocess.PIPE)
            d.proxy_port = int(proxy.stdout.readline())
        try:
            d.create()
            res = {"title": d.title, "version": d.version(),
                   "runs": {m: [] for m in methods}, "probe": {}}
            for rnd in range(a.rounds):
                for m in (methods if rnd % 2 == 0 else methods[::-1]):
                    out = run_one(d, m, a, project)
                    res["runs"][m].append(out)
                    log("%s round %d/%d %-6s %7.2f s%s (populate %.1f s)"
                        % (d.title, rnd + 1, a.rounds, m, out["wall"],
                           "" if out.get("until_purged") is None
                           else ", purged after %.2f s" % out["until_purged"], out["populate_s"]))
            for m in methods:
                out = run_one(d, m, a, project, probe=True)
                res["probe"][m] = out
                log("%s probe  %-6s %7.2f s  worst app wait %.3f s, longest statement %s"
                    % (d.title, m, out["wall"], out["probe_max_s"] or -1,
                       "%.3f s" % out["longest_statement_s"]
                       if out.get("longest_statement_s") is not None else "n/a"))
            res["median"] = {m: median([x["wall"] for x in res["runs"][m]]) for m in methods}
            results["dialects"][name] = res
        finally:
            if proxy:
                proxy.terminate()
                proxy.wait(timeout=30)
            d.drop()
    write_json(a.out, results)


if __name__ == "__main__":
    main()
