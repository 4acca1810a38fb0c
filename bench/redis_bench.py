#!/usr/bin/env python3
# The Redis half of the benchmark, driven by bench/run against a private redis-server it
# started on a loopback port. It builds the data set (N session keys among N other keys,
# see gen_resp.py), saves it as an RDB file, and before every measured run restores exactly
# that data with DEBUG RELOAD NOSAVE. Then, in rounds whose order rotates:
#   azu      azu-session session:clear --force (the binary under test)
#   stats    azu-session session:stats (read only: counts, TTL spread, sampled memory); its
#            JSON must count every session key and the data must be unchanged
#   shell    redis-cli --scan --pattern '<prefix>*' | xargs -n 1000 redis-cli unlink
#   keysdel  KEYS <prefix>*, then one DEL per key (the Azu CLI's algorithm; keys_del.py)
#   flushdb  FLUSHDB (reference only: it deletes the other keys too)
#   alt      with --alt-bin: another azu-session build, to measure a proposed change side by side
# For each run: wall time, the server main thread's CPU time (INFO cpu), its time on a CPU /
# runnable but waiting for one / idle (from /proc/<pid>/task/<pid>/schedstat: idle is what
# the client left it waiting for a command), and the time inside commands (INFO commandstats,
# after CONFIG RESETSTAT); for azu also its peak RSS (GNU time). Every run is checked: all
# session keys gone, every other key still there. Each round also measures azu's peak RSS on
# a data set 10x smaller, the pinger alone (the machine's latency floor), and azu (and alt)
# once more with pinger.py sending a PING every millisecond and the slow log recording every
# command over 1 ms (the longest single command); the other methods get one such run at the
# end. Writes everything to --out as JSON.
# With --rtt 0,0.25,1,5 (issue 17) it measures instead, at each round trip, azu and shell
# connecting through latency_proxy.py (see rtt_sweep).

import argparse
import array
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (LOOPBACK, Resp, commandstats, env_with, log, main_thread_cpu,  # noqa: E402
                      median, percentile, timed, write_json)

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ["azu", "stats", "shell", "keysdel", "flushdb"]
ROUND_LATENCY = ["azu", "alt", "stats"]  # measured with the pinger in every round, not once


