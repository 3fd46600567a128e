#!/usr/bin/env bash
# Binary layers (issue 4's measurements; an experiment, not a test: about
# 3 minutes on 2 cores). The shipped binary-weight CNN (data/models/mnist_bcnn.h5,
# Larq layout) converted to a binary SNN and to the float SNN of the same
# shape (--no-binary: the same ±alpha weights held as floats), both with one
# scale per layer on 1,000 mnist:train images; weight bytes by `snn inspect`;
# accuracy at 64 steps on the full MNIST test set; images/s of both on one
# thread; `convert --binarize conv2` on the float CNN; the kernel
# micro-benchmarks. Writes out/binary/*.json and out/binary/summary.md.
# Needs tools/setup.sh and tools/build.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/out/binary"
mkdir -p "$out"
snn="$out/snn" # a copy: a rebuild during the run changes nothing
cp "$root/build/snn" "$snn"
calib=(--calib mnist:train --norm-granularity layer)

"$snn" convert "$root/data/models/mnist_bcnn.h5" -o "$out/bcnn.snn.h5" "${calib[@]}" >/dev/null
"$snn" convert "$root/data/models/mnist_bcnn.h5" -o "$out/bcnn_float.snn.h5" "${calib[@]}" --no-binary >/dev/null
"$snn" convert "$root/data/models/mnist_cnn.h5" -o "$out/cnn_conv2_binary.snn.h5" "${calib[@]}" --binarize conv2 >/dev/null
"$snn" inspect --json "$out/bcnn.snn.h5" >"$out/inspect_binary.json"
"$snn" inspect --json "$out/bcnn_float.snn.h5" >"$out/inspect_float.json"
"$snn" inspect "$out/bcnn.snn.h5"
for net in bcnn bcnn_float cnn_conv2_binary; do
    echo "== $net: MNIST test set, 64 steps, 1 thread"
    "$snn" run "$out/$net.snn.h5" --data mnist:test --steps 64 --threads 1 --report "$out/run_$net.json"
done
echo "== kernels"
"$root/build/snn_bench_kernels" --seconds 1 --json "$out/kernels.json" | tee "$out/kernels.txt"
/usr/bin/python3 "$root/tools/binary_summary.py" "$out" >"$out/summary.md"
cat "$out/summary.md"
