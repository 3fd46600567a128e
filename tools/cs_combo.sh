#!/usr/bin/env bash
# 002's Fig. 2 (f) as SNNs (docs/compressive-sensing.md, "Compression,
# pruning and 5-bit weights together"): the unconstrained MLP (002's topology
# on the raw 784 pixels), the same topology on rd = 196 Rademacher
# measurements (25 % compression), and that network with 50 % random
# connectivity in its two hidden layers (pruned after training, and trained
# with that connectivity as 002 does), 5-bit weights, and both; each converted
# with data-based normalization on mnist:train (1000 samples) and run on the
# MNIST test set (current encoding, STEPS steps, default 64). Prints a
# Markdown table and writes OUT/cs_combo.jsonl (OUT defaults to out/cs_combo/).
#   tools/cs_combo.sh [OUT] [STEPS]
# Models (environment): DR_MODEL (default data/models/mnist_dr_mlp.h5),
# CS_MODEL (data/models/mnist_cs196_mlp.h5), CP_MODEL
# (data/models/mnist_cs196_cp50_mlp.h5, trained with --cs-prune 0.5
# --cs-prune-seed 1); SNN (default build/snn); THREADS (default 2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/out/cs_combo}"
steps="${2:-64}"
snn="${SNN:-$root/build/snn}"
dr="${DR_MODEL:-$root/data/models/mnist_dr_mlp.h5}"
cs="${CS_MODEL:-$root/data/models/mnist_cs196_mlp.h5}"
cp="${CP_MODEL:-$root/data/models/mnist_cs196_cp50_mlp.h5}"
threads="${THREADS:-2}"
py=/usr/bin/python3
for m in "$dr" "$cs" "$cp"; do [ -f "$m" ] || { echo "cs_combo.sh: no model $m" >&2; exit 1; }; done
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rows="$out/cs_combo.jsonl"
: >"$rows"
# 002 prunes and quantizes the two hidden layers (dense, dense_1) and leaves
# the 32 -> 10 classifier alone. CP_MODEL's removed weights are the ones this
# --prune (seed 1) removes, so pruning it takes away only zeros.
prune="--prune dense=random:0.5,dense_1=random:0.5 --prune-seed 1"
quant="--quantize dense=int:5,dense_1=int:5"
cases=(
    "unconstrained|$dr|"
    "rd196|$cs|"
    "rd196 + int:5|$cs|$quant"
    "rd196 + prune 50% after training|$cs|$prune"
    "rd196 + prune 50% after training + int:5|$cs|$prune $quant"
    "rd196 trained at 50% connectivity + prune 50%|$cp|$prune"
    "rd196 trained at 50% connectivity + prune 50% + int:5|$cp|$prune $quant"
)
for c in "${cases[@]}"; do
    IFS='|' read -r name model args <<<"$c"
    net="$tmp/net.snn.h5"
    # shellcheck disable=SC2086 # args is a list of options
    "$snn" convert "$model" -o "$net" --calib mnist:train --calib-samples 1000 $args >/dev/null
    "$snn" inspect "$net" --json >"$tmp/inspect.json"
    "$snn" run "$net" --data mnist:test --steps "$steps" --encode current --threads "$threads" --quiet \
        --report "$tmp/report.json" >/dev/null
    "$py" - "$name" "$(basename "$model")" "$args" "$tmp/inspect.json" "$tmp/report.json" >>"$rows" <<'PY'
import json, sys
name, model, args, insp, rep = sys.argv[1:6]
i, r = json.load(open(insp)), json.load(open(rep))
t = i["totals"]
print(json.dumps({"case": name, "model": model, "convert_args": args, "dnn_accuracy": r["dnn_accuracy"],
                  "snn_accuracy": r["accuracy"], "synaptic_ops_per_sample": r["synaptic_ops_per_sample"],
                  "synapses": t["synapses"], "full_synapses": t["full_synapses"], "bytes": t["bytes"],
                  "float32_bytes": t["float32_bytes"]}))
PY
    echo "$name done" >&2
done
"$py" - "$rows" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = rows[0]
print("| case | `snn convert` options | DNN accuracy | SNN accuracy | SNN − unconstrained SNN | DNN − unconstrained DNN "
      "| nonzero weights | model bytes | synaptic ops / image |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print("| %s | %s | %.2f %% | %.2f %% | %+.2f | %+.2f | %d of %d | %d | %.0f |" % (
        r["case"], ("`" + r["convert_args"] + "`") if r["convert_args"] else "-", 100 * r["dnn_accuracy"],
        100 * r["snn_accuracy"], 100 * (r["snn_accuracy"] - base["snn_accuracy"]),
        100 * (r["dnn_accuracy"] - base["dnn_accuracy"]), r["synapses"], r["full_synapses"], r["bytes"],
        r["synaptic_ops_per_sample"]))
PY
