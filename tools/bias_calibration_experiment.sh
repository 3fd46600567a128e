#!/usr/bin/env bash
# Bias calibration (snn convert --calibrate-bias T) against plain conversion
# at few time steps, on the MNIST test set:
#   tools/bias_calibration_experiment.sh [OUT_DIR] [MODELS...]
# For each model and T in 4 8 16 32: converts it with the defaults, and with
# --calibrate-bias T on 1000 training images, runs both at T steps, and
# writes OUT_DIR/summary.md (the DNN's accuracy, both SNNs', and the
# conversion time of the calibrated one).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/out/bias_calibration}"
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(mnist_mobilenet mnist_cnn mnist_mlp)
snn="${SNN:-$root/build/snn}" py=/usr/bin/python3
mkdir -p "$out"
acc() { $py -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.2f' % (100*d[sys.argv[2]]))" "$@"; }
{
    echo "| model | steps | DNN | SNN | SNN, biases calibrated | conversion time (calibrated) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for m in "${models[@]}"; do
        "$snn" convert "$root/data/models/$m.h5" -o "$out/$m.snn.h5" --calib mnist:train >/dev/null
        for T in 4 8 16 32; do
            start=$EPOCHREALTIME
            "$snn" convert "$root/data/models/$m.h5" -o "$out/$m.bc$T.snn.h5" --calib mnist:train --calibrate-bias "$T" >/dev/null
            secs=$($py -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$EPOCHREALTIME")
            "$snn" run "$out/$m.snn.h5" --data mnist:test --steps "$T" -q --report "$out/$m.T$T.json"
            "$snn" run "$out/$m.bc$T.snn.h5" --data mnist:test --steps "$T" -q --report "$out/$m.bc$T.json"
            printf '| %s | %d | %s %% | %s %% | %s %% | %.0f s |\n' "$m" "$T" "$(acc "$out/$m.T$T.json" dnn_accuracy)" \
                "$(acc "$out/$m.T$T.json" accuracy)" "$(acc "$out/$m.bc$T.json" accuracy)" "$secs"
        done
    done
} >"$out/summary.md"
cat "$out/summary.md"
