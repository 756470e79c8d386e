#!/usr/bin/env bash
# Builds patient.wasm next to this script from policy.js with componentize-js.
# Every optional WASI feature is switched off, so the component imports only mcpproxy:policy/host.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/../.tools"
componentize="$tools/node_modules/.bin/componentize-js"
if [ ! -x "$componentize" ]; then
    echo "componentize-js is missing: run ../install-tools.sh first" >&2
    exit 1
fi
"$componentize" "$here/policy.js" \
    --wit "$here/../../../wit/0.1.0" --world-name policy \
    --disable stdio random clocks http fetch-event \
    -o "$here/patient.wasm"
echo "built $here/patient.wasm ($(wc -c <"$here/patient.wasm") bytes)"
