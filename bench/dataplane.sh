#!/usr/bin/env bash
# Data-plane benchmark (issue "performance"): packets per second forwarded through a router
# namespace, 64-byte UDP from iperf3, with (a) no rules, (b) a 50,000-rule FORWARD policy whose
# matching rule is the last one, compiled plain, (c) the same policy compiled with --optimize.
# Reported as ratios to (a), measured in one run. Needs root, iperf3, python3.
# Usage: bench/dataplane.sh [RULES] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
SECS=${2:-5}
command -v iperf3 >/dev/null || { echo "iperf3 is missing (apt-get install iperf3)" >&2; exit 2; }
cargo build --release -q
BIN=$PWD/target/release/overlayfw
TMP=$(mktemp -d)
P=ofwdp$$
cleanup() { for n in c r s; do ip netns delete "$P$n" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
for n in c r s; do ip netns add "$P$n"; done
ip link add "${P}c0" netns "${P}c" type veth peer name eth0 netns "${P}r"
ip link add "${P}s0" netns "${P}s" type veth peer name plugin0 netns "${P}r"
ip -n "${P}c" addr add 100.64.0.10/24 dev "${P}c0"
ip -n "${P}r" addr add 100.64.0.1/24 dev eth0
ip -n "${P}r" addr add 198.51.100.1/28 dev plugin0
ip -n "${P}s" addr add 198.51.100.2/28 dev "${P}s0"
for n in c r s; do ip -n "$P$n" link set lo up; done
ip -n "${P}c" link set "${P}c0" up; ip -n "${P}s" link set "${P}s0" up
ip -n "${P}r" link set eth0 up; ip -n "${P}r" link set plugin0 up
ip -n "${P}c" route add default via 100.64.0.1
ip -n "${P}s" route add default via 198.51.100.1
ip netns exec "${P}r" sysctl -q -w net.ipv4.ip_forward=1
# N-1 FORWARD rules that do not match the test traffic, then the one that does.
python3 - "$N" > "$TMP/policy.rules" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n - 1):
    print(f"FORWARD_CUST -i eth0 -s 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255} -p udp --dport {1 + i % 60000} -j DROP")
print("FORWARD_CUST -i eth0 -s 100.64.0.10 -p udp --dport 5201 -j ACCEPT")
PY
"$BIN" compile "$TMP/policy.rules" -o "$TMP/plain.nft"
"$BIN" compile --optimize "$TMP/policy.rules" -o "$TMP/optimized.nft"
pps() { # runs one iperf3 UDP test, prints received packets per second
  ip netns exec "${P}s" timeout $((SECS + 30)) iperf3 -s -1 >/dev/null 2>&1 &
  sleep 0.5
  ip netns exec "${P}c" timeout $((SECS + 20)) iperf3 -c 198.51.100.2 -u -l 64 -b 0 -t "$SECS" -J > "$TMP/client.json" 2>/dev/null || true
  python3 -c "
import json,sys
d=json.load(open('$TMP/client.json'))
if 'error' in d: sys.exit('iperf3: ' + d['error'])
s=d['end'].get('sum_received') or d['end']['sum']
print(round(s['packets']*(1-s.get('lost_percent',0)/100)/s['seconds']))"
  wait
}
base=$(pps)
ip netns exec "${P}r" nft -f "$TMP/plain.nft"; plain=$(pps)
ip netns exec "${P}r" nft -f "$TMP/optimized.nft"; optimized=$(pps)
rules_plain=$(ip netns exec "${P}r" nft list chain ip overlayfw FORWARD_CUST 2>/dev/null | grep -c comment || true)
echo "machine: $(nproc) cores; $(nft --version); FORWARD policy of $N rules, the match last; 64-byte UDP, $SECS s each"
printf '%-40s %12s %8s\n' "router" "packets/s" "ratio"
printf '%-40s %12s %8s\n' "no rules" "$base" "1.00"
printf '%-40s %12s %8s\n' "plain ($N rules)" "$plain" "$(python3 -c "print(f'{$plain/$base:.3f}')")"
printf '%-40s %12s %8s\n' "--optimize ($rules_plain rules in FORWARD_CUST)" "$optimized" "$(python3 -c "print(f'{$optimized/$base:.3f}')")"
echo "goal: --optimize >= 0.80 of the no-rule rate"
