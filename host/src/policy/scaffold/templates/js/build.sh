#!/usr/bin/env bash
# Builds {{name}}.wasm next to this script from policy.js with componentize-js.
# Every optional WASI feature is switched off, so the component imports only mcpproxy:policy/host.
# componentize-js: `npm install @bytecodealliance/componentize-js@0.23.0` and put its .bin on PATH,
# or point COMPONENTIZE_JS at it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
componentize="${COMPONENTIZE_JS:-componentize-js}"
if ! command -v "$componentize" >/dev/null; then
    echo "componentize-js not found: install it or set COMPONENTIZE_JS" >&2
    exit 1
fi
"$componentize" "$here/policy.js" \
    --wit "$here/wit" --world-name policy \
    --disable stdio random clocks http fetch-event \
    -o "$here/{{name}}.wasm"
echo "built $here/{{name}}.wasm ($(wc -c <"$here/{{name}}.wasm") bytes)"
