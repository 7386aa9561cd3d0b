#!/usr/bin/env bash
# Configures (once) and builds kiln into ${KILN_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${KILN_BUILD:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=debugoptimized
fi
ninja -C "$build"
