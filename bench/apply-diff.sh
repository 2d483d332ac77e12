#!/usr/bin/env bash
# Kernel-side benchmarks, measured in one run on this machine (ratios, not absolute times, are
# the result: machines are shared and noisy):
#   apply N rules: overlayfw apply --backend netlink  vs  nft -f of our own script
#   diff of an N-rule table: overlayfw diff (total)   vs  nft -j list table alone
#   load: our script, plain and --optimize, vs iptables-restore-translate's output
# Needs root (throw-away network namespace), nft, python3, /usr/bin/time.
# Usage: [RUNS=3] bench/apply-diff.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
cargo build --release --features netlink -q
BIN=$PWD/target/release/overlayfw
TMP=$(mktemp -d)
NS=ofw-bench-$$
cleanup() { ip netns delete "$NS" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
ip netns add "$NS"
python3 bench/gen.py "$N" > "$TMP/policy.rules"
"$BIN" compile "$TMP/policy.rules" -o "$TMP/policy.nft"
"$BIN" compile --optimize "$TMP/policy.rules" -o "$TMP/optimized.nft"
python3 bench/gen.py "$N" --iptables > "$TMP/policy.save"
iptables-restore-translate -f "$TMP/policy.save" > "$TMP/translated.nft"
# Best of $RUNS runs (the machine is shared, and `nft -j list` alone varies by half from run
# to run): the run with the least time, its peak RSS and system time.
RUNS=${RUNS:-3}
measure() { # command...: prints "seconds max_rss_kb kernel_seconds"
  for _ in $(seq "$RUNS"); do
    [ -n "${BEFORE:-}" ] && $BEFORE
    /usr/bin/time -f "%e %M %S" -o "$TMP/time" "$@" > /dev/null || true
    cat "$TMP/time"
  done | sort -n | head -1
}
in_ns() { ip netns exec "$NS" "$@"; }
reset() { in_ns nft flush ruleset; }
BEFORE=reset
read -r t_nft m_nft s_nft < <(measure ip netns exec "$NS" nft -f "$TMP/policy.nft")
read -r t_opt m_opt _ < <(measure ip netns exec "$NS" nft -f "$TMP/optimized.nft")
read -r t_tr m_tr _ < <(measure ip netns exec "$NS" nft -f "$TMP/translated.nft")
read -r t_nl m_nl s_nl < <(measure ip netns exec "$NS" "$BIN" apply --backend netlink "$TMP/policy.rules")
read -r t_ofw_nft m_ofw_nft _ < <(measure ip netns exec "$NS" "$BIN" apply --backend nft "$TMP/policy.rules")
# The kernel's own time on the transaction, as the netlink backend measures it (from the batch's
# send to the last answer): the least any backend can take to load these rules.
t_kernel=$(for _ in $(seq "$RUNS"); do
  reset
  in_ns "$BIN" apply --backend netlink "$TMP/policy.rules" 2>&1 >/dev/null |
    sed -n 's/.*the kernel.s transaction took \([0-9.]*\) s.*/\1/p'
done | sort -n | head -1)
BEFORE=
read -r t_list m_list _ < <(measure ip netns exec "$NS" nft -j list table ip overlayfw)
set +e; read -r t_diff m_diff _ < <(measure ip netns exec "$NS" "$BIN" diff "$TMP/policy.rules"); set -e
in_ns nft -j list ruleset > "$TMP/dump.json"
read -r t_against m_against _ < <(measure "$BIN" diff "$TMP/policy.rules" --against "$TMP/dump.json")
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(nft --version); N=$N rules"
printf '%-48s %8s %10s\n' "measurement" "seconds" "peak MiB"
row() { printf '%-48s %8s %10s\n' "$1" "$2" "$(( $3 / 1024 ))"; }
row "nft -f (our script)" "$t_nft" "$m_nft"
row "nft -f (our script, --optimize)" "$t_opt" "$m_opt"
row "nft -f (iptables-restore-translate's output)" "$t_tr" "$m_tr"
row "overlayfw apply --backend netlink (incl. compile)" "$t_nl" "$m_nl"
row "overlayfw apply --backend nft (incl. compile)" "$t_ofw_nft" "$m_ofw_nft"
row "nft -j list table ip overlayfw" "$t_list" "$m_list"
row "overlayfw diff (live, incl. compile and listing)" "$t_diff" "$m_diff"
row "overlayfw diff --against dump.json" "$t_against" "$m_against"
echo "apply: netlink is $(ratio "$t_nft" "$t_nl")x faster than nft -f and uses $(ratio "$m_nft" "$m_nl")x less memory (goal: >= 2x, >= 5x)"
echo "apply: the kernel's own work (system time) is $s_nft s of nft -f and $s_nl s of netlink"
echo "apply: the kernel's transaction alone takes $t_kernel s: no backend loading these rules can be more than $(ratio "$t_nft" "$t_kernel")x faster than nft -f"
echo "diff: $(ratio "$t_diff" "$t_list")x the time of nft -j list alone (goal: <= 1.2x)"
echo "load: --optimize loads $(ratio "$t_nft" "$t_opt")x faster than plain and $(ratio "$t_tr" "$t_opt")x faster than the translator's output (goal: >= 5x)"
