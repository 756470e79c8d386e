#!/usr/bin/env bash
# apt-install.sh PKG...: installs Debian packages, through sudo when not root. Used by the
# install-*.sh scripts, which first check whether what they need is already there.
set -euo pipefail
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing $* with apt-get" >&2
$SUDO apt-get update >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "$@" >&2
