#!/usr/bin/env bash
# snn against PyTorch and Brian2 on the shipped MNIST networks, from a fresh
# machine: set-up, build, the peers' packages, then tools/bench/bench.py with
# the arguments given (see its --help). About 20 minutes on 2 cores for the
# default (3 models × 3 step counts × 1 and 2 threads, Brian2 on 200 images).
# Writes out/bench/bench.{json,md}.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/tools/setup.sh"
"$root/tools/build.sh"
"$root/tools/bench/setup.sh"
exec /usr/bin/python3 "$root/tools/bench/bench.py" "$@"
