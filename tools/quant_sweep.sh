#!/usr/bin/env bash
# Accuracy against weight precision for the shipped MLP and CNN
# (docs/quantization.md): each is converted (data-based normalization on
# mnist:train) in float32 and with every scheme, then run on the MNIST test set
# (current encoding, STEPS steps, default 64). Writes OUT/quant_sweep.json,
# OUT/quant_sweep.md and OUT/quant_sweep.png (OUT defaults to out/quant/).
#   tools/quant_sweep.sh [OUT] [STEPS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/out/quant}"
steps="${2:-64}"
snn="${SNN:-$root/build/snn}"
py=/usr/bin/python3
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
schemes=(float int:8 int:7 int:6 int:5 int:4 int:3 int:2 int:4:l1 int:2:l1 ternary qsq qsq:16:levels=2 qsq:16:levels=1)
rows="$tmp/rows.jsonl"
: >"$rows"
for model in mnist_mlp mnist_cnn; do
    for s in "${schemes[@]}"; do
        net="$tmp/net.snn.h5"
        q=()
        [ "$s" != float ] && q=(--quantize "$s")
        "$snn" convert "$root/data/models/$model.h5" -o "$net" --calib mnist:train "${q[@]}" >/dev/null
        "$snn" inspect "$net" --json >"$tmp/inspect.json"
        "$snn" run "$net" --data mnist:test --steps "$steps" --quiet --report "$tmp/report.json" >/dev/null
        "$py" - "$model" "$s" "$tmp/inspect.json" "$tmp/report.json" >>"$rows" <<'PY'
import json, sys
model, scheme, insp, rep = sys.argv[1:5]
i, r = json.load(open(insp)), json.load(open(rep))
print(json.dumps({"model": model, "scheme": scheme, "bytes": i["totals"]["bytes"],
                  "float32_bytes": i["totals"]["float32_bytes"], "snn_accuracy": r["accuracy"],
                  "dnn_accuracy": r["dnn_accuracy"]}))
PY
        echo "$model $s done" >&2
    done
done
"$py" "$root/tools/quant_sweep_summary.py" "$rows" "$out" "$steps"
