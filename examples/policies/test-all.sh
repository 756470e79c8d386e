#!/usr/bin/env bash
# Builds the three example policies from source, runs the Rust and Python unit tests natively,
# then transpiles each component to JavaScript with jco and runs their contract and decision
# tables under Node's test runner (test/*.test.mjs).
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

# The pure decision code, natively: Rust unit tests, and Python unit tests against the generated
# bindings (componentize-py writes them; the component build generates its own).
cargo test --quiet --locked --manifest-path "$here/rust-strict/Cargo.toml"
rm -rf "${tools:?}/pybindings" # componentize-py refuses to write into an existing folder
"$tools/venv/bin/componentize-py" -d "$here/../../wit/0.1.0" -w policy bindings "$tools/pybindings" >/dev/null
PYTHONPATH="$here/python-windowed:$tools/pybindings" "$tools/venv/bin/python" -m unittest discover -s "$here/test" -p 'test_*.py'

# The built components, through jco.
"$node22" --test "$here"/test/*.test.mjs
