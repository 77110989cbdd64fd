#!/usr/bin/env bash
# Quick start, part one: installs and builds what is missing, then runs tailor's embedded default
# (`tailor run`). Extra arguments go to `tailor run`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$root/setup.sh"
exec "${TAILOR_BUILD_DIR:-$root/build}/apps/tailor/tailor" run "$@"
