#!/usr/bin/env python3
# What the Azu CLI's own `session:clear` does with Redis, for comparison: one KEYS for the
# pattern (which walks the whole keyspace in one command), then one DEL per key, each waiting
# for its answer, on one connection. A minimal RESP client, standard library only; being
# Python it spends a few microseconds more per key than a compiled client would, which is
# small beside the round trip it waits for on every key.
# Usage: keys_del.py --port P --pattern 'prefix*'   (prints the number of keys deleted)

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Resp  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pattern", required=True)
    a = ap.parse_args()
    r = Resp(a.port, timeout=600)
    keys = r.call("KEYS", a.pattern)
    send, readline, encode = r.sock.sendall, r.rf.readline, Resp.encode
    deleted = 0
    for k in keys:  # bounded by the KEYS answer
        send(encode("DEL", k))
        line = readline()
        if line[:1] != b":":
            raise SystemExit("keys_del: unexpected reply %r" % line[:60])
        deleted += int(line[1:-2])
    print(deleted)
    r.close()


if __name__ == "__main__":
    main()
