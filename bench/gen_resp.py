#!/usr/bin/env python3
# Writes the Redis data set of the benchmark as raw RESP commands, to be piped through
# `redis-cli --pipe`: N session keys `<prefix><32 hex>` (a ~120-byte JSON value, EX 3600, as
# the session shard stores them) interleaved with N other keys that must survive a clear
# (`bench:cache:<n>` strings without TTL, and every 1000th one a near miss such as
# `bench:sessionX<n>` that shares all but the last character of the prefix).
# Usage: gen_resp.py --sessions N --prefix P --out FILE   (deterministic: same N, same bytes)

import argparse


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    prefix = a.prefix.encode()
    near = prefix[:-1] + b"X"  # same prefix but for its last character: must never be touched
    mask = (1 << 64) - 1
    with open(a.out, "wb", buffering=1 << 20) as f:
        buf = []
        for i in range(a.sessions):
            sid = b"%016x%016x" % ((i * 0x9E3779B97F4A7C15) & mask, i)
            value = (b'{"user_id":%d,"csrf_token":"%s","flash":{},"return_to":"/posts/%d",'
                     b'"created_at":"2026-11-22T02:00:00Z"}' % (i, sid[::-1], i % 977))
            buf.append(cmd(b"SET", prefix + sid, value, b"EX", b"3600"))
            other = (near + b"%d" % i) if i % 1000 == 0 else b"bench:cache:%d" % i
            buf.append(cmd(b"SET", other, b"cached fragment %d " % i + b"x" * 80))
            if len(buf) >= 20000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))


if __name__ == "__main__":
    main()
