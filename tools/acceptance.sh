#!/usr/bin/env bash
# The measurements behind the README's accuracy tables (an experiment, not a
# test: about 30 minutes on 2 cores). Writes out/acceptance/*.json and
# out/acceptance/summary.md. Needs tools/setup.sh and tools/build.sh first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/out/acceptance"
mkdir -p "$out"
# A copy of the binary, so that a rebuild during the run changes nothing.
snn="$out/snn"
cp "$root/build/snn" "$snn"
shared="${SNN_SHARED_DIR:-$root/../shared}/data/keras-real"
threads="$(nproc)"

convert_and_run() { # name model calib data steps [extra run flags...]
    local name=$1 model=$2 calib=$3 data=$4 steps=$5
    shift 5
    echo "== $name"
    # The plain conversion (the defaults changed since this table was measured: docs/latency.md).
    "$snn" convert "$model" -o "$out/$name.snn.h5" --calib "$calib" --calib-samples 1000 --norm percentile:99.9 \
        --norm-granularity layer --v-init 0 --readout spikes >/dev/null
    "$snn" run "$out/$name.snn.h5" --data "$data" --steps "$steps" --threads "$threads" -q --report "$out/$name.json" "$@"
}

convert_and_run mnist_mlp "$root/data/models/mnist_mlp.h5" mnist:train mnist:test 256
convert_and_run mnist_cnn "$root/data/models/mnist_cnn.h5" mnist:train mnist:test 256
convert_and_run mnist_cnn_bn_maxpool "$root/data/models/mnist_cnn_bn_maxpool.h5" mnist:train mnist:test 256
convert_and_run fashion_cnn "$root/data/models/fashion_cnn.h5" fashion-mnist:train fashion-mnist:test 256
if [ -d "$shared" ]; then
    convert_and_run real_mnist_dnn "$shared/mnist_dnn_model.h5" mnist:train mnist:test 128
    convert_and_run real_mnist_cnn "$shared/mnist_cnn_model.h5" mnist:train mnist:test 128
    # No CIFAR-10 here: MNIST digits padded to 32x32, repeated over 3 channels,
    # scaled to 0..255 (the range the MLPerf-Tiny ResNet-8 was trained on).
    /usr/bin/python3 "$root/tools/make_rgb_digits.py" --split train --count 1000 --scale 255 -o "$out/rgb_train.h5" >/dev/null
    /usr/bin/python3 "$root/tools/make_rgb_digits.py" --split test --count 1000 --scale 255 -o "$out/rgb_test.h5" >/dev/null
    convert_and_run resnet8 "$shared/cifar10_resnet8_pretrainedResnet.h5" "$out/rgb_train.h5" "$out/rgb_test.h5" 256
    echo "== resnet8_vinit_membrane (--v-init 0.5, membrane readout)"
    "$snn" convert "$shared/cifar10_resnet8_pretrainedResnet.h5" -o "$out/resnet8_vinit.snn.h5" \
        --calib "$out/rgb_train.h5" --calib-samples 1000 --norm percentile:99.9 --v-init 0.5 \
        --norm-granularity layer --readout spikes >/dev/null
    "$snn" run "$out/resnet8_vinit.snn.h5" --data "$out/rgb_test.h5" --steps 256 --threads "$threads" -q \
        --readout membrane --report "$out/resnet8_vinit_membrane.json"
    echo "== resnet8_signed_max_membrane (--norm max --v-init 0.5 --signed-spikes, membrane readout)"
    "$snn" convert "$shared/cifar10_resnet8_pretrainedResnet.h5" -o "$out/resnet8_signed.snn.h5" \
        --calib "$out/rgb_train.h5" --calib-samples 1000 --norm max --v-init 0.5 --signed-spikes \
        --norm-granularity layer --readout spikes >/dev/null
    "$snn" run "$out/resnet8_signed.snn.h5" --data "$out/rgb_test.h5" --steps 256 --threads "$threads" -q \
        --readout membrane --report "$out/resnet8_signed_max_membrane.json"
fi
/usr/bin/python3 "$root/tools/summarize_reports.py" "$out"/*.json > "$out/summary.md"
cat "$out/summary.md"
