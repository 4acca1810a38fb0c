#!/usr/bin/env python3
# The session:setup part of the benchmark, driven by bench/run: the wall time of
# `azu-session session:setup --force` on a fresh copy of examples/blog (initializer, shard.yml
# edit, .env, .gitignore all written, as on a first run), against the time to start the same
# binary with `--version` (the floor: process start, nothing else). The two alternate, --runs
# times each; the copies are made before the clock starts. Writes JSON to --out.

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import env_with, median, percentile, timed, write_json  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--example", required=True, help="examples/blog")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    base = os.path.join(a.work, "setup")
    os.makedirs(base, exist_ok=True)
    env = env_with()
    for k in ("REDIS_URL", "DATABASE_URL", "SESSION_SECRET"):
        env.pop(k, None)
    setup, version = [], []
    for i in range(a.runs):
        proj = os.path.join(base, "blog%d" % i)
        shutil.copytree(a.example, proj)
        w, _, _ = timed([a.bin, "--version"], env=env)
        version.append(w)
        w, _, _ = timed([a.bin, "session:setup", "--force", "-C", proj], env=env)
        setup.append(w)
        if not os.path.exists(os.path.join(proj, "src", "initializers", "session.cr")):
            raise SystemExit("session:setup did not write the initializer")
        shutil.rmtree(proj)
    write_json(a.out, {"runs": a.runs,
                       "setup": {"median": median(setup), "p90": percentile(setup, 90)},
                       "version": {"median": median(version), "p90": percentile(version, 90)}})


if __name__ == "__main__":
    main()
