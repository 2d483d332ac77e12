#!/usr/bin/env bash
# The static musl build's compile speed against the glibc build's (issue "deploy": within
# 1.1x), on the 100,000-rule policy of bench/gen.py. Both binaries are built here, their output
# must be the same bytes, and their runs alternate (glibc, musl, glibc, …) so that the load of
# a shared machine falls on both alike; the medians of the wall and CPU times are compared.
# Needs the musl target (rustup target add x86_64-unknown-linux-musl) and musl-tools.
# Usage: bench/musl.sh [RUNS]   (default 11 runs of each)
set -euo pipefail
cd "$(dirname "$0")/.."
MUSL=x86_64-unknown-linux-musl
cargo build --release -q
cargo build --release -q --target "$MUSL"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 bench/gen.py 100000 > "$TMP/p.rules"
python3 - "${1:-11}" target/release/overlayfw "target/$MUSL/release/overlayfw" "$TMP/p.rules" <<'PY'
import resource, statistics, subprocess, sys, time
runs, glibc, musl, rules = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
outputs = {b: subprocess.run([b, "compile", rules], capture_output=True, check=True).stdout
           for b in (glibc, musl)}
if outputs[glibc] != outputs[musl]:
    sys.exit("the musl build's output differs from the glibc build's")
wall, cpu = {glibc: [], musl: []}, {glibc: [], musl: []}
for _ in range(runs):
    for b in (glibc, musl):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([b, "compile", rules], stdout=subprocess.DEVNULL, check=True)
        wall[b].append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[b].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
med = lambda xs: statistics.median(xs)
print(f"100,000 rules, {runs} alternating runs each, medians:")
print(f"{'build':<8} {'wall s':>8} {'cpu s':>8}")
for name, b in (("glibc", glibc), ("musl", musl)):
    print(f"{name:<8} {med(wall[b]):>8.3f} {med(cpu[b]):>8.3f}")
print(f"musl compile: {med(wall[musl]) / med(wall[glibc]):.2f}x the wall time of glibc's, "
      f"{med(cpu[musl]) / med(cpu[glibc]):.2f}x its CPU time (goal <= 1.1x); same output")
PY
