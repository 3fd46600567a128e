#!/usr/bin/env bash
# The pipeline's latency and bytes per input at several windows (--window),
# under plain mpirun on this machine (two ranks, no test bed): the shipped CNN
# converted as tools/pipeline_bench.sh does, split after pool1, no exit, the
# first LIMIT MNIST test images, 32 steps. One table row per window and round.
#
#   tools/window_bench.sh SNN [LIMIT] [ROUNDS] [WINDOWS...]   (defaults 100, 3, 32 8 1)
set -euo pipefail
snn="$(realpath "${1:?usage: tools/window_bench.sh SNN [LIMIT] [ROUNDS] [WINDOWS...]}")"
limit="${2:-100}" rounds="${3:-3}"
shift $(($# < 3 ? $# : 3))
windows=("$@")
[ "${#windows[@]}" -gt 0 ] || windows=(32 8 1)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py=/usr/bin/python3
work="$(mktemp -d "${TMPDIR:-/tmp}/snn-window-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$snn" convert "$root/data/models/mnist_cnn.h5" -o "$work/cnn.snn.h5" --calib mnist:train --calib-samples 500 >/dev/null
echo "| window | latency ms (mean / median / p95) | inputs/s | message bytes/input | coded steps bytes/input | meter bytes/input |"
echo "|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
    for w in "${windows[@]}"; do
        mpirun --oversubscribe --mca btl_vader_single_copy_mechanism none -np 2 "$snn" run "$work/cnn.snn.h5" \
            --data mnist:test --limit "$limit" --steps 32 --threads 1 --quiet --no-dnn \
            --partition edge:conv1-pool1,cloud:conv2-dense --distributed pipeline --window "$w" --report "$work/r.json"
        "$py" - "$work/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d, c = r["distributed"], r["cuts"][0]
print(f"| {d['window']} | {d['latency_ms_mean']:.1f} / {d['latency_ms_median']:.1f} / {d['latency_ms_p95']:.1f} | "
      f"{r['samples_per_second']:.0f} | {c['message_bytes_sent']:.1f} | {c['message_payload_bytes']:.1f} | {c['bytes']:.1f} |")
PY
    done
done
