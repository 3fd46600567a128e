#!/usr/bin/env bash
# Fresh machine → the main demo: set-up, build, convert the shipped MNIST CNN,
# split it across two devices, inspect it, simulate it on the MNIST test set and
# print the report: its operating point (the first step within 0.3 points of
# the DNN, with what an input costs up to there) and a per-layer comparison with
# the DNN on 100 samples (--diagnose).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/setup.sh"
"$root/tools/build.sh"
out="$root/out"
mkdir -p "$out"
snn="$root/build/snn"
"$snn" convert "$root/data/models/mnist_cnn.h5" -o "$out/cnn.snn.h5" \
    --calib mnist:train --calib-samples 1000 --norm percentile:99.9
# The first convolutional block on an edge device, the rest in the cloud: the
# report then counts the spikes and bytes crossing the cut, and energy per device.
"$snn" partition "$out/cnn.snn.h5" edge:conv1-pool1,cloud:conv2-dense
"$snn" inspect "$out/cnn.snn.h5"
"$snn" run "$out/cnn.snn.h5" --data mnist:test --steps 64 --encode current --threads "$(nproc)" \
    --report "$out/run.json" --record "$out/spikes.h5" --record-samples 1 --diagnose 100
/usr/bin/python3 "$root/tools/plot_report.py" "$out/run.json" --record "$out/spikes.h5" -o "$out"
echo "report: $out/run.json; plots: $out/*.png"
