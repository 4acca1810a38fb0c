#!/usr/bin/env python3
# The "application" of the SQL benchmark: while a clear runs, every 50 ms it does what a web
# app does to its sessions table — INSERT a new session, UPDATE (touch) an existing one picked
# at random among the original ids 1..N, DELETE its own new session — each statement on its
# own (autocommit), and records how long each such cycle took: a cycle that waits on a lock
# held by the clear shows it. For PostgreSQL and MariaDB a second connection samples the
# server's list of running statements every 10 ms and keeps the longest-running statement of
# the clear (a DELETE, or a truncate's lock, count or TRUNCATE) other than the probe's own
# (pg_stat_activity / information_schema.PROCESSLIST.TIME_MS): the longest single statement of
# the clear, to within the sampling period.
# PostgreSQL and MariaDB are reached through their own command-line clients (psql, mariadb)
# kept open on a pipe; SQLite through Python's sqlite3 module. Stops on SIGTERM or after
# --max-seconds and writes JSON to --out: {"cycles": [[start_monotonic_ns, seconds], ...],
# "longest_statement_s": ..., "app_errors": [errors the server gave the application, e.g.
# deadlocks; it carries on as an application would], "errors": [failures of the probe]}.
# Usage: sql_probe.py --dialect postgres|mysql|sqlite --target URL_OR_FILE --ids N --out FILE

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import write_json  # noqa: E402

PERIOD = 0.050
SAMPLE = 0.010


def mysql_argv(url, db):
    """The mariadb client's arguments for mysql://user[:pw]@127.0.0.1[:port]."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    argv = ["mariadb", "-h", u.hostname or "127.0.0.1", "-P", str(u.port or 3306),
            "-u", u.username or "root", "--protocol=TCP"]
    if u.password:
        argv.append("-p" + u.password)
    return argv + [db]


class CliSession:
    """A psql or mariadb client kept open on a pipe: send statements, wait for a marker line."""

    def __init__(self, dialect, target, db, appname):
        env = dict(os.environ)
        # The client goes on after an error (a deadlock, say), as an application would retry;
        # the errors are collected from its stderr and reported.
        if dialect == "postgres":
            env["PGAPPNAME"] = appname
            argv = ["psql", "-X", "-q", "-A", "-t", target]
            self.marker = "\\echo {}\n"
        else:
            argv = mysql_argv(target, db)[:-1] + ["-N", "-B", "-n", "--force", db]
            self.marker = "SELECT '{}';\n"
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, bufsize=0)
        self.n = 0
        self.errors = []
        threading.Thread(target=self._stderr, daemon=True).start()

    def _stderr(self):
        for ln in self.p.stderr:  # ends when the client exits
            ln = ln.decode(errors="replace").strip()
            if "ERROR" in ln:
                self.errors.append(ln[:200])

    def run(self, sql):
        """Run sql (statements ending in ';'), return the output lines before the marker."""
        self.n += 1
        mark = "@@done %d" % self.n
        self.p.stdin.write((sql + "\n" + self.marker.format(mark)).encode())
        lines = []
        for _ in range(100000):  # bounded; a statement's output is a few lines
            ln = self.p.stdout.readline()
            if not ln:
                raise RuntimeError("the client exited: %s" % "; ".join(self.errors[-3:]))
            ln = ln.decode().rstrip("\n")
            if ln == mark:
                return lines
            lines.append(ln)
        raise RuntimeError("no marker")

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()


def statements(dialect, k, victim):
    sid = "probe-%d-%d" % (os.getpid(), k)
    if dialect == "postgres":
        now, later = "localtimestamp", "localtimestamp + interval '1 hour'"
    elif dialect == "mysql":
        now, later = "UTC_TIMESTAMP()", "UTC_TIMESTAMP() + INTERVAL 1 HOUR"
    else:
        now, later = "datetime('now')", "datetime('now', '+1 hour')"
    return [
        "INSERT INTO sessions (session_id, data, expires_at, created_at, updated_at) "
        "VALUES ('%s', '{}', %s, %s, %s);" % (sid, later, now, now),
        "UPDATE sessions SET updated_at = %s WHERE id = %d;" % (now, victim),
        "DELETE FROM sessions WHERE session_id = '%s';" % sid,
    ]


def sampler(dialect, target, db, probe_id, stop, result):
    """Keep the longest-running statement of the clear seen (seconds): a DELETE, or the
    truncate's lock, count and TRUNCATE; other than the probe's and its own."""
    s = CliSession(dialect, target, db, "azs_sampler")
    if dialect == "postgres":
        q = ("SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0) "
             "FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
             "AND application_name NOT IN ('azs_probe', 'azs_sampler') "
             "AND (query ILIKE 'delete%' OR query ILIKE 'truncate%' "
             "OR query ILIKE 'begin; set local lock_timeout%' "
             "OR query ILIKE 'select count(*) from%');")
    else:
        q = ("SELECT COALESCE(MAX(TIME_MS), 0) / 1000 FROM information_schema.PROCESSLIST "
             "WHERE DB = '%s' AND COMMAND IN ('Query', 'Execute') "
             "AND (INFO LIKE 'DELETE%%' OR INFO LIKE 'TRUNCATE%%' OR INFO LIKE 'LOCK TABLES%%' "
             "OR INFO LIKE 'SELECT COUNT(*) FROM%%') "
             "AND ID <> CONNECTION_ID() AND ID <> %d;" % (db, probe_id))
    best = 0.0
    try:
        while not stop.is_set():
            out = s.run(q)
            if out:
                best = max(best, float(out[0] or 0))
            stop.wait(SAMPLE)
    except Exception as e:  # report, don't hide: the driver prints it
        result.setdefault("errors", []).append("sampler: %s" % e)
    finally:
        s.close()
    result["longest_statement_s"] = best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dialect", choices=["postgres", "mysql", "sqlite"], required=True)
    ap.add_argument("--target", required=True, help="database URL, or the SQLite file")
    ap.add_argument("--db", default="", help="database name (MariaDB)")
    ap.add_argument("--ids", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-seconds", type=float, default=1200)
    a = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    rng = random.Random(42)
    result = {"cycles": [], "errors": []}

    if a.dialect == "sqlite":
        conn = sqlite3.connect(a.target, timeout=600, isolation_level=None)
        run = lambda sql: conn.execute(sql)  # noqa: E731
        th = None
    else:
        cli = CliSession(a.dialect, a.target, a.db, "azs_probe")
        probe_id = 0
        if a.dialect == "mysql":
            probe_id = int(cli.run("SELECT CONNECTION_ID();")[0])
        run = cli.run
        th = threading.Thread(target=sampler,
                              args=(a.dialect, a.target, a.db, probe_id, stop, result))
        th.start()

    print("ready", flush=True)
    deadline = time.monotonic() + a.max_seconds
    k = 0
    for k in range(int(a.max_seconds / PERIOD) + 1):  # bounded by --max-seconds
        if stop.is_set() or time.monotonic() > deadline:
            break
        t0 = time.monotonic_ns()
        try:
            for sql in statements(a.dialect, k, rng.randint(1, a.ids)):
                run(sql)
        except Exception as e:
            result["errors"].append("probe: %s" % e)
            break
        took = (time.monotonic_ns() - t0) / 1e9
        result["cycles"].append([t0, took])
        stop.wait(max(0.0, PERIOD - took))
    stop.set()
    if th:
        th.join(timeout=60)
        cli.close()
        # Errors the application got from the server (deadlocks, lock wait timeouts).
        result["app_errors"] = cli.errors
    write_json(a.out, result)


if __name__ == "__main__":
    main()
