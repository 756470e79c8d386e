#!/usr/bin/env bash
# Builds strict.wasm next to this script from source (Rust + wit-bindgen, wasm32-wasip2).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
# --locked: the committed Cargo.lock decides every dependency version.
cargo build --release --locked --target wasm32-wasip2
cp target/wasm32-wasip2/release/strict_policy.wasm "$here/strict.wasm"
echo "built $here/strict.wasm ($(wc -c <"$here/strict.wasm") bytes)"
