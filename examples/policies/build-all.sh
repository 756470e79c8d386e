#!/usr/bin/env bash
# Builds the three example policies from source (installing the pinned tools first if missing)
# and prints each one's build time and size. Outputs: rust-strict/strict.wasm,
# js-patient/patient.wasm, python-windowed/windowed.wasm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/install-tools.sh" >/dev/null

summary=()
for build in rust-strict/build.sh js-patient/build.sh python-windowed/build.sh; do
    echo "== $build"
    start_ms=$(($(date +%s%N) / 1000000))
    "$here/$build"
    elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
    summary+=("$(printf '%-26s %4d.%01d s' "$build" $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100)))")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
for wasm in rust-strict/strict.wasm js-patient/patient.wasm python-windowed/windowed.wasm; do
    printf '%-32s %10d bytes\n' "$wasm" "$(wc -c <"$here/$wasm")"
done
