#!/usr/bin/env bash
# Builds the three example policies from source, transpiles each component to JavaScript with
# jco and runs their decision tables under Node's test runner (test/*.test.mjs).
# `--no-build` reuses the .wasm files already built.
# This checks the policies' own logic and their WIT signatures; loading them in mcpproxy's
# wasmtime host is tested by the host's own suite.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [ "${1:-}" != "--no-build" ]; then
    ./build-all.sh
else
    ./install-tools.sh >/dev/null
fi

tools="$here/.tools"
node22="$tools/node_modules/.bin/node"
jco="$tools/node_modules/@bytecodealliance/jco/dist/jco.js"
out="$tools/transpiled"
mkdir -p "$out"
# The transpiled modules are ES modules.
echo '{ "type": "module" }' >"$out/package.json"
for wasm in rust-strict/strict.wasm js-patient/patient.wasm python-windowed/windowed.wasm; do
    name="$(basename "$wasm" .wasm)"
    rm -rf "${out:?}/$name"
    # The policy's one import, mcpproxy:policy/host, comes from the harness (relative to the output).
    "$node22" "$jco" transpile "$wasm" -o "$out/$name" --quiet \
        --map 'mcpproxy:policy/host=../../../test/host.js'
    "$node22" "$jco" wit "$wasm" >"$out/$name/component.wit"
done

"$node22" --test "$here"/test/*.test.mjs
