#!/usr/bin/env bash
# How much of a network's time is its layer-by-layer conv and dense kernels'
# list building and summing (sim/layerwise.cpp; on the MNIST CNN, conv2 and the
# classifier), measured by taking them out:
#   tools/bench/ablate_conv.sh NET [ROUNDS] [-- snn_bench_samples options]
# builds snn_bench_samples four times from a copy of HEAD (in a temporary git
# worktree; the repository is left as it is), each with one edit of
# sim/layerwise.cpp:
#   base      as committed
#   no-sum    Lists::sum returns the constant: the lists are built, never summed
#   no-build  the lists are built for the first 8 steps only; later steps sum
#             those again (same lengths and memory traffic as a real list)
#   neither   both edits
# and runs them in turn, ROUNDS times (default 6), printing each one's median
# µs per image (the lower middle one of an even count, as ab_samples.sh). About
# 20 minutes on 2 cores, most of it the four builds. The edited builds compute wrong spikes (later layers then see
# other inputs, so "neither" also slightly under-counts the rest's work): they
# are upper bounds on what faster lists or sums could gain, not results.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 NET [ROUNDS] [-- snn_bench_samples options]" >&2; exit 2; }
[ -f "$1" ] || { echo "$0: network $1 not found" >&2; exit 2; }
net="$(realpath "$1")"; shift
rounds=6
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds="$1"; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
[ $# -gt 0 ] || set -- --data mnist:test --images 300 --repeats 3
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
tmp="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$tmp/src" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git -C "$root" worktree add --detach "$tmp/src" HEAD >/dev/null 2>&1
# Data sets are looked up under data/datasets (git-ignored): the copy reads the repository's.
[ -d "$root/data/datasets" ] && ln -s "$root/data/datasets" "$tmp/src/data/datasets"
/usr/bin/python3 - "$tmp/src/sim/layerwise.cpp" <<'EOF'
import sys
path = sys.argv[1]
s = open(path).read()
edits = [
    ("        for (int q = 0; q < longest[slot]; ++q)\n",
     "#ifdef SNN_ABLATE_NO_SUM\n        return;\n#endif\n        for (int q = 0; q < longest[slot]; ++q)\n"),
    ("        if (t0 + Ways < r.steps) lists.build(",
     "#ifdef SNN_ABLATE_NO_BUILD\n        if (t0 == 0 && t0 + Ways < r.steps)\n#else\n        if (t0 + Ways < r.steps)\n#endif\n        lists.build("),
]
for old, new in edits:
    if s.count(old) != 1:
        sys.exit(f"ablate_conv.sh: sim/layerwise.cpp no longer has this line once: {old.strip()!r}")
    s = s.replace(old, new)
open(path, "w").write(s)
EOF
variants=(base no-sum no-build neither)
flags=("" "-DSNN_ABLATE_NO_SUM" "-DSNN_ABLATE_NO_BUILD" "-DSNN_ABLATE_NO_SUM -DSNN_ABLATE_NO_BUILD")
for i in "${!variants[@]}"; do
  b="$tmp/build-${variants[$i]}"
  echo "building ${variants[$i]} ($b)" >&2
  { cmake -S "$tmp/src" -B "$b" -DCMAKE_BUILD_TYPE=Release -DSNN_BUILD_BENCH=ON -DCMAKE_CXX_FLAGS="${flags[$i]}" &&
    cmake --build "$b" --target snn_bench_samples -j"$(nproc)"; } >"$tmp/build-${variants[$i]}.log" 2>&1 ||
    { tail -n 30 "$tmp/build-${variants[$i]}.log" >&2; echo "$0: the ${variants[$i]} build failed" >&2; exit 1; }
done
declare -A times
for _ in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    times[$v]+=" $(cd "$tmp/src" && "$tmp/build-$v/snn_bench_samples" "$net" "$@" | cut -d' ' -f1)"
  done
done
echo "$(git -C "$root" rev-parse --short HEAD), $net, $rounds rounds of: snn_bench_samples $*"
for v in "${variants[@]}"; do
  printf '%-9s median %8.2f us per image   (%s )\n' "$v" \
    "$(printf '%s\n' ${times[$v]} | sort -g | awk '{x[NR]=$1} END {print x[int((NR+1)/2)]}')" "${times[$v]}"
done
