#!/usr/bin/env bash
# Installs Debian's `chromium` and `chromium-driver` (WebDriver), which the dashboard tests
# and benchmark drive headless. Idempotent: does nothing when both are on PATH. Called by
# .ci/test.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" chromium chromium-driver
