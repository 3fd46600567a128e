#!/usr/bin/env bash
# Fresh machine → every test: installs packages, fetches the data sets, builds, runs ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/setup.sh"
"$root/tools/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)"
