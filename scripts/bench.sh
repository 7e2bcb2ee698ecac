#!/bin/sh
# The main job on a fresh Debian 12 machine: installs what is missing, builds tfenc (release),
# prints what this CPU offers and runs the end-to-end encoder benchmark on a built-in preset.
# Extra arguments go to `tfenc bench` (default: --preset bert-base --seq 128).
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages gcc meson ninja-build pkg-config libcjson-dev
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build tfenc
build/tfenc info
if [ $# -eq 0 ]; then
    set -- --preset bert-base --seq 128
fi
# Passive waiting: idle OpenMP workers sleep instead of spinning between calls (the fair
# setting on shared machines; tfenc spins only inside a call, see README "Threads").
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} exec build/tfenc bench "$@"
