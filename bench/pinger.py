#!/usr/bin/env python3
# The "other client" of the Redis benchmark: sends a PING every millisecond on its own
# connection and records, for each, when it was sent and how long the answer took, so the
# driver can report the worst latency (max, 99th percentile) an application would see while a
# clear runs. A ping that is late starts at once when the previous answer lands (no burst).
# Stops on SIGTERM/SIGINT or after --max-seconds; writes the samples to --out as a binary array
# of int64 pairs (send time on CLOCK_MONOTONIC in ns, round trip in ns).
# Usage: pinger.py --port P --out FILE [--max-seconds S]

import argparse
import array
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Resp  # noqa: E402

PERIOD_NS = 1_000_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    a = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    r = Resp(a.port, timeout=60)
    ping = Resp.encode("PING")
    send, readline = r.sock.sendall, r.rf.readline
    clock = time.monotonic_ns
    samples = array.array("q")
    now = clock()
    deadline = now + int(a.max_seconds * 1e9)
    next_t = now
    # Bounded: one iteration per millisecond at most until the deadline.
    max_iter = int(a.max_seconds * 1000) + 1
    # Ready: the driver waits for this line before it starts the method.
    print("ready", flush=True)
    for _ in range(max_iter):
        if stop:
            break
        now = clock()
        if now >= deadline:
            break
        if now < next_t:
            time.sleep((next_t - now) / 1e9)
        t0 = clock()
        send(ping)
        line = readline()
        t1 = clock()
        if line != b"+PONG\r\n":
            print("pinger: unexpected reply %r" % line[:40], file=sys.stderr)
            break
        samples.append(t0)
        samples.append(t1 - t0)
        next_t += PERIOD_NS
        if next_t < t1:
            next_t = t1
    with open(a.out, "wb") as f:
        samples.tofile(f)
    r.close()


if __name__ == "__main__":
    main()
