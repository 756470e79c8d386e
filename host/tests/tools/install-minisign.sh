#!/usr/bin/env bash
# Installs Debian's `minisign` CLI, which the bundle interop tests sign and verify with.
# Idempotent: does nothing when `minisign` is already on PATH. Called by .ci/test.
set -euo pipefail
if command -v minisign >/dev/null 2>&1; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" minisign
