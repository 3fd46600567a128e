#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer (tests/fuzz/fuzz_*.cpp).
#
#   tools/fuzz.sh [SECONDS] [TARGET ...]     (default: 60 s each, every target)
#   SNN_FUZZ_RUNS=N tools/fuzz.sh [SECONDS] [TARGET ...]
#
# With SNN_FUZZ_RUNS, each target runs until it has executed N inputs
# (libFuzzer's -runs, which counts the seed corpus too), and SECONDS is only a
# time cap: 0 means none (`SNN_FUZZ_RUNS=1000000 tools/fuzz.sh 0 idx keras`).
# A target that hits the cap first stops there and says how far it got.
# SNN_FUZZ_WORKERS=W (with SNN_FUZZ_RUNS) splits the executions between W
# processes fuzzing from the same corpus at once, one per core
# (`SNN_FUZZ_RUNS=1000000 SNN_FUZZ_WORKERS=2 tools/fuzz.sh 0 keras`); the
# last line counts the executions of all of them.
#
# Builds with Debian's clang, AddressSanitizer and UndefinedBehaviorSanitizer
# into build-fuzz/ (-DSNN_FUZZ=ON), replays the inputs that once crashed a
# target (tests/fuzz/regressions/<target>/, which must all pass now), then runs
# each target for SECONDS from its seed corpus (tests/fuzz/corpus/<target>/,
# made by tools/make_fuzz_seeds.py). New corpus entries go to
# build-fuzz/corpus/<target>/; a crash is written to build-fuzz/artifacts/ and
# fails the script. The last line of each target says how many inputs it ran.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx options keras keras3 network dataset_h5 onnx nir cut_message)
build="$root/build-fuzz"
jobs="$(nproc)"

if [ "${SNN_FUZZ_NO_BUILD:-0}" != "1" ]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNN_FUZZ=ON \
        -DSNN_SANITIZE=ON -DSNN_NATIVE=OFF -DSNN_BUILD_TESTS=OFF >/dev/null
    cmake --build "$build" -j "$jobs" --target "${targets[@]/#/snn_fuzz_}"
fi
runs_wanted="${SNN_FUZZ_RUNS:-}"
if [ -n "$runs_wanted" ] && ! [[ "$runs_wanted" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: SNN_FUZZ_RUNS must be a positive number of executions, not '$runs_wanted'" >&2
    exit 2
fi
workers="${SNN_FUZZ_WORKERS:-1}"
if ! [[ "$workers" =~ ^[1-9][0-9]*$ ]] || { [ "$workers" -gt 1 ] && [ -z "$runs_wanted" ]; }; then
    echo "fuzz.sh: SNN_FUZZ_WORKERS must be a positive number, and above 1 only with SNN_FUZZ_RUNS, not '$workers'" >&2
    exit 2
fi
limit=(-max_total_time="$seconds")
[ -z "$runs_wanted" ] || [ "$workers" -gt 1 ] || limit+=(-runs="$runs_wanted")

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
    exe="$build/snn_fuzz_$t"
    regressions=("$root/tests/fuzz/regressions/$t"/*)
    if [ -e "${regressions[0]}" ]; then
        echo "== $t: replaying ${#regressions[@]} past crash input(s)"
        "$exe" -runs=0 "${regressions[@]}" >"$build/$t.regressions.log" 2>&1 ||
            { tail -n 40 "$build/$t.regressions.log"; status=1; continue; }
    fi
    if [ -n "$runs_wanted" ]; then
        echo "== $t: fuzzing for $runs_wanted executions (time cap: ${seconds}s, 0 = none)"
    else
        echo "== $t: fuzzing for ${seconds}s"
    fi
    started=$SECONDS
    mkdir -p "$build/corpus/$t"
    # -timeout: one input may not take more than 10 s; -rss_limit_mb: nor 2 GiB
    # (our readers refuse arrays above --max-memory, set to 64 MiB by the harnesses).
    fuzz_one() { # LOG ARTIFACT_PREFIX [extra libFuzzer flags]
        "$exe" "$build/corpus/$t" "$root/tests/fuzz/corpus/$t" "${limit[@]}" -max_len=16384 \
            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$2" "${@:3}" >"$1" 2>&1
    }
    logs=()
    if [ "$workers" -gt 1 ]; then
        pids=()
        for w in $(seq "$workers"); do
            logs+=("$build/$t.worker$w.log")
            fuzz_one "${logs[-1]}" "$build/artifacts/$t-w$w-" -runs=$(( (runs_wanted + workers - 1) / workers )) \
                -seed=$w &
            pids+=($!)
        done
        failed=0
        for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    else
        logs+=("$build/$t.log")
        failed=0
        fuzz_one "${logs[0]}" "$build/artifacts/$t-" || failed=1
    fi
    if [ $failed = 1 ]; then
        for log in "${logs[@]}"; do tail -n 60 "$log"; done
        echo "== $t: FAILED (the input is in $build/artifacts/)"
        status=1
        continue
    fi
    runs=0
    for log in "${logs[@]}"; do runs=$(( runs + $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") )); done
    cov="$(grep -h -o 'cov: [0-9]*' "${logs[@]}" | sort -k2 -n | tail -n 1)"
    by=""; [ "$workers" -gt 1 ] && by=" by $workers workers"
    echo "== $t: ok, $runs inputs in $((SECONDS - started))s$by, $cov"
done
exit $status
