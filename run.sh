#!/usr/bin/env bash
# Quick start, part one: installs what is missing, builds the `tailor` program (not the tests), then runs tailor's embedded default
# (`tailor run`). Extra arguments go to `tailor run`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$root/setup.sh" tailor
exec "${TAILOR_BUILD_DIR:-$root/build}/apps/tailor/tailor" run "$@"
