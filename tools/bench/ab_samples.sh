#!/usr/bin/env bash
# Two builds of the engine compared on a machine whose speed drifts:
#   tools/bench/ab_samples.sh BUILD_A BUILD_B NET [ROUNDS] [-- snn_bench_samples options]
# runs BUILD_A/snn_bench_samples and BUILD_B/snn_bench_samples alternately,
# ROUNDS times each (default 6), and prints each build's fastest and median
# round in µs per image (see bench/bench_samples.cpp).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BUILD_A BUILD_B NET [ROUNDS] [-- options]" >&2; exit 2; }
a="$1" b="$2" net="$3"; shift 3
rounds=6
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds="$1"; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
for d in "$a" "$b"; do
  [ -x "$d/snn_bench_samples" ] || { echo "$0: $d/snn_bench_samples not found (build with SNN_BUILD_BENCH=ON)" >&2; exit 2; }
done
ta=() tb=()
for _ in $(seq "$rounds"); do
  ta+=("$("$a/snn_bench_samples" "$net" "$@" | cut -d' ' -f1)")
  tb+=("$("$b/snn_bench_samples" "$net" "$@" | cut -d' ' -f1)")
done
summary() { printf '%s\n' "$@" | sort -g | awk '{x[NR]=$1} END {printf "fastest %.2f, median %.2f us per image over %d rounds\n", x[1], x[int((NR+1)/2)], NR}'; }
echo "A $a: $(summary "${ta[@]}")   (${ta[*]})"
echo "B $b: $(summary "${tb[@]}")   (${tb[*]})"