class Bench:
    def __init__(self, a):
        self.a = a
        self.port = a.port
        # Where the clients measured connect: the server itself, or a latency proxy in front
        # of it (--rtt). The bench's own connection and the pinger always go to the server.
        self.client_port = a.port
        self.r = Resp(a.port, timeout=600)
        self.prefix = a.prefix
        self.work = a.work
        self.project = os.path.join(a.work, "project")
        os.makedirs(self.project, exist_ok=True)
        # A project with no initializer: azu-session's default prefix is then `bench:session:`.
        with open(os.path.join(self.project, "shard.yml"), "w") as f:
            f.write("name: bench\nversion: 0.1.0\n")
        self.loaded = {}  # data set name -> number of session keys
        self.tid = int(self.r.info("server")["process_id"])  # the main thread's id = the pid

    # ---- data ---------------------------------------------------------------------------

    def build(self, name, n):
        """Populate n session keys + n others through redis-cli --pipe; save as <name>.rdb."""
        resp = os.path.join(self.work, "%s.resp" % name)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(HERE, "gen_resp.py"), "--sessions", str(n),
                        "--prefix", self.prefix, "--out", resp], check=True)
        self.r.call("FLUSHALL")
        with open(resp, "rb") as f:
            p = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(self.port), "--pipe"],
                               stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0 or b"errors: 0" not in p.stdout:
            raise SystemExit("redis-cli --pipe failed: %s" % p.stdout.decode()[-500:])
        os.unlink(resp)
        if self.r.call("DBSIZE") != 2 * n:
            raise SystemExit("populate: expected %d keys" % (2 * n))
        self.r.call("CONFIG", "SET", "dbfilename", "%s.rdb" % name)
        self.r.call("SAVE")
        self.loaded[name] = n
        log("redis: data set %s (%d session keys + %d others) built in %.1f s"
            % (name, n, n, time.perf_counter() - t0))

    def restore(self, name):
        """Replace the whole dataset with <name>.rdb, exactly as it was saved."""
        self.r.call("CONFIG", "SET", "dbfilename", "%s.rdb" % name)
        self.r.call("DEBUG", "RELOAD", "NOSAVE")
        n = self.loaded[name]
        if self.r.call("DBSIZE") != 2 * n:
            raise SystemExit("restore %s: wrong key count" % name)
        time.sleep(0.2)  # let the reload's own work (and the page cache) settle
        return n

    def check(self, method, n):
        """The session keys are gone and all n others remain (FLUSHDB: nothing remains)."""
        size = self.r.call("DBSIZE")
        if method == "flushdb":
            ok = size == 0
        elif method == "stats":
            ok = size == 2 * n  # read only: every key still there
        else:
            near = (self.prefix[:-1] + "X0").encode()
            ok = (size == n and self.r.call("EXISTS", near) == 1
                  and self.r.call("EXISTS", "bench:cache:1") == 1
                  and not self.r.call("SCAN", 0, "MATCH", self.prefix + "*", "COUNT", 100000)[1])
        if not ok:
            raise SystemExit("%s left the data wrong: DBSIZE %d (expected %d)"
                             % (method, size, 0 if method == "flushdb" else n))

    def schedstat(self):
        """The server main thread's (ns on CPU, ns runnable waiting for a CPU) from
        /proc/<pid>/task/<pid>/schedstat: what is left of the wall time, it slept."""
        with open("/proc/%d/task/%d/schedstat" % (self.tid, self.tid)) as f:
            on_cpu, run_delay, _ = f.read().split()
        return int(on_cpu), int(run_delay)

    def longest_command(self):
        """The longest command in the slow log (set to log everything over 1 ms), except the
        bench's own INFO/CONFIG/DEBUG/SLOWLOG: (ms, name) or (0, None)."""
        best = (0.0, None)
        for entry in self.r.call("SLOWLOG", "GET", 1000) or []:
            usec, args = entry[2], entry[3]
            name = args[0].decode().upper() if args else "?"
            if name in ("INFO", "CONFIG", "DEBUG", "SLOWLOG"):
                continue
            if usec / 1000.0 > best[0]:
                best = (usec / 1000.0, name)
        return best

    # ---- methods ------------------------------------------------------------------------

    def command(self, method):
        port, pat = str(self.client_port), self.prefix + "*"
        if method in ("azu", "alt"):
            return [self.a.bin if method == "azu" else self.a.alt_bin, "session:clear",
                    "--force", "-C", self.project, "--prefix", self.prefix]
        if method == "shell":
            return ["bash", "-c", "set -o pipefail; redis-cli -h %s -p %s --scan --pattern '%s'"
                    " | xargs -n 1000 redis-cli -h %s -p %s unlink > /dev/null"
                    % (LOOPBACK, port, pat, LOOPBACK, port)]
        if method == "keysdel":
            return [sys.executable, os.path.join(HERE, "keys_del.py"), "--port", port,
                    "--pattern", pat]
        if method == "stats":
            return [self.a.bin, "session:stats", "-C", self.project, "--prefix", self.prefix,
                    "--format", "json"]
        if method == "flushdb":
            return ["redis-cli", "-h", LOOPBACK, "-p", port, "FLUSHDB"]
        raise ValueError(method)

    def run(self, method, dataset="big", pinger=False):
        n = self.restore(dataset)
        env = env_with(REDIS_URL="redis://%s:%d" % (LOOPBACK, self.client_port))
        rss_file = (os.path.join(self.work, "rss.txt")
                    if method in ("azu", "alt", "stats") else None)
        stdout = subprocess.PIPE if method == "stats" else subprocess.DEVNULL
        self.r.call("CONFIG", "RESETSTAT")
        cpu0 = main_thread_cpu(self.r)
        ping = None
        if pinger:
            self.r.call("CONFIG", "SET", "slowlog-log-slower-than", "1000")
            self.r.call("CONFIG", "SET", "slowlog-max-len", "1000")
            self.r.call("SLOWLOG", "RESET")
            samples = os.path.join(self.work, "pings.bin")
            ping = subprocess.Popen([sys.executable, os.path.join(HERE, "pinger.py"),
                                     "--port", str(self.port), "--out", samples,
                                     "--max-seconds", "1200"], stdout=subprocess.PIPE)
            ping.stdout.readline()  # "ready"
            time.sleep(0.3)
        sched0 = self.schedstat()
        t0 = time.monotonic_ns()
        wall, rss, report = timed(self.command(method), env=env, rss_file=rss_file,
                                  cwd=self.project, stdout=stdout)
        t1 = time.monotonic_ns()
        sched1 = self.schedstat()
        out = {"wall": wall, "sched_on_cpu": (sched1[0] - sched0[0]) / 1e9,
               "sched_waiting_cpu": (sched1[1] - sched0[1]) / 1e9}
        out["sched_idle"] = wall - out["sched_on_cpu"] - out["sched_waiting_cpu"]
        if ping:
            time.sleep(0.05)
            ping.send_signal(signal.SIGTERM)
            ping.wait(timeout=60)
            out.update(self.latency(samples, t0, t1))
            out["longest_cmd_ms"], out["longest_cmd"] = self.longest_command()
            self.r.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        cpu1 = main_thread_cpu(self.r)
        stats = commandstats(self.r)
        out["server_cpu"] = cpu1 - cpu0
        out["cmd_usec"] = {k: v for k, v in stats.items()
                           if k not in ("info", "config|resetstat")}
        if rss is not None:
            out["rss_kib"] = rss
        self.check(method, n)
        if method == "stats":
            report = json.loads(report)
            if report.get("sessions") != n:
                raise SystemExit("session:stats counted %r session keys, not %d"
                                 % (report.get("sessions"), n))
            out["stats_memory"] = report.get("memory")
        return out

    @staticmethod
    def latency(path, t0, t1):
        a = array.array("q")
        with open(path, "rb") as f:
            a.frombytes(f.read())
        os.unlink(path)
        rtts = [a[i + 1] / 1e6 for i in range(0, len(a), 2) if t0 <= a[i] <= t1]
        return {"pings": len(rtts), "ping_max_ms": max(rtts) if rtts else None,
                "ping_p99_ms": percentile(rtts, 99) if rtts else None}

    def idle_latency(self, seconds=2.0):
        """The pinger with nothing else running: the machine's own floor for latency."""
        samples = os.path.join(self.work, "pings.bin")
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "pinger.py"), "--port",
                              str(self.port), "--out", samples, "--max-seconds", "60"],
                             stdout=subprocess.PIPE)
        p.stdout.readline()
        t0 = time.monotonic_ns()
        time.sleep(seconds)
        t1 = time.monotonic_ns()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        return self.latency(samples, t0, t1)


