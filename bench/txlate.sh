#!/usr/bin/env bash
# iptables' own translation tests (the `extensions/*.txlate` files of an iptables source tree)
# against overlayfw, judged by the kernel: runs tests/it/txlate.rs (see its header for what is
# selected, left out and compared), prints every refused line grouped by file and the figures,
# and writes the figures row and a `txlate` section into docs/figures.md (bench/all.sh does the
# same when OVERLAYFW_TXLATE is set). Fetches nothing; needs root (network namespaces).
# Usage: bench/txlate.sh IPTABLES_SOURCE_TREE   (or its extensions folder)
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-${OVERLAYFW_TXLATE:-}}
if [ -z "$src" ] || [ ! -d "$src" ]; then
  echo "usage: bench/txlate.sh IPTABLES_SOURCE_TREE (a folder with extensions/*.txlate)" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "bench/txlate.sh: needs root (it loads rules in throw-away network namespaces)" >&2
  exit 2
fi
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
status=0
OVERLAYFW_TXLATE=$(realpath "$src") OVERLAYFW_SLOW_TESTS=1 \
  cargo test -q --test it txlate:: -- --nocapture > "$OUT" 2>&1 || status=$?
# The test's own report: refused lines, intended differences, what was left out, the figures.
sed -n '/^refused lines, by file:/,/^txlate figures:/p' "$OUT"
if [ "$status" != 0 ]; then
  sed -n '/panicked at/,/^note:/p' "$OUT" >&2
  echo "bench/txlate.sh: the test failed (a line disagrees or crashed): see above" >&2
  exit 1
fi
python3 - "$OUT" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^txlate figures: .*?: ([\d.]+)% of all", text, re.M)
if not m:
    sys.exit("bench/txlate.sh: no figures in the test's output")
pct = float(m.group(1))
row = (f"| iptables translation tests (filter/nat): compile and agree (or differ as intended) | {pct:.1f}% | >= 90% | "
       f"{'met' if pct >= 90 else 'NOT met'} |")
# The lines iptables-nft itself refuses (`-o` in PREROUTING, `-m icmp` without `-p icmp`, …)
# are to be refused (issue: "keep refusing what iptables itself refuses"): the same figure
# without them.
a = re.search(r"^txlate figures: .*?, ([\d.]+)% of the (\d+) lines iptables accepts", text, re.M)
if a:
    acc = float(a.group(1))
    row += (f"\n| iptables translation tests (filter/nat), the {a.group(2)} lines iptables-nft accepts: compile and agree (or differ as intended) | {acc:.1f}% | >= 90% | "
            f"{'met' if acc >= 90 else 'NOT met'} |")
summary = [l for l in text.splitlines()
           if l.startswith(("txlate figures:", "left out:", "differ as intended", "refused lines"))
           or re.match(r"^  lib\S+ \(\d+\):$|^  generic \(\d+\):$", l)]
import datetime
when = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
section = (f"## txlate\n\nWritten by `bench/txlate.sh` {when} (tests/it/txlate.rs says what is "
           "selected and compared).\n\n```\n" + "\n".join(summary) + "\n```\n")
path = "docs/figures.md"
doc = open(path).read()
lines = doc.split("\n")
lines = [l for l in lines if not l.startswith("| iptables translation tests")]
# The row goes at the end of the ratios table.
last = max(i for i, l in enumerate(lines) if l.startswith("|"))
lines.insert(last + 1, row)
doc = "\n".join(lines)
doc = re.sub(r"\n## txlate\n\n.*?```\n.*?\n```\n", "\n", doc, flags=re.S)
doc = doc.rstrip("\n") + "\n\n" + section
open(path, "w").write(doc)
print("written: docs/figures.md")
PY
