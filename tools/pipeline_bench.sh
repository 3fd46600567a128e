#!/usr/bin/env bash
# The shipped CNN split after pool1 (edge: conv1-pool1, cloud: conv2-dense)
# as a two-rank pipeline over the test bed's shaped edge→cloud link
# (tools/testbed.sh), without and with an exit on the edge, and the DNN
# baseline run the same way with its activations sent as int8
# (--dnn-pipeline, no exit): per-input latency, inputs per second, and bytes
# per input on the link (the messages, and their payload: the meter's coded
# steps, or the DNN's int8 codes), from each run's report. The last byte
# column is what the DNN's int8 activations across the cut take per input
# (the meter's dnn_bytes_int8).
#
#   tools/pipeline_bench.sh SNN [LIMIT] [RATE] [DELAY]   (defaults: 200 MNIST test images, 1mbit, 50ms)
# Needs what tools/testbed.sh needs (root, /dev/net/tun, OpenMPI); brings the
# test bed up under the name "bench" and takes it down again.
set -euo pipefail
snn="$(realpath "${1:?usage: tools/pipeline_bench.sh SNN [LIMIT] [RATE] [DELAY]}")"
limit="${2:-200}" rate="${3:-1mbit}" delay="${4:-50ms}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py=/usr/bin/python3
export SNN_TESTBED_NAME=bench
work="$(mktemp -d "${TMPDIR:-/tmp}/snn-pipeline-bench.XXXXXX")"
trap '"$root/tools/testbed.sh" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
split=edge:conv1-pool1,cloud:conv2-dense

"$snn" convert "$root/data/models/mnist_cnn.h5" -o "$work/cnn.snn.h5" --calib mnist:train --calib-samples 500 >/dev/null
cp "$work/cnn.snn.h5" "$work/cnn_exit.snn.h5"
"$snn" exits train "$work/cnn_exit.snn.h5" --at pool1 --data mnist:train --limit 2000 --steps 32 --iterations 200 \
    --threshold 0.3 --check-every 8 >/dev/null

"$root/tools/testbed.sh" up --hosts 2 --rate "$rate" --delay "$delay" >/dev/null
run() { # name net extra...
    local name="$1" net="$2"
    shift 2
    "$root/tools/testbed.sh" mpirun -np 2 "$snn" run "$work/$net" --data mnist:test --limit "$limit" --steps 32 \
        --threads 1 --quiet --no-dnn --partition "$split" --distributed pipeline --timeout 120 --report "$work/$name.json" "$@"
}
run snn cnn.snn.h5
run snn_exit cnn_exit.snn.h5
run dnn cnn.snn.h5 --dnn-pipeline
"$root/tools/testbed.sh" down >/dev/null

echo "MNIST test images: $limit, 32 steps, link edge→cloud: $rate, $delay one way"
"$py" - "$work" <<'PY'
import json, sys
w = sys.argv[1]
print(f"| run | latency ms (mean / median / p95) | inputs/s | message bytes/input | payload bytes/input | DNN int8 bytes/input | accuracy % | left at the edge % |")
print("|---|---|---|---|---|---|---|---|")
for name, label in (("snn", "SNN, no exit"), ("snn_exit", "SNN, exit after pool1"), ("dnn", "DNN, int8 activations, no exit")):
    r = json.load(open(f"{w}/{name}.json"))
    d, cut = r["distributed"], r["cuts"][0]
    edge = next((e["taken"] for e in r.get("exits", []) if e.get("at") == "pool1"), 0.0)
    # The SNN's report: the cut's neurons times the share of inputs crossing; the DNN's: its activations, every input.
    int8 = cut["activations"] if "activations" in cut else cut["dnn_bytes_int8"]
    print(f"| {label} | {d['latency_ms_mean']:.1f} / {d['latency_ms_median']:.1f} / {d['latency_ms_p95']:.1f} | "
          f"{r['samples_per_second']:.2f} | {cut['message_bytes_sent']:.1f} | {cut['message_payload_bytes']:.1f} | "
          f"{int8:.1f} | {100 * r['accuracy']:.2f} | {100 * edge:.1f} |")
PY
