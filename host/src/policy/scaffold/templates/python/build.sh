#!/usr/bin/env bash
# Builds {{name}}.wasm next to this script from app.py with componentize-py
# (`pip install componentize-py==0.25.1`, or point COMPONENTIZE_PY at it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
componentize_py="${COMPONENTIZE_PY:-componentize-py}"
if ! command -v "$componentize_py" >/dev/null; then
    echo "componentize-py not found: install it or set COMPONENTIZE_PY" >&2
    exit 1
fi
cd "$here"
"$componentize_py" -d wit -w policy componentize app -o "{{name}}.wasm"
echo "built $here/{{name}}.wasm ($(wc -c <"{{name}}.wasm") bytes)"
