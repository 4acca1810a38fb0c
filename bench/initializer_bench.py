#!/usr/bin/env python3
# How long reading src/initializers/session.cr takes as it grows: the wall time of
# `azu-session clear --dry-run` (memory store for development: no server is touched, so the
# run is reading the initializer, plus starting the process) on generated initializers of
# 1, 10 and 30 MB, full of stores, strings with interpolation, heredocs, comments, ternaries
# and AZU_ENV branches, against `--version` (the floor). Median of --runs each. Run by hand:
#   bench/initializer_bench.py [--bin target/release/azu-session] [--runs 5]
# (without --bin it builds the release binary first).

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHUNK = (
    'if ENV["AZU_ENV"]? == "production"\n'
    '  c.store = Session::RedisStore(UserSession).new(prefix: "#{ENV["APP"]}:s:") # why\n'
    "  NOTE = <<-T\n    RedisStore.new(prefix: \"x:\") isn't the store\n    T\n"
    "else\n"
    '  c.store = MemoryStore.new unless ENV["AZU_ENV"]? == "test"\n'
    "  y = fast ? 'a' : %(b (c))\n"
    "end\n"
)


def run(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(cmd), out.stderr))
    return took, out.stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
        binary = os.path.join(target, "release", "azu-session")

    floor = statistics.median(run([binary, "--version"])[0] for _ in range(a.runs))
    print("| initializer | stores in code | `clear --dry-run` (median of %d) | minus `--version` |" % a.runs)
    print("|---:|---:|---:|---:|")
    for mb in (1, 10, 30):
        with tempfile.TemporaryDirectory() as proj:
            os.makedirs(os.path.join(proj, "src", "initializers"))
            text = CHUNK * (mb * 1024 * 1024 // len(CHUNK))
            with open(os.path.join(proj, "src", "initializers", "session.cr"), "w") as f:
                f.write(text)
            cmd = [binary, "clear", "--dry-run", "-C", proj]
            times = []
            for _ in range(a.runs):
                took, stdout = run(cmd)
                if "Backend: memory" not in stdout:
                    raise SystemExit("expected the memory store, got: %s" % stdout)
                times.append(took)
            wall = statistics.median(times)
            print("| %d MB | %s | %.3f s | %.3f s |" % (
                mb, format(text.count("c.store ="), ","), wall, wall - floor))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
