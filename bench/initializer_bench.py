#!/usr/bin/env python3
# How long reading src/initializers/session.cr takes: the wall time of
# `azu-session clear --dry-run` on generated initializers, against reading the same file with
# `wc -l` (the floor of reading the bytes) and with Crystal's own parser,
# `crystal tool format --check` (when crystal is installed), and against `--version` (the
# floor of starting the binary). Two initializers of --mb MB each:
#   mixed   full of stores, strings with interpolation, heredocs, comments, ternaries and
#           AZU_ENV branches; in development it configures the memory store (no server is
#           touched, so the run is reading the initializer, plus starting the process);
#   open    one store per line under a distinct condition it cannot evaluate
#           (`if ENV["V123"]?.try(&.empty?)`): the run ends in the error listing them all,
#           which must be linear in their number (issue 21, item 4).
# Median of --runs each. Driven by bench/run (part `initializer`, JSON to --out); by hand,
# without --out, it prints the table:
#   bench/initializer_bench.py [--bin target/release/azu-session] [--runs 5] [--mb 1,10,30]
# (without --bin it builds the release binary first).

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import env_with, write_json  # noqa: E402

CHUNK = (
    'if ENV["AZU_ENV"]? == "production"\n'
    '  c.store = Session::RedisStore(UserSession).new(prefix: "#{ENV["APP"]}:s:") # why\n'
    "  NOTE = <<-T\n    RedisStore.new(prefix: \"x:\") isn't the store\n    T\n"
    "else\n"
    '  c.store = MemoryStore.new unless ENV["AZU_ENV"]? == "test"\n'
    "  y = fast ? 'a' : %(b (c))\n"
    "end\n"
)


def mixed(size):
    return CHUNK * max(1, size // len(CHUNK))


def open_conditions(size):
    lines, total, i = ["Session.configure do |c|\n"], 0, 0
    while total < size:
        line = '  c.store = RedisStore.new(prefix: "p%d:") if ENV["V%d"]?.try(&.empty?)\n' % (
            i % 3, i)
        lines.append(line)
        total += len(line)
        i += 1
    lines.append("end\n")
    return "".join(lines)


def run(cmd, env, want_rc=0):
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    took = time.perf_counter() - start
    if want_rc is not None and out.returncode != want_rc:
        raise SystemExit("%s exited %d, not %d: %s" % (
            " ".join(cmd), out.returncode, want_rc, out.stderr[:2000]))
    return took, out


def median_of(runs, cmd, env, want_rc=0, check=None):
    times = []
    for _ in range(runs):
        took, out = run(cmd, env, want_rc)
        if check:
            check(out)
        times.append(took)
    return statistics.median(times)


def measure(binary, size_mb, runs, work):
    env = env_with()
    for k in ("REDIS_URL", "DATABASE_URL", "CRYSTAL_ENV"):
        env.pop(k, None)
    crystal = shutil.which("crystal")
    if crystal:
        env["CRYSTAL_CACHE_DIR"] = os.path.join(work, "crystal-cache")
    floor = median_of(runs, [binary, "--version"], env)
    rows = []
    size = int(size_mb * 1024 * 1024)
    for name, text in (("mixed", mixed(size)), ("open", open_conditions(size))):
        proj = os.path.join(work, "init-" + name)
        os.makedirs(os.path.join(proj, "src", "initializers"))
        path = os.path.join(proj, "src", "initializers", "session.cr")
        with open(path, "w") as f:
            f.write(text)
        stores = text.count("c.store =")
        if name == "mixed":
            def check(out):
                if "Backend: memory" not in out.stdout:
                    raise SystemExit("mixed: expected the memory store, got: %s" % out.stdout)
            want_rc = 0
        else:
            last = 'ENV["V%d"]?.try(&.empty?)' % (stores - 1)

            def check(out):
                err = out.stderr
                if not err.startswith("error: ") or "cannot evaluate" not in err or last not in err:
                    raise SystemExit("open: expected the error listing every condition, got: %s"
                                     % err[:2000])
            want_rc = 1
        azu = median_of(runs, [binary, "clear", "--dry-run", "-C", proj], env, want_rc, check)
        wc = median_of(runs, ["wc", "-l", path], env)
        def parsed(out):
            if "syntax error" in out.stderr:
                raise SystemExit("%s: crystal refuses it: %s" % (name, out.stderr[:2000]))
        # `--check` exits 1 when it would reformat the file: only a syntax error counts.
        fmt = median_of(runs, [crystal, "tool", "format", "--check", path], env, None,
                        parsed) if crystal else None
        rows.append({"name": name, "bytes": len(text), "stores": stores, "azu": azu,
                     "wc": wc, "crystal": fmt})
        shutil.rmtree(proj)
    return {"mb": size_mb, "runs": runs, "version": floor, "rows": rows}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", default="1,10,30", help="sizes in MB, comma-separated")
    ap.add_argument("--work")
    ap.add_argument("--out")
    a = ap.parse_args()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
        binary = os.path.join(target, "release", "azu-session")
    sizes = [float(x) for x in a.mb.split(",")]
    with tempfile.TemporaryDirectory(dir=a.work) as work:
        results = [measure(binary, mb, a.runs, work) for mb in sizes]
    if a.out:
        write_json(a.out, results[-1])
        return
    print("| initializer | MB | stores | `clear --dry-run` | minus `--version` | `wc -l` "
          "| `crystal tool format --check` |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for row in r["rows"]:
            print("| %s | %.1f | %s | %.3f s | %.3f s | %.3f s | %s |" % (
                row["name"], row["bytes"] / 1048576.0, format(row["stores"], ","), row["azu"],
                row["azu"] - r["version"], row["wc"],
                "n/a" if row["crystal"] is None else "%.3f s" % row["crystal"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
