#!/usr/bin/env python3
# A TCP proxy on loopback that puts a round-trip time between a client and a server, for the
# benchmark (issue 17): every chunk read from one side is written to the other side one-way
# delay (= half the round trip) after it was read, in order (a chunk never overtakes an
# earlier one of the same direction). Standard library only.
#
#   latency_proxy.py --listen-port 0 --target 127.0.0.1:6379 --rtt-ms 1
#       prints the port it listens on as its first stdout line, then runs until killed
#   latency_proxy.py --check
#       starts a private redis-server, measures PING round trips through the proxy at
#       0, 0.25, 1 and 5 ms, prints measured vs asked, and fails if a median is off by more
#       than max(0.2 ms, 20%) or replies come back out of order
#
# Design: one thread per connection and direction. It stamps each chunk on arrival and queues
# it, and select()s with a timeout until the oldest chunk is due, then writes every chunk due
# by then in one sendall (so a busy stream is not slowed by one syscall per chunk). Threads and
# select, not asyncio: asyncio's epoll timeouts are rounded up to whole milliseconds, which
# would turn a 0.125 ms delay into 1 ms; select's timeout is in microseconds. The timer slack of
# the process is set to 1 µs (prctl) so sleeps end close to when they are asked to.

import argparse
import collections
import ctypes
import os
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

LOOPBACK = "127.0.0.1"
CHUNK = 1 << 18


def low_timer_slack():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1000, 0, 0, 0)  # PR_SET_TIMERSLACK, in ns
    except (OSError, AttributeError):
        pass


def close_quietly(s):
    try:
        s.close()
    except OSError:
        pass


def direct(src, dst):
    """No delay: forward as read."""
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


ANC = socket.CMSG_SPACE(16)
SCM_TIMESTAMPNS = getattr(socket, "SCM_TIMESTAMPNS", 35)


def arrived(anc):
    """When the chunk reached the socket, on time.monotonic()'s clock: the kernel's receive
    time stamp (SO_TIMESTAMPNS, CLOCK_REALTIME) if there is one, so the time this process
    took to wake up and read it counts as part of the delay, else now."""
    now = time.monotonic()
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            t = now - (time.time() - (sec + nsec / 1e9))
            return t if t <= now else now
    return now


def delayed(src, dst, delay):
    """Forward src -> dst, each chunk `delay` seconds after it was read, in order.

    One thread: select() (microsecond timeout, unlike poll/epoll) waits for either the next
    chunk or the moment the oldest queued chunk is due, whichever comes first."""
    q = collections.deque()
    clock = time.monotonic
    eof = False
    # How late a wake-up lands after the moment asked for (scheduler, timer, interpreter),
    # learnt as it runs (moving average) and asked for that much earlier, at most a quarter
    # of the delay: the chunks then leave close to when they are due, on average.
    late = 0.0
    cap = delay / 4
    try:
        while True:
            if q:
                due = q[0][0]
                wait = due - late - clock()
                if wait <= 0:
                    now = clock()
                    late = min(cap, max(0.0, late + 0.05 * ((now - due + late) - late)))
                    out = []
                    while q and q[0][0] - late <= now:
                        out.append(q.popleft()[1])
                    dst.sendall(b"".join(out))
                    continue
            elif eof:
                break
            else:
                wait = None
            if eof:
                time.sleep(wait)
                continue
            readable, _, _ = select.select([src], [], [], wait)
            if readable:
                data, anc, _, _ = src.recvmsg(CHUNK, ANC)
                if not data:
                    eof = True
                else:
                    q.append((arrived(anc) + delay, data))
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(listener, target, rtt_ms):
    delay = rtt_ms / 2000.0
    while True:
        client, _ = listener.accept()
        try:
            server = socket.create_connection(target)
        except OSError:
            close_quietly(client)
            continue
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for s in (client, server):
            try:
                s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMPNS", 35), 1)
            except OSError:
                pass
        pump = direct if delay <= 0 else (lambda a, b: delayed(a, b, delay))

        def conn(c=client, s=server, pump=pump):
            t = threading.Thread(target=pump, args=(s, c), daemon=True)
            t.start()
            pump(c, s)
            t.join()
            close_quietly(c)
            close_quietly(s)

        threading.Thread(target=conn, daemon=True).start()


