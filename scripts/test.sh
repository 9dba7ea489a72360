#!/bin/bash
# test.sh - install dependencies, build, run the whole test suite.
# Ends with ctest's summary line; the exit code is ctest's.
#   DFS_SLOW_TESTS=1   also run the long soak tests
#   SANITIZE=address   build and test in build-asan with AddressSanitizer
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
if [ -n "${SANITIZE:-}" ]; then
  export BUILD_DIR="${BUILD_DIR:-$ROOT/build-$SANITIZE}"
  "$ROOT/scripts/build.sh" -DSANITIZE="$SANITIZE"
else
  export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
  "$ROOT/scripts/build.sh"
fi
cd "$BUILD_DIR"
exec ctest --output-on-failure --no-tests=error -j2 --timeout 900
