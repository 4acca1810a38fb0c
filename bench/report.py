#!/usr/bin/env python3
# Turns the JSON written by redis_bench.py, sql_bench.py and setup_bench.py into the Markdown
# report bench/results.md: the machine, one table per part, every figure also as a ratio to
# its reference in the same run, and the targets marked met or not. Prints it too.
# Usage: report.py --work DIR --out FILE --mode default|quick|smoke --binary TEXT
#                  --load-before "a b c" --load-after "a b c"

import argparse
import datetime
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import median, read_json  # noqa: E402

# The targets of issue 5.
T_SERVER = 1.15      # azu-session wall / server main-thread busy time, at most
T_SHELL = 5.0        # shell idiom wall / azu-session wall, at least
T_PING_MS = 10.0     # worst PING latency while azu-session runs, under
T_RSS_MB = 4.0       # peak RSS at N minus at N/10, at most (MB)
T_SQL = 1.3          # azu-session / single DELETE, at most
T_STATEMENT_S = 1.0  # longest single statement of azu-session, at most ("about a second")
# issue 23: a full PostgreSQL clear that truncates, against one DELETE, at most (by rows)
T_TRUNCATE = {1_000_000: 0.3, 10_000_000: 0.1}
T_APP_WAIT_S = 0.15  # the application's worst wait during a PostgreSQL/MariaDB clear, at most
# Issue 17: azu-session wall / server main-thread CPU at each round trip (ms), at most.
T_RTT = {0.25: 1.15, 1.0: 1.25, 5.0: 1.6}
# Issue 21: a 10 MB initializer read "well under a second" (process start included).
T_INIT_S = 1.0


def s(x):
    """Seconds, readably."""
    if x is None:
        return "n/a"
    return "%.2f s" % x if x >= 1 else "%.0f ms" % (x * 1000) if x >= 0.01 else "%.1f ms" % (
        x * 1000)


def ms(x):
    return "n/a" if x is None else "%.1f ms" % x


def mb(kib):
    return "%.1f MB" % (kib / 1024.0)


def met(ok):
    return "**met**" if ok else "**not met**"


def n(x):
    return "{:,}".format(x)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    distro = "unknown"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for ln in f:
                if ln.startswith("PRETTY_NAME="):
                    distro = ln.split("=", 1)[1].strip().strip('"')
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem": "%.1f GiB" % (mem_kib / 1048576.0),
            "kernel": platform.release(), "distro": distro}


