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
"$py" - "$rows" "$out" "$steps" <<'PY'
import json, platform, subprocess, sys, time
rows_path, out, steps = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(rows_path)]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
meta = {"date": time.strftime("%Y-%m-%d"), "machine": cpu, "steps": int(steps), "encoding": "current",
        "data": "mnist:test (10,000)", "normalization": "data-based, mnist:train (1,000 samples)"}
json.dump({"meta": meta, "rows": rows}, open(f"{out}/quant_sweep.json", "w"), indent=1)
with open(f"{out}/quant_sweep.md", "w") as f:
    f.write(f"Weight precision sweep, {meta['date']}, {cpu}; MNIST test set, current encoding, {steps} steps.\n\n")
    f.write("| model | scheme | model bytes | vs float32 | DNN accuracy | SNN accuracy | SNN − float SNN |\n")
    f.write("|---|---|---:|---:|---:|---:|---:|\n")
    for r in rows:
        base = next(x for x in rows if x["model"] == r["model"] and x["scheme"] == "float")
        f.write(f"| {r['model']} | {r['scheme']} | {r['bytes']:,} | {100 * (1 - r['bytes'] / r['float32_bytes']):.1f}% smaller "
                f"| {100 * r['dnn_accuracy']:.2f}% | {100 * r['snn_accuracy']:.2f}% "
                f"| {100 * (r['snn_accuracy'] - base['snn_accuracy']):+.2f} |\n")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(7, 4))
for model, mark in (("mnist_mlp", "o"), ("mnist_cnn", "s")):
    rs = [r for r in rows if r["model"] == model]
    ax.plot([r["bytes"] / 1024 for r in rs], [100 * r["snn_accuracy"] for r in rs], mark, label=model)
    for r in rs:
        ax.annotate(r["scheme"], (r["bytes"] / 1024, 100 * r["snn_accuracy"]), fontsize=6, xytext=(3, 2),
                    textcoords="offset points")
ax.set_xscale("log")
ax.set_xlabel("model bytes (KiB, codes + scales + biases)")
ax.set_ylabel(f"SNN accuracy, {steps} steps (%)")
ax.set_title("MNIST: accuracy against weight precision")
ax.legend()
fig.tight_layout()
fig.savefig(f"{out}/quant_sweep.png", dpi=120)
print(open(f"{out}/quant_sweep.md").read())
PY
