#!/bin/bash
# build.sh - configure and build into build/ (BUILD_DIR to change it).
# Extra CMake options may be given as arguments (e.g. -DSANITIZE=address).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
cmake -S "$ROOT" -B "$BUILD_DIR" -DWERROR=ON "$@" >/dev/null
cmake --build "$BUILD_DIR" -j2
