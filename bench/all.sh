#!/usr/bin/env bash
# Every whole-run benchmark of the performance and diff/apply issues, then ONE table of the
# ratios with the goals they are held to. Runs bench/compile.sh and bench/check-1k.sh always;
# bench/musl.sh when the musl target is installed (rustup target add x86_64-unknown-linux-musl);
# bench/apply-diff.sh and bench/dataplane.sh only as root (they need network namespaces), the
# latter only with iperf3; bench/txlate.sh as root when OVERLAYFW_TXLATE names an iptables
# source tree (iptables' translation tests). Each script's own table is printed as it finishes; the ratios and
# every script's table are written to docs/figures.md (the only place figures are kept).
# The stages one by one: `cargo bench` (benches/stages.rs).
# Usage: bench/all.sh [RULES]   (RULES for apply-diff.sh, default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run() { # name, script...
  local name=$1
  shift
  echo "== $name"
  "$@" | tee "$OUT/$name.txt"
  echo
}
run compile bash bench/compile.sh
run check bash bench/check-1k.sh
if rustup target list --installed 2> /dev/null | grep -qx x86_64-unknown-linux-musl; then
  run musl bash bench/musl.sh
else
  echo "== musl: skipped (rustup target add x86_64-unknown-linux-musl)"
fi
if [ "$(id -u)" = 0 ]; then
  run apply-diff bash bench/apply-diff.sh "${1:-100000}"
  if command -v iperf3 > /dev/null; then
    run dataplane bash bench/dataplane.sh
  else
    echo "== dataplane: skipped (no iperf3; apt-get install iperf3)"
  fi
  if [ -n "${OVERLAYFW_TXLATE:-}" ]; then
    run txlate bash bench/txlate.sh "$OVERLAYFW_TXLATE"
  else
    echo "== txlate: skipped (set OVERLAYFW_TXLATE to an iptables source tree)"
  fi
else
  echo "== apply-diff, dataplane, txlate: skipped (not root)"
fi
python3 - "$OUT" <<'PY'
import os, re, sys
out = sys.argv[1]
def text(name):
    path = os.path.join(out, name + ".txt")
    return open(path).read() if os.path.exists(path) else ""
rows = []
def row(what, value, goal, met):
    rows.append((what, value, goal, "" if met is None else ("met" if met else "NOT met")))
c = text("compile")
m = re.search(r"^100000\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", c, re.M)
if m:
    size, secs, mib, check, translate, ratio = (float(x) for x in m.groups())
    row("compile 100k / iptables-restore-translate", f"{ratio:.2f}", "<= 0.12", ratio <= 0.12)
    row("compile 100k peak memory / input size", f"{mib / size:.1f}x", "<= 3.5x", mib / size <= 3.5)
m = re.search(r"scaling 10k -> 100k: ([\d.]+)x", c)
if m:
    row("compile time 100k / 10k", m.group(1) + "x", "<= 11x", float(m.group(1)) <= 11)
m = re.search(r"musl compile: ([\d.]+)x the wall time of glibc's, ([\d.]+)x its CPU time", text("musl"))
if m:
    wall, cpu = float(m.group(1)), float(m.group(2))
    row("musl compile 100k / glibc (wall time)", f"{wall:.2f}x", "<= 1.1x", wall <= 1.1)
    row("musl compile 100k / glibc (CPU time)", f"{cpu:.2f}x", "<= 1.1x", cpu <= 1.1)
m = re.search(r"1,000 rules: (\d+) µs", text("check"))
if m:
    row("check of 1,000 rules", f"{int(m.group(1)) / 1000:.1f} ms", "interactive", None)
a = text("apply-diff")
m = re.search(r"netlink is ([\d.]+)x faster than nft -f and uses ([\d.]+)x less memory", a)
if m:
    row("netlink apply speed-up over nft -f", m.group(1) + "x", ">= 2x", float(m.group(1)) >= 2)
    row("netlink apply memory saving over nft -f", m.group(2) + "x", ">= 5x", float(m.group(2)) >= 5)
m = re.search(r"can be more than ([\d.]+)x faster", a)
if m:
    row("  (bound set by the kernel's own time)", m.group(1) + "x", "", None)
m = re.search(r"diff: ([\d.]+)x the time", a)
if m:
    row("diff / nft -j list alone", m.group(1) + "x", "<= 1.2x", float(m.group(1)) <= 1.2)
