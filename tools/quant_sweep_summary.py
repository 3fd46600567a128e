#!/usr/bin/python3
"""Summary of tools/quant_sweep.sh: ROWS (one JSON object per line: model,
scheme, bytes, float32_bytes, snn_accuracy, dnn_accuracy) becomes
OUT/quant_sweep.json, OUT/quant_sweep.md and OUT/quant_sweep.png.

    tools/quant_sweep_summary.py ROWS OUT STEPS
"""
import json
import platform
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main():
    rows_path, out, steps = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = [json.loads(line) for line in open(rows_path)]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.machine())
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": cpu, "steps": int(steps), "encoding": "current",
            "data": "mnist:test (10,000)", "normalization": "data-based, mnist:train (1,000 samples)"}
    json.dump({"meta": meta, "rows": rows}, open(f"{out}/quant_sweep.json", "w"), indent=1)
    with open(f"{out}/quant_sweep.md", "w") as f:
        f.write(f"Weight precision sweep, {meta['date']}, {cpu}; MNIST test set, current encoding, {steps} steps.\n\n")
        f.write("| model | scheme | model bytes | vs float32 | DNN accuracy | SNN accuracy | SNN − float SNN |\n")
        f.write("|---|---|---:|---:|---:|---:|---:|\n")
        for r in rows:
            base = next(x for x in rows if x["model"] == r["model"] and x["scheme"] == "float")
            f.write(f"| {r['model']} | {r['scheme']} | {r['bytes']:,} | "
                    f"{100 * (1 - r['bytes'] / r['float32_bytes']):.1f}% smaller "
                    f"| {100 * r['dnn_accuracy']:.2f}% | {100 * r['snn_accuracy']:.2f}% "
                    f"| {100 * (r['snn_accuracy'] - base['snn_accuracy']):+.2f} |\n")

    # Accuracy against bits per weight: int:K (max and l1 steps) as curves,
    # ternary at 2 bits and qsq (each Ø) at 3, float32 as a line.
    models = sorted({r["model"] for r in rows})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        rs = {r["scheme"]: 100 * r["snn_accuracy"] for r in rows if r["model"] == model}
        for rule, style in (("max", "o-"), ("l1", "s--")):
            pts = sorted((int(s.split(":")[1]), a) for s, a in rs.items() if s.startswith("int:")
                         and (s.endswith(":l1") == (rule == "l1")))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"int:K ({rule} step)")
        if "ternary" in rs:
            ax.plot([2], [rs["ternary"]], "^", markersize=9, label="ternary")
        for s, a in rs.items():
            if s.startswith("qsq"):
                lv = s.split("levels=")[1] if "levels=" in s else "4"
                ax.plot([3], [a], "D", label=f"qsq, Ø = {lv}")
        if "float" in rs:
            ax.axhline(rs["float"], color="gray", linestyle=":", label="float32")
        ax.set_xlabel("bits per weight")
        ax.set_ylabel(f"SNN accuracy, {steps} steps (%)")
        ax.set_title(model)
        ax.set_xticks(range(2, 9))
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("MNIST test set: accuracy against weight precision")
    fig.tight_layout()
    fig.savefig(f"{out}/quant_sweep.png", dpi=110)
    print(open(f"{out}/quant_sweep.md").read())


if __name__ == "__main__":
    main()
