#!/usr/bin/env bash
# Two builds' `snn run` compared on a machine whose speed drifts:
#   tools/bench/ab_run.sh OLD_SNN NEW_SNN ROUNDS NET... [-- snn run options]
# For each network and thread count (1 and 2), runs OLD and NEW alternately
# ROUNDS times each on the whole MNIST test set (64 steps, current encoding,
# no DNN pass) and prints each build's median images/s and NEW/OLD, the
# median of the ratios of the runs side by side.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 OLD_SNN NEW_SNN ROUNDS NET... [-- options]" >&2; exit 2; }
old="$1" new="$2" rounds="$3"; shift 3
nets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do nets+=("$1"); shift; done
[ $# -gt 0 ] && shift
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rate() { "$1" run "$2" --data mnist:test --steps 64 --threads "$3" --no-dnn --quiet --report "$tmp/r.json" "${@:4}" &&
         "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["samples_per_second"])' "$tmp/r.json"; }
for net in "${nets[@]}"; do
    for t in 1 2; do
        a=() b=()
        for _ in $(seq "$rounds"); do
            a+=("$(rate "$old" "$net" "$t" "$@")")
            b+=("$(rate "$new" "$net" "$t" "$@")")
        done
        "$py" - "$net" "$t" "${a[*]}" "${b[*]}" <<'PY'
import statistics, sys
net, t, a, b = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
r = statistics.median(y / x for x, y in zip(a, b))
print(f"{net} threads {t}: old {statistics.median(a):.1f} img/s, new {statistics.median(b):.1f} img/s, new/old {r:.3f} "
      f"(old {' '.join(f'{x:.0f}' for x in a)}; new {' '.join(f'{x:.0f}' for x in b)})")
PY
    done
done