m = re.search(r"live diff: ([\d.]+)x the time of nft -j list alone, peak (\d+) MiB", a)
if m:
    row("live diff (netlink) / nft -j list alone", m.group(1) + "x", "<= 0.10x", float(m.group(1)) <= 0.10)
    row("live diff peak memory", m.group(2) + " MiB", "<= 64 MiB", int(m.group(2)) <= 64)
m = re.search(r"unchanged since the last apply: ([\d.]+)x the compile", a)
if m:
    row("diff unchanged since the last apply / compile", m.group(1) + "x", "<= 1.5x", float(m.group(1)) <= 1.5)
m = re.search(r"one-line edit: ([\d.]+)x the time of apply --replace", a)
if m:
    row("one-line edit apply / apply --replace", m.group(1) + "x", "<= 0.10x", float(m.group(1)) <= 0.10)
m = re.search(r"set elements: 1,000 changes in a 10,000-element FWset took ([\d.]+) s", a)
if m:
    row("1,000 FWset element changes (of 10,000)", m.group(1) + " s", "<= 0.5 s", float(m.group(1)) <= 0.5)
m = re.search(r"stats: ([\d.]+)x the time of nft -j list", a)
if m:
    row("stats / nft -j list alone", m.group(1) + "x", "<= 0.10x", float(m.group(1)) <= 0.10)
m = re.search(r"loads ([\d.]+)x faster than plain and ([\d.]+)x faster", a)
if m:
    row("--optimize load speed-up over plain", m.group(1) + "x", ">= 5x", float(m.group(1)) >= 5)
    row("--optimize load speed-up over the translator", m.group(2) + "x", ">= 5x", float(m.group(2)) >= 5)
m = re.search(r"^--optimize.*?\s([\d.]+)\s*$", text("dataplane"), re.M)
if m:
    row("data plane: --optimize / no rules", m.group(1), ">= 0.80", float(m.group(1)) >= 0.80)
m = re.search(r"^plain.*?\s([\d.]+)\s*$", text("dataplane"), re.M)
if m:
    row("data plane: plain / no rules", m.group(1), "", None)
m = re.search(r"^txlate figures: .*?: ([\d.]+)% of all", text("txlate"), re.M)
if m:
    pct = float(m.group(1))
    row("iptables translation tests (filter/nat): compile and agree (or differ as intended)",
        f"{pct:.1f}%", ">= 90%", pct >= 90)
# Without the lines iptables-nft itself refuses (which overlayfw must refuse too).
m = re.search(r"^txlate figures: .*?, ([\d.]+)% of the (\d+) lines iptables accepts", text("txlate"), re.M)
if m:
    acc = float(m.group(1))
    row(f"iptables translation tests (filter/nat), the {m.group(2)} lines iptables-nft accepts: compile and agree (or differ as intended)",
        f"{acc:.1f}%", ">= 90%", acc >= 90)
w = max(len(r[0]) for r in rows) if rows else 10
print("== all ratios")
print(f"{'ratio':<{w}}  {'measured':>10}  {'goal':>12}  result")
for what, value, goal, met in rows:
    print(f"{what:<{w}}  {value:>10}  {goal:>12}  {met}")
import datetime, platform, subprocess
def cmd(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "not found"
with open("docs/figures.md", "w") as f:
    f.write("# Figures\n\nWritten by `bench/all.sh` (do not edit by hand): "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"{os.cpu_count()} cores, kernel {platform.release()}, {cmd('nft', '--version')}.\n"
            "See performance.md for what each figure measures.\n\n")
    f.write("| ratio | measured | goal | result |\n|---|---|---|---|\n")
    for what, value, goal, met in rows:
        f.write(f"| {what.strip()} | {value} | {goal} | {met} |\n")
    for name in ("compile", "check", "musl", "apply-diff", "dataplane", "txlate"):
        t = text(name)
        if name == "txlate":
            t = "\n".join(l for l in t.splitlines()
                          if l.startswith(("txlate figures:", "left out:", "differ as intended", "refused lines"))
                          or re.match(r"^  (lib\S+|generic) \(\d+\):$", l))
        if t:
            f.write(f"\n## {name}\n\n```\n{t.rstrip()}\n```\n")
print("written: docs/figures.md")
PY