def redis_section(r, out, alt_desc):
    N = r["keys"]
    runs, lat = r["runs"], r["latency"]
    med = {m: median([x["wall"] for x in runs[m]]) for m in runs}
    cpu = {m: median([x["server_cpu"] for x in runs[m]]) for m in runs}
    azu = med["azu"]
    # The floor: per round, the server's main-thread CPU during that azu-session run.
    ratios = [x["wall"] / x["server_cpu"] for x in runs["azu"] if x["server_cpu"] > 0]
    floor_ratio = median(ratios)
    rss_big = max(x["rss_kib"] for x in runs["azu"])
    rss_small = max(r["rss_small_kib"])

    def cmds(m):
        parts = []
        cu = runs[m][len(runs[m]) // 2]["cmd_usec"]  # the median-ish round's breakdown
        for name, (calls, usec) in sorted(cu.items(), key=lambda kv: -kv[1][1]):
            if name == "ping" or usec < 1000 and calls < 10:
                continue
            parts.append("%s %s (%s calls)" % (name.upper().replace("|", " "), s(usec / 1e6),
                                                  n(calls)))
        return ", ".join(parts[:3]) or "—"

    def ping(m):
        x = lat.get(m, {})
        return "%s / %s" % (ms(x.get("ping_max_ms")), ms(x.get("ping_p99_ms")))

    def longest(m):
        x = lat.get(m, {})
        if not x.get("longest_cmd"):
            return "< 1 ms"
        return "%s %s" % (x["longest_cmd"], ms(x["longest_cmd_ms"]))

    def sched(m):
        k = lambda f: median([x[f] for x in runs[m]])  # noqa: E731
        return "%s / %s / %s" % (s(k("sched_on_cpu")), s(k("sched_waiting_cpu")),
                                 s(max(0.0, k("sched_idle"))))

    rows = [
        ("azu", "`azu-session session:clear --force`"),
        ("alt", "the same, alternative build (see above)"),
        ("stats", "`azu-session session:stats` (read only: reference for its own latency)"),
        ("shell", "`redis-cli --scan --pattern '%s*' \\| xargs -n 1000 redis-cli unlink`"
         % r["prefix"]),
        ("keysdel", "KEYS, then one DEL per key (the Azu CLI's algorithm; `keys_del.py`)"),
        ("flushdb", "FLUSHDB (reference only: it deletes the %s other keys too)" % n(N)),
    ]
    out.append("## Redis: %s session keys among %s other keys\n" % (n(N), n(N)))
    out.append("Median of %d rounds (order rotating), each on the same data restored from an RDB "
               "file (%s in memory). *Server CPU*: the main thread's user+system time "
               "(`INFO cpu`). *Server thread*: its time on a CPU / runnable but waiting for a "
               "CPU / idle waiting for a command (`/proc/<pid>/task/<pid>/schedstat`). *In "
               "commands*: `INFO commandstats`. *Latency*: a separate run of each method with "
               "another client sending a PING every millisecond (%s pings while azu-session "
               "ran), and the longest single command in the server's slow log meanwhile; "
               "azu-session's is measured in every round and the table shows the round with "
               "the median worst PING (all rounds below).\n"
               % (r["rounds"], r["info"]["used_memory_human"], n(lat["azu"]["pings"])))
    out.append("| method | wall (median) | × azu-session | server CPU | server thread: on CPU "
               "/ waiting for CPU / idle | in commands | PING max / p99 | longest command |")
    out.append("|---|---:|---:|---:|---:|---|---:|---:|")
    rows = [(m, label) for m, label in rows if m in runs]
    for m, label in rows:
        out.append("| %s | %s | %.2f× | %s | %s | %s | %s | %s |" % (
            label, s(med[m]), med[m] / azu, s(cpu[m]), sched(m), cmds(m), ping(m), longest(m)))
    out.append("")
    out.append("All runs (wall): " + "; ".join(
        "%s %s" % (m, ", ".join(s(x["wall"]) for x in runs[m])) for m, _ in rows) + ".\n")
    lr = r["latency_rounds"]

    def worst(m):
        return ", ".join("%s / %s" % (ms(x["ping_max_ms"]), ms(x["ping_p99_ms"])) for x in lr[m])

    out.append("PING max / p99 in each round: " + "; ".join(
        "%s %s" % (label, worst(m)) for m, label in
        [("azu", "azu-session"), ("alt", "alternative build"), ("stats", "session:stats"),
         ("idle", "nothing running (2 s, the machine's floor)")] if lr.get(m)) + ".\n")
    out.append("azu-session peak RSS (GNU time `%%M`): %s at %s keys, %s at %s keys.\n"
               % (mb(rss_small), n(r["small_keys"]), mb(rss_big), n(N)))
    if "alt" in runs:
        alt_ratio = median([x["wall"] / x["server_cpu"] for x in runs["alt"]])
        out.append("Alternative build: %.3f× the server's busy time, %.1f× faster than the "
                   "shell idiom, worst PING %s, peak RSS %s.\n"
                   % (alt_ratio, med["shell"] / med["alt"], ms(lat["alt"]["ping_max_ms"]),
                      mb(max(x["rss_kib"] for x in runs["alt"]))))
    targets = [
        ("azu-session within %.2f× of the server's busy time" % T_SERVER,
         "%.3f× (wall / server main-thread CPU, median of rounds); the server sat idle "
         "waiting for azu-session %.1f%% of the wall time, and waited for a CPU %.1f%%"
         % (floor_ratio, 100 * median([max(0.0, x["sched_idle"]) / x["wall"]
                                       for x in runs["azu"]]),
            100 * median([x["sched_waiting_cpu"] / x["wall"] for x in runs["azu"]])),
         floor_ratio <= T_SERVER),
        ("at least %.0f× faster than the shell idiom" % T_SHELL,
         "%.1f×" % (med["shell"] / azu), med["shell"] / azu >= T_SHELL),
        ("worst PING latency under %.0f ms while azu-session runs" % T_PING_MS,
         "%s (median of the rounds' worst: %s; with nothing running at most %s)"
         % (ms(lat["azu"]["ping_max_ms"]), ", ".join(ms(x["ping_max_ms"]) for x in lr["azu"]),
            ms(max(x["ping_max_ms"] or 0 for x in lr["idle"]))),
         (lat["azu"]["ping_max_ms"] or 1e9) < T_PING_MS),
        ("peak memory the same at %s and %s keys (within %.0f MB)"
         % (n(r["small_keys"]), n(N), T_RSS_MB),
         "%s vs %s" % (mb(rss_small), mb(rss_big)), (rss_big - rss_small) / 1024 <= T_RSS_MB),
    ]
    if lat.get("stats"):
        targets.append((
            "worst PING latency under %.0f ms while session:stats runs" % T_PING_MS,
            "%s (median of the rounds' worst: %s)"
            % (ms(lat["stats"]["ping_max_ms"]),
               ", ".join(ms(x["ping_max_ms"]) for x in lr.get("stats", []))),
            (lat["stats"]["ping_max_ms"] or 1e9) < T_PING_MS))
    return targets


def rtt_section(r, out, alt_desc=None):
    """Issue 17: the Redis clear by round trip (bench/run --rtt)."""
    N = r["keys"]
    out.append("## Redis clear by round trip: %s session keys among %s other keys\n"
               % (n(N), n(N)))
    out.append("azu-session and the shell idiom (`redis-cli --scan --pattern '%s*' \\| xargs "
               "-n 1000 redis-cli unlink`) connect through `bench/latency_proxy.py`, which "
               "delays each direction by half the round trip (at 0 ms they connect directly). "
               "*Measured*: median PING round trip of a client through that path. *Floor*: the "
               "server's main-thread CPU during the azu-session run; *ratio* = azu-session wall "
               "/ floor (median of %d round(s), order rotating, data restored from an RDB file "
               "before each run). *PING max / p99*: a separate run of each method with another "
               "client sending a PING every millisecond straight to the server (not through "
               "the proxy: it shows how long the server keeps other clients waiting); *idle*: the "
               "same pinger for 2 s with nothing running, the machine's own floor.\n"
               % (r["prefix"], r["rounds"]))
    out.append("| rtt | measured | azu-session wall | server floor | ratio | target | "
               "idiom wall | idiom / azu | PING max / p99 (azu) | PING max / p99 (idiom) | "
               "PING max / p99 (idle) |")
    out.append("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    targets = []
    for x in r["sweep"]:
        runs, lat, rtt = x["runs"], x["latency"], x["rtt_ms"]
        azu = median([y["wall"] for y in runs["azu"]])
        floor = median([y["server_cpu"] for y in runs["azu"]])
        ratio = median([y["wall"] / y["server_cpu"] for y in runs["azu"] if y["server_cpu"] > 0])
        shell = median([y["wall"] for y in runs["shell"]]) if runs.get("shell") else None
        t = T_RTT.get(rtt)
        pm = lambda m: "%s / %s" % (ms(lat[m].get("ping_max_ms")),  # noqa: E731
                                    ms(lat[m].get("ping_p99_ms"))) if m in lat else "not run"
        out.append("| %g ms | %.2f ms | %s | %s | %.2f× | %s | %s | %s | %s | %s | %s |" % (
            rtt, x["client_rtt_ms"], s(azu), s(floor), ratio,
            "≤ %.2f× %s" % (t, "met" if ratio <= t else "not met") if t else "—",
            s(shell) if shell else "not run", "%.1f×" % (shell / azu) if shell else "—",
            pm("azu"), pm("shell"), pm("idle")))
        if t:
            targets.append(("Redis clear within %.2f× of the server floor at %g ms round trip"
                            % (t, rtt), "%.2f×" % ratio, ratio <= t))
        targets.append(("worst PING under %.0f ms while azu-session runs at %g ms round trip"
                        % (T_PING_MS, rtt), ms(lat["azu"].get("ping_max_ms")),
                        (lat["azu"].get("ping_max_ms") or 1e9) < T_PING_MS))
    out.append("")
    if any(x["runs"].get("alt") for x in r["sweep"]):
        out.append("With `--alt-bin` (%s), side by side in the same rounds:\n" % alt_desc)
        out.append("| rtt | azu-session wall | ratio | alt wall | alt ratio | PING max / p99 (alt) |")
        out.append("|---:|---:|---:|---:|---:|---:|")
        for x in r["sweep"]:
            runs, lat = x["runs"], x["latency"]
            if not runs.get("alt"):
                continue
            cols = []
            for m in ("azu", "alt"):
                cols.append(s(median([y["wall"] for y in runs[m]])))
                cols.append("%.2f×" % median([y["wall"] / y["server_cpu"] for y in runs[m]
                                              if y["server_cpu"] > 0]))
            cols.append("%s / %s" % (ms(lat["alt"].get("ping_max_ms")),
                                     ms(lat["alt"].get("ping_p99_ms"))) if "alt" in lat
                        else "not run")
            out.append("| %g ms | %s |" % (x["rtt_ms"], " | ".join(cols)))
        out.append("")
    out.append("All runs (wall): " + "; ".join(
        "%g ms: azu %s, idiom %s" % (x["rtt_ms"], ", ".join(s(y["wall"]) for y in x["runs"]["azu"]),
                                     ", ".join(s(y["wall"]) for y in x["runs"].get("shell", []))
                                     or "not run")
        for x in r["sweep"]) + ".\n")
    return targets


def sql_section(q, out, alt_desc):
    out.append("## SQL: %s rows in the sessions table\n" % n(q["rows"]))
    if q.get("rtt_ms"):
        out.append("azu-session and the one `DELETE` connect through `bench/latency_proxy.py` "
                   "with a %g ms round trip (SQLite, with no network, is left out).\n"
                   % q["rtt_ms"])
    out.append("Median of %d rounds (order alternating), each on a freshly built table with its "
               "indexes. *App's worst wait*: a separate run of each method with a probe doing "
               "INSERT, UPDATE of a random existing row, DELETE every 50 ms; *longest "
               "statement*: the longest-running DELETE seen in `pg_stat_activity` / "
               "`PROCESSLIST` (sampled every 10 ms). *With the app writing*: the wall time of "
               "that run, where other transactions write during the clear (on PostgreSQL the "
               "sweep after the page walk then runs).\n" % q["rounds"])
    out.append("| database | azu-session | one `DELETE FROM sessions` | ratio "
               "| azu-session's longest statement | app's worst wait: azu-session / DELETE "
               "| with the app writing: azu-session / DELETE |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    targets = []
    order = [d for d in ("postgres", "mysql", "sqlite") if d in q["dialects"]]
    for d in order:
        x = q["dialects"][d]
        med = x["median"]
        ratio = med["azu"] / med["delete"]
        pa, pd = x["probe"]["azu"], x["probe"]["delete"]
        longest = pa.get("longest_statement_s")
        out.append("| %s %s | %s | %s | %.2f× | %s | %s / %s | %s / %s (%.2f×) |" % (
            x["title"], x["version"].split()[0].split("-")[0], s(med["azu"]), s(med["delete"]),
            ratio, s(longest) if longest is not None else "n/a (no server)",
            s(pa["probe_max_s"]), s(pd["probe_max_s"]), s(pa["wall"]), s(pd["wall"]),
            pa["wall"] / pd["wall"]))
        if "alt" in med:
            pt = x["probe"]["alt"]
            pl = pt.get("longest_statement_s")
            out.append("| %s, alternative build | %s | | %.2f× | %s | %s / | %s (%.2f×) |" % (
                x["title"], s(med["alt"]), med["alt"] / med["delete"],
                s(pl) if pl is not None else "n/a (no server)",
                s(pt["probe_max_s"]), s(pt["wall"]), pt["wall"] / pd["wall"]))
        targets.append(("%s: within %.1f× of one DELETE" % (x["title"], T_SQL),
                        "%.3f×" % ratio, ratio <= T_SQL))
        if d == "postgres" and q["rows"] in T_TRUNCATE:
            t = T_TRUNCATE[q["rows"]]
            targets.append(("%s: a full clear (truncate) at most %.1f× one DELETE at %s rows"
                            % (x["title"], t, n(q["rows"])), "%.3f×" % ratio, ratio <= t))
        if d in ("postgres", "mysql"):
            wait = pa["probe_max_s"]
            targets.append(("%s: the application's worst wait during the clear at most %.0f ms"
                            % (x["title"], T_APP_WAIT_S * 1000), s(wait),
                            wait is not None and wait <= T_APP_WAIT_S))
        held = longest if longest is not None else pa["probe_max_s"]
        what = "longest statement" if longest is not None else "app's worst wait"
        targets.append(("%s: no statement holds the table over ~%.0f s" % (x["title"],
                                                                        T_STATEMENT_S),
                        "%s %s" % (what, s(held)), held is not None and held <= T_STATEMENT_S))
    out.append("")
    notes = []
    for d in order:
        x = q["dialects"][d]
        runs = x["runs"]
        notes.append("%s: %s" % (x["title"], "; ".join(
            "%s %s" % ({"azu": "azu-session", "alt": "alternative build",
                        "delete": "DELETE"}[m], ", ".join(s(r["wall"]) for r in runs[m]))
            for m in ("azu", "alt", "delete") if m in runs)))
        if d == "mysql":
            up = {m: [r.get("until_purged") for r in runs[m]] for m in runs}
            if all(v is not None for vs in up.values() for v in vs):
                notes.append("MariaDB until InnoDB's purge of the deleted rows was done (its "
                             "history list empty), medians: " + ", ".join(
                                 "%s %s" % ({"azu": "azu-session", "alt": "alternative build",
                                             "delete": "DELETE"}[m], s(median(up[m])))
                                 for m in ("azu", "alt", "delete") if m in up))
        for m in [m for m in ("azu", "alt", "delete") if m in x["probe"]]:
            p = x["probe"][m]
            if p.get("rows_left"):
                notes.append("**%s %s left %d rows** with the probe writing concurrently"
                             % (x["title"], m, p["rows_left"]))
            if p.get("app_errors"):
                notes.append("the application got %d error(s) from the server during %s's "
                             "run, e.g. `%s`" % (len(p["app_errors"]),
                                                 {"azu": "azu-session", "alt": "the alternative "
                                                  "build", "delete": "the DELETE"}[m],
                                                 p["app_errors"][0][:120]))
            if p.get("probe_errors"):
                notes.append("%s %s probe errors: %s" % (x["title"], m,
                                                         "; ".join(p["probe_errors"])[:300]))
    out.append("All runs (wall): " + ". ".join(notes) + ".\n")
    return targets


def setup_section(st, out):
    su, ve = st["setup"]["median"], st["version"]["median"]
    out.append("## session:setup\n")
    out.append("%d runs each, alternating, each setup on a fresh copy of `examples/blog`.\n"
               % st["runs"])
    out.append("| command | median | p90 | × floor |")
    out.append("|---|---:|---:|---:|")
    out.append("| `azu-session session:setup --force` | %s | %s | %.1f× |"
               % (s(su), s(st["setup"]["p90"]), su / ve))
    out.append("| `azu-session --version` (the floor: starting the binary) | %s | %s | 1.0× |"
               % (s(ve), s(st["version"]["p90"])))
    out.append("")


def initializer_section(it, out):
    """Reading src/initializers/session.cr; returns the targets."""
    ve = it["version"]
    out.append("## Reading the initializer\n")
    out.append("`azu-session session:clear --dry-run` on a generated initializer of %.1f MB, "
               "median of %d: *mixed* is full of stores, interpolated strings, heredocs, "
               "comments, ternaries and `AZU_ENV` branches (memory store in development); *open* "
               "has a store per line under a distinct condition it cannot evaluate, and the run "
               "ends in the error listing them all. Against reading the same file with `wc -l` "
               "and with Crystal's own parser (`crystal tool format --check`).\n"
               % (it["mb"], it["runs"]))
    out.append("| initializer | stores | `clear --dry-run` | minus `--version` | `wc -l` | "
               "× `wc -l` | `crystal tool format --check` | × crystal |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in it["rows"]:
        cr = row["crystal"]
        out.append("| %s | %s | %s | %s | %s | %.0f× | %s | %s |" % (
            row["name"], n(row["stores"]), s(row["azu"]), s(row["azu"] - ve), s(row["wc"]),
            row["azu"] / row["wc"], s(cr), "n/a" if cr is None else "%.2f×" % (row["azu"] / cr)))
    out.append("| `azu-session --version` (starting the binary) | | %s | | | | | |" % s(ve))
    out.append("")
    # The target is the issue's: an initializer as apps write them (the open row, whose run
    # lists every condition in its error, is shown for its linearity, not held to it).
    mixed = next(row["azu"] for row in it["rows"] if row["name"] == "mixed")
    return [("Initializer: %g MB (mixed) read in well under a second" % it["mb"], s(mixed),
             mixed < T_INIT_S)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", default="default")
    ap.add_argument("--binary", default="")
    ap.add_argument("--alt-binary", default="")
    ap.add_argument("--niceness", default="0")
    ap.add_argument("--load-before", default="")
    ap.add_argument("--load-after", default="")
    ap.add_argument("--started", default="")
    a = ap.parse_args()

    m = machine()
    path = lambda f: os.path.join(a.work, f)  # noqa: E731
    r = read_json(path("redis.json")) if os.path.exists(path("redis.json")) else None
    q = read_json(path("sql.json")) if os.path.exists(path("sql.json")) else None
    st = read_json(path("setup.json")) if os.path.exists(path("setup.json")) else None
    rr = read_json(path("redis_rtt.json")) if os.path.exists(path("redis_rtt.json")) else None
    it = read_json(path("initializer.json")) if os.path.exists(path("initializer.json")) else None

    versions = []
    if r or rr:
        versions.append("Redis %s" % (r or rr)["info"]["redis_version"])
    if q:
        for d in ("postgres", "mysql", "sqlite"):
            if d in q["dialects"]:
                x = q["dialects"][d]
                versions.append("%s %s" % (x["title"], x["version"].split()[0]))

    out = ["# azu-session benchmark results\n"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out.append("- Run: %s, `bench/run%s` (%s)" % (
        a.started or now, "" if a.mode == "default" else " --" + a.mode,
        "%s sizes" % a.mode))
    out.append("- Machine: %d CPUs (%s), %s RAM, Linux %s, %s" % (
        m["nproc"], m["cpu"], m["mem"], m["kernel"], m["distro"]))
    out.append("- Servers: %s" % ", ".join(versions))
    out.append("- Binary: %s" % a.binary)
    if a.alt_binary:
        out.append("- Alternative build, measured side by side: %s" % a.alt_binary)
    out.append("- Load average (1, 5, 15 min) before: %s; after: %s; the bench ran at nice %s"
               % (a.load_before, a.load_after, a.niceness))
    out.append("")
    targets = []
    if r:
        targets += redis_section(r, out, a.alt_binary)
    if rr:
        targets += rtt_section(rr, out, a.alt_binary)
    if q:
        targets += sql_section(q, out, a.alt_binary)
    if st:
        setup_section(st, out)
    if it:
        targets += initializer_section(it, out)
    if targets:
        out.append("## Targets\n")
        out.append("| target | measured | |")
        out.append("|---|---|---|")
        for name, value, ok in targets:
            out.append("| %s | %s | %s |" % (name, value, met(ok)))
        out.append("")
    text = "\n".join(out)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