def listen(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((LOOPBACK, port))
    ls.listen(128)
    return ls


# ---- self-check -------------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_proxy(target_port, rtt_ms):
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--listen-port", "0",
                          "--target", "%s:%d" % (LOOPBACK, target_port), "--rtt-ms",
                          str(rtt_ms)], stdout=subprocess.PIPE)
    port = int(p.stdout.readline())
    return p, port


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def pings(port, n):
    s = socket.create_connection((LOOPBACK, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    out = []
    for i in range(n + 20):
        t0 = time.perf_counter()
        s.sendall(b"PING\r\n")
        if f.readline() != b"+PONG\r\n":
            raise SystemExit("latency_proxy --check: bad PING reply")
        if i >= 20:  # warm-up left out
            out.append((time.perf_counter() - t0) * 1000)
    # Order: 2,000 ECHOs each sent on its own, back to back, must come back in order.
    for i in range(2000):
        s.sendall(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n" % (len(str(i)), i))
    for i in range(2000):
        f.readline()
        if f.readline() != b"%d\r\n" % i:
            raise SystemExit("latency_proxy --check: replies out of order at %d" % i)
    f.close()
    s.close()
    return out


def check(rtts, n):
    if not shutil.which("redis-server"):
        raise SystemExit("latency_proxy --check: redis-server is missing")
    d = tempfile.mkdtemp(prefix="latency_proxy.")
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", LOOPBACK,
                            "--save", "", "--appendonly", "no", "--dir", d,
                            "--logfile", os.path.join(d, "redis.log")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failed = []
    try:
        for _ in range(100):
            try:
                socket.create_connection((LOOPBACK, port)).close()
                break
            except OSError:
                time.sleep(0.1)
        base = pings(port, n)
        print("direct (no proxy): median %.3f ms, p99 %.3f ms, max %.3f ms"
              % (statistics.median(base), pct(base, 99), max(base)))
        print("%-8s %-10s %-10s %-10s %-10s %s"
              % ("asked", "median", "p99", "max", "median-asked", "verdict"))
        for rtt in rtts:
            p, pport = start_proxy(port, rtt)
            try:
                xs = pings(pport, n)
            finally:
                stop(p)
            med = statistics.median(xs)
            ok = abs(med - rtt) <= max(0.2, 0.2 * rtt)
            if not ok:
                failed.append(rtt)
            print("%-8s %-10s %-10s %-10s %-10s %s"
                  % ("%g ms" % rtt, "%.3f ms" % med, "%.3f ms" % pct(xs, 99),
                     "%.3f ms" % max(xs), "%+.3f ms" % (med - rtt), "ok" if ok else "OFF"))
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(d, ignore_errors=True)
    if failed:
        raise SystemExit("latency_proxy --check: median off by more than max(0.2 ms, 20%%) at "
                         "%s ms" % ", ".join("%g" % r for r in failed))
    print("latency_proxy --check: ok (%d PINGs per setting, replies in order)" % n)


def pct(xs, p):
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--target", help="host:port (loopback only)")
    ap.add_argument("--rtt-ms", type=float, default=0.0)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--check-rtts", default="0,0.25,1,5")
    ap.add_argument("--check-pings", type=int, default=500)
    a = ap.parse_args()
    sys.setswitchinterval(0.0005)  # a thread woken by I/O or a timer gets the GIL soon
    low_timer_slack()
    if a.check:
        try:
            os.nice(-10)  # as root: ahead of other work on a shared machine, as bench/run does
        except OSError:
            pass
        check([float(x) for x in a.check_rtts.split(",")], a.check_pings)
        return
    if not a.target:
        ap.error("--target is required")
    host, port = a.target.rsplit(":", 1)
    if host not in (LOOPBACK, "localhost"):
        ap.error("only loopback targets are allowed")
    ls = listen(a.listen_port)
    print(ls.getsockname()[1], flush=True)
    try:
        serve(ls, (LOOPBACK, int(port)), a.rtt_ms)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