def pinged(b, m):
    out = b.run(m, pinger=True)
    log("redis latency %-8s %7.2f s  ping max %.2f ms p99 %.2f ms (%d pings)"
        % (m, out["wall"], out["ping_max_ms"] or -1, out["ping_p99_ms"] or -1, out["pings"]))
    return out


def client_rtt(port, n=200):
    """Median and p99 PING round trip (ms) of a fresh client on port: what the round trip
    through the proxy really is, beside the one asked for."""
    r = Resp(port, timeout=60)
    xs = []
    for i in range(n + 20):
        t0 = time.perf_counter()
        if r.call("PING") != "PONG":
            raise SystemExit("client_rtt: bad PING reply")
        if i >= 20:
            xs.append((time.perf_counter() - t0) * 1000)
    r.close()
    return median(xs), percentile(xs, 99)


def rtt_sweep(a):
    """Issue 17: the Redis clear with a round trip between the client and the server.

    For each round trip, azu-session and the `redis-cli --scan | xargs redis-cli unlink` idiom
    connect through latency_proxy.py (at 0 ms they connect directly: the proxy's own cost,
    ~0.1-0.2 ms per round trip in Python, would otherwise be a round trip nobody asked for).
    Walls come from --rounds runs without the pinger (order rotating); then one run of each
    with the pinger. The pinger talks to the server directly, not through the proxy: it
    stands for the other clients, and what the clear does to them is how long the server
    keeps them waiting; through the proxy every PING would carry the asked round trip plus
    the proxy's own jitter on a loaded machine, which hides that."""
    b = Bench(a)
    b.build("big", a.keys)
    res = {"keys": a.keys, "others": a.keys, "rounds": a.rounds, "prefix": a.prefix,
           "sweep": []}
    for rtt in [float(x) for x in a.rtt.split(",")]:
        methods = ["azu"] + (["alt"] if a.alt_bin else []) + (
            ["shell"] if rtt <= a.rtt_idiom_max else [])
        proxy = None
        if rtt > 0:
            proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "latency_proxy.py"),
                                      "--listen-port", "0", "--target",
                                      "%s:%d" % (LOOPBACK, a.port), "--rtt-ms", str(rtt)],
                                     stdout=subprocess.PIPE)
            b.client_port = int(proxy.stdout.readline())
        else:
            b.client_port = a.port
        try:
            med_rtt, p99_rtt = client_rtt(b.client_port)
            log("redis rtt %g ms: PING through the client path median %.3f ms p99 %.3f ms"
                % (rtt, med_rtt, p99_rtt))
            runs = {m: [] for m in methods}
            for rnd in range(a.rounds):
                order = methods[rnd % len(methods):] + methods[:rnd % len(methods)]
                for m in order:
                    out = b.run(m)
                    runs[m].append(out)
                    log("redis rtt %g ms round %d/%d %-6s %7.2f s  server cpu %.2f s"
                        % (rtt, rnd + 1, a.rounds, m, out["wall"], out["server_cpu"]))
            lat = {m: pinged(b, m) for m in methods}
            # the same pinger with nothing running: this machine's own floor at that moment,
            # to read the clears' worst PING against
            lat["idle"] = b.idle_latency()
        finally:
            if proxy:
                proxy.terminate()
                proxy.wait(timeout=30)
        res["sweep"].append({"rtt_ms": rtt, "client_rtt_ms": med_rtt,
                             "client_rtt_p99_ms": p99_rtt, "runs": runs, "latency": lat})
    b.client_port = a.port
    b.restore("big")
    res["info"] = {"used_memory_human": b.r.info("memory")["used_memory_human"],
                   "redis_version": b.r.info("server")["redis_version"]}
    write_json(a.out, res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--keys", type=int, default=1_000_000, help="session keys (and as many others)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefix", default="bench:session:")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--alt-bin", help="a second azu-session build, measured as method `alt`")
    ap.add_argument("--rtt", help="round trips in ms, e.g. 0,0.25,1,5: measure only azu-session "
                    "and the shell idiom through latency_proxy.py at each (see rtt_sweep)")
    ap.add_argument("--rtt-idiom-max", type=float, default=1e9,
                    help="with --rtt: run the shell idiom only at round trips up to this (ms)")
    a = ap.parse_args()
    if a.rtt:
        return rtt_sweep(a)

    methods = METHODS[:1] + (["alt"] if a.alt_bin else []) + METHODS[1:]
    round_latency = [m for m in ROUND_LATENCY if m in methods]
    b = Bench(a)
    small = max(1000, a.keys // 10)
    b.build("big", a.keys)
    b.build("small", small)

    res = {"keys": a.keys, "others": a.keys, "small_keys": small, "rounds": a.rounds,
           "prefix": a.prefix, "runs": {m: [] for m in methods}, "latency": {},
           "rss_small_kib": [], "latency_rounds": {m: [] for m in ["idle"] + round_latency}}
    for rnd in range(a.rounds):
        order = methods[rnd % len(methods):] + methods[:rnd % len(methods)]
        for m in order:
            out = b.run(m)
            res["runs"][m].append(out)
            log("redis round %d/%d %-8s %7.2f s  server cpu %.2f s%s"
                % (rnd + 1, a.rounds, m, out["wall"], out["server_cpu"],
                   "  rss %d KiB" % out["rss_kib"] if "rss_kib" in out else ""))
        out = b.run("azu", dataset="small")
        res["rss_small_kib"].append(out["rss_kib"])
        log("redis round %d/%d azu small (%d keys): %.2f s, rss %d KiB"
            % (rnd + 1, a.rounds, small, out["wall"], out["rss_kib"]))
        # The latency target is about azu-session, and one run's worst PING is the noisiest
        # figure of all on a shared VM: measure it every round, with the machine's idle floor
        # at that moment beside it.
        res["latency_rounds"]["idle"].append(b.idle_latency())
        for m in round_latency:
            res["latency_rounds"][m].append(pinged(b, m))

    # The other methods: one run each with the pinger.
    for m in methods:
        if m not in round_latency:
            res["latency"][m] = pinged(b, m)
    for m, outs in res["latency_rounds"].items():
        if outs:
            # The round with the median worst PING stands for the method in the table.
            res["latency"][m] = sorted(outs, key=lambda x: x["ping_max_ms"] or 0)[len(outs) // 2]
    b.restore("big")
    res["info"] = {"used_memory_human": b.r.info("memory")["used_memory_human"],
                   "redis_version": b.r.info("server")["redis_version"]}
    res["median"] = {m: median([x["wall"] for x in res["runs"][m]]) for m in methods}
    write_json(a.out, res)


if __name__ == "__main__":
    main()
