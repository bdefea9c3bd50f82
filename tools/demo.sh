#!/usr/bin/env bash
# The README's main command: install what is missing, build, and run the op benchmark on every
# backend this machine has, writing the table to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
if [ -f build/build.ninja ]; then meson configure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build
mkdir -p out
build/tools/winwin-bench ops --csv out/bench-ops.csv "$@" | tee out/bench-ops.txt
echo "results: out/bench-ops.txt, out/bench-ops.csv"
