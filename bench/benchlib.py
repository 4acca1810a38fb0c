# Shared helpers for the benchmark scripts in bench/ (not part of the test suite):
# a minimal RESP (Redis protocol) client over a loopback socket, statistics, timing of
# commands (with GNU time's peak RSS), and loopback-only guards. Standard library only.

import json
import os
import socket
import statistics
import subprocess
import sys
import time

LOOPBACK = "127.0.0.1"


def log(*parts):
    """Progress lines go to stderr, so stdout stays free for results."""
    print("[bench]", *parts, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, p):
    """The p-th percentile (nearest rank) of xs, which need not be sorted."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def read_json(path):
    with open(path) as f:
        return json.load(f)


class RespError(Exception):
    pass


class Resp:
    """A blocking RESP2 client on one TCP connection to 127.0.0.1 (nothing else is allowed)."""

    def __init__(self, port, timeout=120.0):
        self.sock = socket.create_connection((LOOPBACK, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rf = self.sock.makefile("rb", buffering=1 << 16)

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = b"%d" % a
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def read(self):
        return self._reply(self.rf.readline())

    def _reply(self, line):
        if not line:
            raise RespError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.rf.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            items = []
            readline, read = self.rf.readline, self.rf.read
            for _ in range(n):
                sub = readline()
                if sub[:1] == b"$" and sub[1:2] != b"-":
                    # Bulk strings inline: KEYS answers a million of them.
                    items.append(read(int(sub[1:-2]) + 2)[:-2])
                else:
                    items.append(self._reply(sub))
            return items
        raise RespError("unexpected reply line %r" % line[:40])

    def call(self, *args):
        self.send_raw(self.encode(*args))
        return self.read()

    def info(self, section):
        """INFO <section> as a dict of strings."""
        text = self.call("INFO", section).decode()
        out = {}
        for ln in text.splitlines():
            if ln and not ln.startswith("#") and ":" in ln:
                k, v = ln.split(":", 1)
                out[k] = v
        return out

    def close(self):
        try:
            self.rf.close()
            self.sock.close()
        except OSError:
            pass


def main_thread_cpu(r):
    """Seconds of CPU the Redis server's main thread has used (user + system)."""
    cpu = r.info("cpu")
    return float(cpu["used_cpu_user_main_thread"]) + float(cpu["used_cpu_sys_main_thread"])


def commandstats(r):
    """INFO commandstats as {command: (calls, usec)}."""
    out = {}
    for k, v in r.info("commandstats").items():
        if k.startswith("cmdstat_"):
            fields = dict(p.split("=", 1) for p in v.split(","))
            out[k[len("cmdstat_"):]] = (int(fields["calls"]), int(fields["usec"]))
    return out


def timed(cmd, env=None, rss_file=None, stdout=subprocess.DEVNULL, timeout=3600, check=True,
          stdin=subprocess.DEVNULL, cwd=None, codes=(0,)):
    """Run cmd; return (wall seconds, peak RSS in KiB or None, stdout bytes or None).

    With check, an exit code outside `codes` is an error.

    With rss_file, the command runs under GNU time (`/usr/bin/time -f %M -o rss_file`), which
    adds a fork and an exec around it (well under a millisecond on this scale).
    """
    argv = list(cmd)
    if rss_file:
        argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout,
                       stdin=stdin, cwd=cwd)
    wall = time.perf_counter() - t0
    if check and p.returncode not in codes:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                  p.stderr.decode(errors="replace")[-2000:]))
    rss = None
    if rss_file:
        with open(rss_file) as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip().isdigit()]
        rss = int(lines[-1]) if lines else None
    return wall, rss, p.stdout


def env_with(**kv):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in kv.items()})
    # Keep the tool's own detection from reading anything but what the bench passes.
    for k in ("SESSION_BACKEND", "AZU_ENV"):
        env.pop(k, None)
    return env
