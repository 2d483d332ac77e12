#!/usr/bin/env bash
# How long `overlayfw check` takes on a 1,000-rule file: it should stay interactive (a
# pre-commit hook runs it on every commit). Generates varied rules (every chain, lists, ranges,
# modules, NAT, comments), builds the release binary, and times it with hyperfine if installed,
# else with a loop of 20 runs. Prints the figure; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --quiet
bin=target/release/overlayfw
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
rules="$dir/1k.rules"
for i in $(seq 0 999); do
  a=$((i % 250 + 1)); b=$((i / 250)); p=$((1024 + i))
  case $((i % 10)) in
    0) echo "# rule group $i"; echo "INPUT_CUST -s 10.$b.$a.7 -j DROP" ;;
    1) echo "INPUT_CUST -i eth0 -s 10.$b.$a.0/24 -p tcp --dport $p -j ACCEPT" ;;
    2) echo "FORWARD_CUST -i tun0 -o eth0 -s 100.64.$a.0/24,100.65.$a.0/24 -p udp -m multiport --dports 53,$p,5000:5100 -j ACCEPT" ;;
    3) echo "INPUT_CUST -p tcp --dport $p -m conntrack --ctstate NEW,ESTABLISHED -m comment --comment \"svc $i\" -j ACCEPT" ;;
    4) echo "PREROUTING_CUST -i eth0 -p tcp --dport $p -j DNAT --to 198.51.100.2:$((i % 60000 + 1))" ;;
    5) echo "OUTPUT_CUST -o eth0 -d 203.0.$b.$a -p tcp --sport $p -j REJECT --reject-with tcp-reset" ;;
    6) echo "INPUT_CUST -m iprange --src-range 192.168.$b.1-192.168.$b.$a -j DROP" ;;
    7) echo "FORWARD_CUST ! -s 10.$b.0.0/16 -p icmp --icmp-type echo-request -m limit --limit 5/s -j ACCEPT" ;;
    8) echo "POSTROUTING_CUST -o eth0 -s 172.16.$a.0/24 -j SNAT --to 10.0.1.$a" ;;
    9) echo "INPUT_CUST -p tcp --syn --dport $p -j LOG --log-prefix \"syn $i \" --log-level 4" ;;
  esac
done > "$rules"
echo "$(grep -vc '^#' "$rules") rules, $(wc -c < "$rules") bytes"
"$bin" check "$rules" >/dev/null || { echo "the generated file does not check cleanly:"; "$bin" check --format short "$rules" | head; exit 1; }
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 "$bin check $rules"
else
  runs=20
  start=$(date +%s%N)
  for _ in $(seq $runs); do "$bin" check "$rules" >/dev/null; done
  end=$(date +%s%N)
  echo "overlayfw check, 1,000 rules: $(( (end - start) / runs / 1000 )) µs per run (mean of $runs)"
fi
