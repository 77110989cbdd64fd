#!/usr/bin/env bash
# Quick start, part two: installs and builds what is missing, then runs every test suite under ctest.
# Extra arguments go to ctest (e.g. -R io_tests).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$root/setup.sh"
cd "${TAILOR_BUILD_DIR:-$root/build}"
exec ctest --output-on-failure --parallel "${TAILOR_JOBS:-2}" "$@"
