#!/usr/bin/python3
"""Plot of an `snn sweep` report (docs/sweep.md): SNN accuracy against
synaptic operations per input and against model bytes, one point per row,
labelled by its lever values. Refused rows are listed under the plot, not drawn.

    tools/sweep_plot.py OUT.json OUT.png
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def label(row, names):
    return ", ".join(f"{n}={row['levers'][n]}" for n in names)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: tools/sweep_plot.py OUT.json OUT.png")
    src, png = sys.argv[1], sys.argv[2]
    try:
        report = json.load(open(src))
        rows, names = report["rows"], [l["name"] for l in report["lever_values"]]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"sweep_plot.py: {src} is not an snn sweep report ({e})")
    ran = [r for r in rows if "refused" not in r]
    refused = [r for r in rows if "refused" in r]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, key, xlabel in ((axes[0], "synaptic_ops_per_input", "synaptic operations per input"),
                            (axes[1], "model_bytes", "model bytes (snn inspect totals.bytes)")):
        for r in ran:
            ax.plot(r[key], 100 * r["accuracy"], "o")
            ax.annotate(label(r, names), (r[key], 100 * r["accuracy"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("SNN accuracy (%)")
        ax.grid(alpha=0.3)
    s = report["settings"]
    steps = f", {s['steps']} steps" if "steps" in s else ""
    fig.suptitle(f"snn sweep: {s['model']} on {s['data']} ({s['samples']} inputs, {s['encode']} encoding{steps})")
    if refused:
        fig.text(0.01, 0.01, "refused: " + "; ".join(f"{label(r, names)} ({r['refused']})" for r in refused),
                 fontsize=6, wrap=True)
    fig.tight_layout(rect=(0, 0.06 if refused else 0, 1, 0.95))
    # Through a temporary beside it: never a half-written PNG.
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, png)


if __name__ == "__main__":
    main()
