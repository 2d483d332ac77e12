#!/usr/bin/env bash
# Checks the static package that scripts/package.sh built against a glibc build of the same
# source: the .deb holds the binary, the man pages, the completions and the boot unit, and
# depends on nftables; its binary is static; and it prints byte for byte what the glibc binary
# prints (standard output, standard error, exit status) for every example and ok case, in
# every output form, and for a 100,000-rule policy (bench/gen.py). Any difference fails.
# Usage: scripts/check-package.sh DEB GLIBC_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# = 2 ] || { echo "usage: $0 DEB GLIBC_BINARY" >&2; exit 2; }
DEB=$1
GLIBC=$(realpath "$2")
fail() {
  echo "check-package: $*" >&2
  exit 1
}
[ -f "$DEB" ] || fail "no package at $DEB"
[ -x "$GLIBC" ] || fail "no glibc binary at $GLIBC"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# What the package holds.
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's,^\./,/,' > "$TMP/contents"
for path in \
  /usr/bin/overlayfw \
  /usr/share/man/man1/overlayfw.1.gz \
  /usr/share/man/man1/overlayfw-compile.1.gz \
  /usr/share/man/man1/overlayfw-apply.1.gz \
  /usr/share/man/man5/overlayfw-rules.5.gz \
  /usr/share/bash-completion/completions/overlayfw \
  /usr/share/zsh/vendor-completions/_overlayfw \
  /usr/share/fish/vendor_completions.d/overlayfw.fish; do
  grep -qx "$path" "$TMP/contents" || fail "$DEB lacks $path"
done
grep -Eqx '(/usr)?/lib/systemd/system/overlayfw\.service' "$TMP/contents" \
  || fail "$DEB lacks overlayfw.service"
depends=$(dpkg-deb -f "$DEB" Depends)
[ "$depends" = nftables ] || fail "Depends is \`$depends\`, not \`nftables\` alone"

# The packaged binary is static: no program interpreter, no shared library needed.
dpkg-deb -x "$DEB" "$TMP/root"
MUSL=$TMP/root/usr/bin/overlayfw
[ -x "$MUSL" ] || fail "the packaged /usr/bin/overlayfw is not executable"
if readelf -lW "$MUSL" | grep -q 'INTERP'; then
  fail "the packaged binary asks for a program interpreter (it is not static)"
fi
if readelf -dW "$MUSL" | grep -q '(NEEDED)'; then
  fail "the packaged binary needs shared libraries: $(readelf -dW "$MUSL" | grep '(NEEDED)')"
fi
# Every page the binary writes is packaged.
"$MUSL" man --dir "$TMP/man"
pages=0
for page in "$TMP"/man/*; do
  name=$(basename "$page")
  grep -qx "/usr/share/man/man${name##*.}/$name.gz" "$TMP/contents" || fail "$DEB lacks the page $name"
  pages=$((pages + 1))
done
[ "$pages" -gt 5 ] || fail "the binary wrote only $pages man pages"
# The shipped unit is the one in the tree.
unit=$(find "$TMP/root" -name overlayfw.service -path '*/systemd/system/*')
cmp -s "$unit" packaging/overlayfw.service \
  || fail "the packaged overlayfw.service differs from packaging/overlayfw.service"

# The same output from both binaries. Each run's standard output, standard error and exit
# status are compared; the inputs are named as typed, the same for both.
runs=0
same() { # args...
  local code_g=0 code_m=0
  "$GLIBC" "$@" > "$TMP/g.out" 2> "$TMP/g.err" || code_g=$?
  "$MUSL" "$@" > "$TMP/m.out" 2> "$TMP/m.err" || code_m=$?
  [ "$code_g" = "$code_m" ] || fail "exit $code_m (musl) vs $code_g (glibc): overlayfw $*"
  cmp -s "$TMP/g.out" "$TMP/m.out" || {
    diff "$TMP/g.out" "$TMP/m.out" | head -20 >&2 || true
    fail "standard output differs: overlayfw $*"
  }
  cmp -s "$TMP/g.err" "$TMP/m.err" || {
    diff "$TMP/g.err" "$TMP/m.err" | head -20 >&2 || true
    fail "standard error differs: overlayfw $*"
  }
  runs=$((runs + 1))
}
every_form() { # files and inventory arguments
  same compile "$@"
  same compile --format json "$@"
  same compile --optimize --explain-merges "$@"
  same compile --optimize --format json "$@"
  same check --message-format json "$@"
}
cases=0
for dir in examples/*/; do
  rules=("$dir"*.rules)
  inventory=()
  [ -f "$dir/topology.yaml" ] && inventory=(--inventory "$dir/topology.yaml")
  every_form "${rules[@]}" "${inventory[@]}"
  cases=$((cases + 1))
done
for rules in tests/cases/ok/*.rules; do
  inventory=()
  [ -f "${rules%.rules}.yaml" ] && inventory=(--inventory "${rules%.rules}.yaml")
  every_form "$rules" "${inventory[@]}"
  cases=$((cases + 1))
done
[ "$cases" -gt 3 ] || fail "only $cases cases found"
python3 bench/gen.py 100000 > "$TMP/p100k.rules"
same compile "$TMP/p100k.rules"
same compile --optimize "$TMP/p100k.rules"
[ "$(stat -c %s "$TMP/g.out")" -gt 1000000 ] || fail "the 100,000-rule compile printed too little"
echo "check-package: $DEB: contents, Depends: nftables, static; $runs runs over $cases cases" \
  "and the 100,000-rule policy print the same as $GLIBC"
