#!/usr/bin/env bash
# The MLPerf Tiny visual-wake-words MobileNetV1 as an SNN, against its own DNN
# on probe images (there is no VWW data here; docs/conversion.md):
#   tools/vww_experiment.sh [OUT_DIR] [STEPS]   (default out/vww, 256 steps)
# Makes a probe set and calibration set with tools/make_vww_probe.py (seed 2:
# the conversion recipe below was chosen on seed 1's probes, so these are
# held out), converts the model with the defaults and with one scale per
# layer, percentile 99.99 and signed spikes, runs both, and writes
# OUT_DIR/summary.md: agreement with the DNN by probe kind and by logit margin.
# About 10 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/out/vww}" steps="${2:-256}"
snn="${SNN:-$root/build/snn}" py=/usr/bin/python3
model="${SNN_SHARED_DIR:-$root/../shared}/data/keras-real/tiny_vww_96_mobilenet.h5"
[ -f "$model" ] || { echo "$0: $model not found (../shared/data/keras-real)" >&2; exit 1; }
mkdir -p "$out"
[ -f "$out/probe.h5" ] || $py "$root/tools/make_vww_probe.py" --out "$out/probe.h5" --calib "$out/calib.h5" --seed 2 >"$out/probe.log"
run() { # name convert-flags...
    local name=$1; shift
    "$snn" convert "$model" -o "$out/$name.snn.h5" --calib "$out/calib.h5" --calib-samples 200 "$@" >/dev/null
    "$snn" run "$out/$name.snn.h5" --data "$out/probe.h5" --steps "$steps" -q \
        --report "$out/$name.json" --predictions "$out/$name.pred"
}
run default
run layer_p9999_signed --norm-granularity layer --norm percentile:99.99 --signed-spikes
$py "$root/tools/vww_summary.py" "$out/probe.h5" "$out/default" "$out/layer_p9999_signed" >"$out/summary.md"
cat "$out/summary.md"
