#!/bin/bash
# test.sh - install dependencies, build (warnings are errors), run the whole
# test suite with ctest. The last line printed is ctest's summary line
# ("100% tests passed, 0 tests failed out of N"); the exit code is ctest's.
#   DFS_SLOW_TESTS=1   also run the long soak variants
#   SANITIZE=address   build and test in build-address/ with AddressSanitizer
#                      (also undefined, thread, address,undefined)
#   BUILD_DIR=...      build directory (default build/)
#   CTEST_ARGS="-L integration"   extra ctest arguments
# Integration tests use port 0 and their own temporary directories, so they
# run two at a time (-j2) safely.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
if [ -n "${SANITIZE:-}" ]; then
  export BUILD_DIR="${BUILD_DIR:-$ROOT/build-${SANITIZE//,/-}}"
  "$ROOT/scripts/build.sh" -DSANITIZE="$SANITIZE"
else
  export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
  "$ROOT/scripts/build.sh" -DSANITIZE=
fi
cd "$BUILD_DIR"
log="$BUILD_DIR/ctest-last.log"
set +e
# shellcheck disable=SC2086
ctest --output-on-failure --no-tests=error -j2 --timeout 900 ${CTEST_ARGS:-} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# ctest lists the failed tests after its summary; repeat the summary last.
summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
echo
echo "${summary:-ctest: no summary line (exit code $rc)}"
exit "$rc"
