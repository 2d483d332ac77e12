#!/usr/bin/env bash
# Builds the Debian packages into target/debian/:
#   overlayfw_VERSION_amd64.deb          a static musl binary (the nft backend), for any distro
#   overlayfw-netlink_VERSION_amd64.deb  glibc, with the netlink backend (links GPL-2.0+ libnftnl)
# Needs: cargo-deb (cargo install --locked cargo-deb), the musl target (rustup target add
# x86_64-unknown-linux-musl) and musl-gcc (apt-get install musl-tools); for the netlink
# variant, pkg-config, libnftnl-dev and libmnl-dev. Usage: scripts/package.sh [musl|netlink|all]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
MUSL=x86_64-unknown-linux-musl

# Man pages and completions, written by the binary itself.
assets() { # binary
  rm -rf target/assets
  mkdir -p target/assets/man target/assets/completions
  "$1" man --dir target/assets/man
  gzip -9nf target/assets/man/*.1 target/assets/man/*.5
  "$1" completions bash > target/assets/completions/overlayfw
  "$1" completions zsh > target/assets/completions/_overlayfw
  "$1" completions fish > target/assets/completions/overlayfw.fish
}

if [ "$what" = musl ] || [ "$what" = all ]; then
  cargo build --release --locked --target "$MUSL"
  assets "target/$MUSL/release/overlayfw"
  cargo deb --no-build --target "$MUSL" --output target/debian/
fi
if [ "$what" = netlink ] || [ "$what" = all ]; then
  cargo build --release --locked --features netlink
  assets target/release/overlayfw
  cargo deb --no-build --variant netlink --output target/debian/
fi
ls -l target/debian/*.deb
