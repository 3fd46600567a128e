#!/usr/bin/env bash
# Fresh machine → every test: installs packages, fetches the data sets, builds,
# runs ctest; then builds again with AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/) and runs the whole suite under them. Any failure or sanitizer
# report fails the command. SNN_SKIP_SANITIZE=1 skips the second pass. Then
# runs each fuzz target for 15 s (tools/fuzz.sh; SNN_SKIP_FUZZ=1 skips it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"
"$root/tools/setup.sh"
"$root/tools/build.sh" -DSNN_WITH_MPI=ON # the MPI test runs here; build-asan leaves MPI out
(cd "$root/build" && ctest --output-on-failure -j "$jobs")
if [ "${SNN_SKIP_SANITIZE:-0}" != "1" ]; then
    echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
    cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNN_SANITIZE=ON -DSNN_NATIVE=OFF >/dev/null
    cmake --build "$root/build-asan" -j "$jobs"
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    (cd "$root/build-asan" && ctest --output-on-failure -j "$jobs")
fi
if [ "${SNN_SKIP_FUZZ:-0}" != "1" ]; then
    # A smoke run of every libFuzzer target (the long campaign: docs/reliability.md).
    echo "== fuzz targets, ${SNN_FUZZ_SECONDS:-15}s each"
    "$root/tools/fuzz.sh" "${SNN_FUZZ_SECONDS:-15}"
fi
