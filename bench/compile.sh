#!/usr/bin/env bash
# Compile benchmarks (issue "performance"), measured in one run: overlayfw compile and check vs
# iptables-restore-translate on the same policy (bench/gen.py), peak memory against the input
# size, and scaling from 10k to 100k rules. Needs python3, /usr/bin/time, iptables.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/overlayfw
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Best of $RUNS runs (the machine is shared): the least time and the least peak RSS.
RUNS=${RUNS:-3}
measure() {
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$TMP/time" "$@" > /dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) $(cat "$TMP/time")"
  done | sort -n | awk 'NR == 1 { t = $1 / 1000 } { if (m == "" || $2 < m) m = $2 } END { printf "%.3f %d\n", t, m }'
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
printf '%-8s %10s %10s %12s %12s %14s %10s\n' N "input MiB" "compile s" "compile MiB" "check s" "translate s" "ratio"
declare -A T M S
for n in 1000 10000 100000; do
  python3 bench/gen.py "$n" > "$TMP/p.rules"
  python3 bench/gen.py "$n" --iptables > "$TMP/p.save"
  size=$(stat -c %s "$TMP/p.rules")
  read -r tc mc < <(measure "$BIN" compile "$TMP/p.rules")
  read -r tk _ < <(measure "$BIN" check "$TMP/p.rules")
  read -r tt _ < <(measure iptables-restore-translate -f "$TMP/p.save")
  T[$n]=$tc M[$n]=$mc S[$n]=$size
  printf '%-8s %10.1f %10s %12s %12s %14s %10s\n' "$n" "$(python3 -c "print($size/1048576)")" "$tc" "$(( mc / 1024 ))" "$tk" "$tt" "$(ratio "$tc" "$tt")"
done
echo "ratio = overlayfw compile time / iptables-restore-translate time (goal <= 0.12)"
echo "peak memory at 100k: $(python3 -c "print(f'{${M[100000]}/1024:.1f} MiB, {${M[100000]}*1024/${S[100000]}:.2f}x the input')") (goal <= 3.5x)"
echo "scaling 10k -> 100k: $(ratio "${T[100000]}" "${T[10000]}")x (goal <= 11x)"
