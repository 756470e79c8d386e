#!/usr/bin/env bash
# Rebuilds policies/default.wasm (mcpproxy's embedded default policy) from policies/default/.
#
#   policies/build.sh          rebuild and overwrite policies/default.wasm
#   policies/build.sh --check  rebuild into a temporary dir and compare the bytes with the
#                              committed policies/default.wasm (exit 1 if they differ)
#
# The build is reproducible: the lock file pins every crate, source paths are remapped to
# fixed prefixes (so the checkout, cargo home and target dir do not leak into the bytes), and
# the release profile has one codegen unit and no debug info. The bytes do depend on the Rust
# toolchain; the committed file was built with the version in EXPECTED_RUSTC.
set -euo pipefail

EXPECTED_RUSTC="rustc 1.95.0"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate="$here/default"
committed="$here/default.wasm"

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

rustc_version="$(rustc --version)"
case "$rustc_version" in
  "$EXPECTED_RUSTC"*) ;;
  *) echo "warning: $rustc_version is not $EXPECTED_RUSTC; the bytes may differ" >&2 ;;
esac

if [[ $check -eq 1 ]]; then
  target_dir="$(mktemp -d)"
  trap 'rm -rf "$target_dir"' EXIT
else
  target_dir="$crate/target"
fi

cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# Later prefixes win when several match, so the most specific comes last.
export RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$here=/mcpproxy/policies --remap-path-prefix=$target_dir=/target"
export SOURCE_DATE_EPOCH=0
unset CARGO_BUILD_RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

cargo build --quiet --locked --release --target wasm32-wasip2 \
  --manifest-path "$crate/Cargo.toml" --target-dir "$target_dir"

built="$target_dir/wasm32-wasip2/release/mcpproxy_default_policy.wasm"

if [[ $check -eq 1 ]]; then
  if cmp -s "$built" "$committed"; then
    echo "policies/default.wasm is reproducible ($(wc -c <"$committed") bytes)"
  else
    echo "policies/default.wasm differs from a rebuild of policies/default/ ($(wc -c <"$built") vs $(wc -c <"$committed") bytes): run policies/build.sh and commit the result" >&2
    exit 1
  fi
else
  cp "$built" "$committed"
  echo "wrote $committed ($(wc -c <"$committed") bytes)"
fi
