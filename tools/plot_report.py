#!/usr/bin/env python3
"""Draw the figures of one `snn` run report.

    /usr/bin/python3 tools/plot_report.py run.json [--record spikes.h5] [-o outdir]

Writes, into outdir (default: the report's folder), PNGs named after the report:
  <stem>_accuracy.png    accuracy against simulation steps (log2 axis), with the
                         DNN's accuracy as a horizontal line
  <stem>_spike_rate.png  spike rate and synaptic operations per layer
  <stem>_raster.png      (with --record) spike raster of the first recorded sample
With a `diagnosis` in the report (snn run --diagnose K):
  <stem>_correlation.png  per layer, the SNN's rate × λ against the DNN's
                          activation (a sample of units), with the correlation
  <stem>_error_steps.png  per layer, mean |SNN − DNN| against steps (log-log)
  <stem>_confusion.png    labels against the SNN's predictions

Report fields read: accuracy_by_step [{step, accuracy}], dnn_accuracy, layers
[{name, neurons, spikes_per_sample, spike_rate, synaptic_ops_per_sample}].

Record file (written by the engine): root attrs `steps`, `samples`; one group per
population, named after it, with attr `neurons` and 1-D int32 datasets `sample`,
`neuron`, `step` of equal length, one entry per spike.

Every PNG is written to a temporary name beside it and renamed into place, so an
interrupted run never leaves a half-written figure.
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, PercentFormatter  # noqa: E402


class UserError(Exception):
    """The input is wrong; reported as one line and exit code 1."""


def save_atomic(fig, path):
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {path}")


def is_fraction(values):
    """Accuracies in [0, 1] are shown as percentages; anything else as stored."""
    return all(0.0 <= v <= 1.0 for v in values)


def plot_accuracy(report, path):
    rows = report.get("accuracy_by_step") or []
    points = sorted((int(r["step"]), float(r["accuracy"])) for r in rows if int(r["step"]) > 0)
    if not points:
        print("no accuracy_by_step entries with step > 0: skipping the accuracy plot", file=sys.stderr)
        return
    steps = [s for s, _ in points]
    acc = [a for _, a in points]
    dnn = report.get("dnn_accuracy")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(steps, acc, "o-", color="tab:blue", label="SNN")
    if dnn is not None:
        ax.axhline(float(dnn), color="tab:red", linestyle="--", label=f"DNN ({float(dnn):.4g})")
    ax.set_xscale("log", base=2)
    # One labelled tick per measured step (they are usually powers of two).
    ax.xaxis.set_major_locator(FixedLocator(steps))
    ax.set_xticklabels([str(s) for s in steps])
    ax.xaxis.set_minor_locator(FixedLocator([]))
    if is_fraction(acc + ([float(dnn)] if dnn is not None else [])):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("simulation steps")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy against simulation time")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right")
    save_atomic(fig, path)


def plot_spike_rates(report, path):
    layers = report.get("layers") or []
    if not layers:
        print("no layers in the report: skipping the spike-rate plot", file=sys.stderr)
        return
    names = [str(layer["name"]) for layer in layers]
    rate = [float(layer["spike_rate"]) for layer in layers]
    ops = [float(layer.get("synaptic_ops_per_sample", 0.0)) for layer in layers]
    x = np.arange(len(names))

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(max(6.4, 0.6 * len(names) + 2), 6.0))
    bars = top.bar(x, rate, color="tab:blue")
    top.bar_label(bars, labels=[f"{r:.3g}" for r in rate], fontsize=8)
    top.set_ylabel("spike rate\n(spikes / neuron / step)")
    top.set_title("Activity per layer")
    top.margins(y=0.15)
    bars = bottom.bar(x, ops, color="tab:green")
    bottom.bar_label(bars, labels=[f"{v:.3g}" for v in ops], fontsize=8)
    bottom.set_ylabel("synaptic ops / sample")
    if any(v > 0 for v in ops):
        bottom.set_yscale("log")
    bottom.margins(y=0.12)
    bottom.set_xticks(x)
    bottom.set_xticklabels(names, rotation=30, ha="right")
    for ax in (top, bottom):
        ax.grid(True, axis="y", alpha=0.3)
    save_atomic(fig, path)


def read_raster(record_path, layer_order):
    """(layer name, neurons, steps, neuron indices) of the first recorded sample, per layer."""
    import h5py

    try:
        f = h5py.File(record_path, "r")
    except OSError as e:
        raise UserError(f"{record_path}: cannot open as HDF5 ({e})")
    with f:
        steps = int(f.attrs["steps"]) if "steps" in f.attrs else None
        groups = [name for name in f if isinstance(f[name], h5py.Group)]
        # HDF5 lists groups by name; keep the network's order where the report gives it.
        rank = {name: i for i, name in enumerate(layer_order)}
        groups.sort(key=lambda g: (rank.get(g, len(rank)), g))
        layers = []
        for name in groups:
            g = f[name]
            for key in ("sample", "neuron", "step"):
                if key not in g:
                    raise UserError(f"{record_path}: group '{name}' has no dataset '{key}'")
            sample, neuron, step = (np.asarray(g[k][()], dtype=np.int64) for k in ("sample", "neuron", "step"))
            if not (len(sample) == len(neuron) == len(step)):
                raise UserError(f"{record_path}: group '{name}': sample, neuron and step differ in length")
            neurons = int(g.attrs["neurons"]) if "neurons" in g.attrs else int(neuron.max(initial=-1)) + 1
            layers.append((name, neurons, sample, step, neuron))
    if not layers:
        raise UserError(f"{record_path}: no population groups")
    nonempty = [s for _, _, s, _, _ in layers if len(s)]
    first = int(min(s.min() for s in nonempty)) if nonempty else 0
    out = [(name, n, st[sa == first], ne[sa == first]) for name, n, sa, st, ne in layers]
    return first, steps, out


def plot_raster(record_path, report, path):
    order = [str(layer["name"]) for layer in report.get("layers") or []]
    sample, steps, layers = read_raster(record_path, order)

    rows = sum(neurons for _, neurons, _, _ in layers)
    fig, ax = plt.subplots(figsize=(8.0, 6.0))
    ax.set_ylim(-0.5, max(rows, 1) - 0.5)
    if not steps:
        steps = 1 + max((int(st.max()) for _, _, st, _ in layers if len(st)), default=0)
    ax.set_xlim(-0.5, steps - 0.5)
    # Each spike is drawn as a cell one step wide and one neuron tall ('_' marker:
    # its length is the cell width, its line width the cell height, in points),
    # so dense layers read as a raster rather than as overlapping ticks.
    box = ax.get_window_extent()
    points_per_pixel = 72.0 / fig.dpi
    cell_w = max(0.5, 0.9 * box.width * points_per_pixel / steps)
    cell_h = max(0.4, box.height * points_per_pixel / max(rows, 1))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    offset = 0
    ticks, labels = [], []
    # Layers stacked bottom to top in network order, each in its own band of rows.
    for i, (name, neurons, step, neuron) in enumerate(layers):
        ax.plot(step, neuron + offset, linestyle="none", marker="_", markersize=cell_w, markeredgewidth=cell_h,
                color=colors[i % len(colors)])
        ticks.append(offset + neurons / 2)
        labels.append(f"{name}\n({neurons})")
        offset += neurons
        if offset < rows:
            ax.axhline(offset - 0.5, color="0.6", linewidth=0.6)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("simulation step")
    ax.set_ylabel("neuron (stacked by layer)")
    total = sum(len(st) for _, _, st, _ in layers)
    ax.set_title(f"Spike raster, sample {sample} ({total} spikes)")
    save_atomic(fig, path)


def plot_correlation(diagnosis, path):
    layers = diagnosis["layers"]
    cols = min(4, len(layers))
    rows = (len(layers) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, layer in zip(axes.flat, layers):
        pts = np.array(layer["points"], dtype=float).reshape(-1, 2)
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=5, alpha=0.5)
            hi = float(max(pts.max(), 1e-9))
            lo = float(min(pts.min(), 0.0))
            ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
        r = layer["correlation"]
        title = layer["name"] + (f"  r = {r:.3f}" if r is not None else "")
        if layer["name"] == diagnosis["worst_layer"]:
            title += "  (worst)"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("DNN activation", fontsize=8)
        ax.set_ylabel("SNN " + ("membrane" if layer["value"] == "membrane" else "rate") + " × λ", fontsize=8)
    for ax in list(axes.flat)[len(layers):]:
        ax.set_visible(False)
    fig.suptitle(f"SNN against DNN, {diagnosis['samples']} samples, {diagnosis['steps']} steps")
    fig.tight_layout()
    save_atomic(fig, path)


def plot_error_steps(diagnosis, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for layer in diagnosis["layers"]:
        rows = [(int(e["step"]), float(e["mean_abs_error"])) for e in layer["error_by_step"]]
        rows = [(t, e) for t, e in rows if e > 0]
        if rows:
            ax.plot(*zip(*rows), marker="o", label=layer["name"])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("steps")
    ax.set_ylabel("mean |SNN − DNN| (DNN units)")
    ax.legend(fontsize=8)
    ax.set_title("error against steps, per layer")
    save_atomic(fig, path)


def plot_confusion(diagnosis, path):
    m = np.array(diagnosis["confusion"], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    im = ax.imshow(m, cmap="Blues")
    n = m.shape[0]
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_title("confusion matrix (SNN)")
    fig.colorbar(im, ax=ax)
    save_atomic(fig, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", help="run report (JSON) written by snn")
    ap.add_argument("--record", help="spike record (HDF5) written by snn --record")
    ap.add_argument("-o", "--outdir", help="where to write the PNGs (default: the report's folder)")
    args = ap.parse_args(argv)

    try:
        try:
            with open(args.report) as f:
                report = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"{args.report}: cannot read the report ({e})")
        if args.record and not os.path.isfile(args.record):
            raise UserError(f"{args.record}: no such file")
        outdir = args.outdir or os.path.dirname(os.path.abspath(args.report))
        os.makedirs(outdir, exist_ok=True)
        stem = os.path.splitext(os.path.basename(args.report))[0]
        try:
            plot_accuracy(report, os.path.join(outdir, f"{stem}_accuracy.png"))
            plot_spike_rates(report, os.path.join(outdir, f"{stem}_spike_rate.png"))
            diagnosis = report.get("diagnosis")
            if diagnosis:
                plot_correlation(diagnosis, os.path.join(outdir, f"{stem}_correlation.png"))
                plot_error_steps(diagnosis, os.path.join(outdir, f"{stem}_error_steps.png"))
                if "confusion" in diagnosis:
                    plot_confusion(diagnosis, os.path.join(outdir, f"{stem}_confusion.png"))
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{args.report}: unexpected report layout ({e!r})")
        if args.record:
            plot_raster(args.record, report, os.path.join(outdir, f"{stem}_raster.png"))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
