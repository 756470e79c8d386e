#!/usr/bin/env bash
# Loads the three built example policies in wasmtime 48 the way mcpproxy's host does (fresh Store
# per decision, deny-all WASI, store limits, epoch deadline), replays each expected.json and prints
# load and decision timings. Run ./build-all.sh first. The first run compiles wasmtime (minutes);
# set CARGO_TARGET_DIR to share an existing build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Dev profile with optimised dependencies, as mcpproxy's own test builds: a release build of
# wasmtime takes much longer, and compiled policy code is the same either way.
cargo build --locked --quiet --manifest-path "$here/host-check/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$here/host-check/target}/debug/policy-host-check"
status=0
for folder in rust-strict js-patient python-windowed; do
    wasm=$(sed -n 's/^ *"policy": "\(.*\)",$/\1/p' "$here/$folder/expected.json")
    "$bin" "$here/$folder/$wasm" "$here/$folder/expected.json" || status=1
done
exit $status
