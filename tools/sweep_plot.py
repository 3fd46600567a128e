#!/usr/bin/python3
"""Plot of an `snn sweep` report (docs/sweep.md): SNN accuracy against
synaptic operations per input and against model bytes, one point per row,
labelled by its lever values, a star where the row is on the accuracy / energy
front. Refused rows are listed under the plot, not drawn.
A hybrid sweep (an edge lever) adds a third panel in 001's Table III pattern:
each row's energy per input at the edge and in the cloud, stacked, with the
share of inputs that left at the edge's exit above each bar.

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
    hybrid = any("exit_rate" in r for r in ran)
    if hybrid:
        fig = plt.figure(figsize=(12, 10))
        grid = fig.add_gridspec(2, 2)
        axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])]
    else:
        fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, key, xlabel in ((axes[0], "synaptic_ops_per_input", "synaptic operations per input"),
                            (axes[1], "model_bytes", "model bytes (snn inspect totals.bytes)")):
        for r in ran:
            front = r.get("front", False)   # on the accuracy / energy front: a star
            ax.plot(r[key], 100 * r["accuracy"], "*" if front else "o", markersize=10 if front else 6)
            ax.annotate(label(r, names), (r[key], 100 * r["accuracy"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("SNN accuracy (%)")
        ax.grid(alpha=0.3)
    if hybrid:
        ax = axes[2]
        xs = list(range(len(ran)))
        edge = [r["energy_pj_per_input_by_device"]["edge"] * 1e-6 for r in ran]
        cloud = [r["energy_pj_per_input_by_device"]["cloud"] * 1e-6 for r in ran]
        ax.bar(xs, edge, label="edge", color="tab:orange")
        ax.bar(xs, cloud, bottom=edge, label="cloud", color="tab:blue")
        for x, e, c, r in zip(xs, edge, cloud, ran):
            ax.annotate(f"{100 * r['exit_rate']:.0f}% exit\n{100 * r['accuracy']:.1f}%", (x, e + c), fontsize=6,
                        ha="center", xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(xs)
        ax.set_xticklabels([label(r, names) for r in ran], rotation=60, ha="right", fontsize=6)
        ax.set_ylabel("energy per input (µJ)")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
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
