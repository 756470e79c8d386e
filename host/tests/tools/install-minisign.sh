#!/usr/bin/env bash
# Installs Debian's `minisign` CLI, which the bundle interop tests sign and verify with.
# Idempotent: does nothing when `minisign` is already on PATH. Called by .ci/test.
set -euo pipefail
if command -v minisign >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing minisign with apt-get" >&2
$SUDO apt-get update >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y minisign >&2
