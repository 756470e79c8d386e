#!/usr/bin/env bash
# Builds windowed.wasm next to this script from app.py + windowed.py with componentize-py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
componentize_py="$here/../.tools/venv/bin/componentize-py"
if [ ! -x "$componentize_py" ]; then
    echo "componentize-py is missing: run ../install-tools.sh first" >&2
    exit 1
fi
cd "$here"
"$componentize_py" -d ../../../wit/0.1.0 -w policy componentize app -o windowed.wasm
echo "built $here/windowed.wasm ($(wc -c <windowed.wasm) bytes)"
