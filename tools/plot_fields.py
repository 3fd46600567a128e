#!/usr/bin/python3
"""Receptive fields of a layer learned by `snn learn`, as a PNG grid.

  /usr/bin/python3 tools/plot_fields.py learned.snn.h5 -o fields.png

Reads the first projection of the first spiking population (input → learned
layer; a dense matrix of inputs × units) and draws each unit's input weights
as an image of the input's shape (h × w, channels averaged), one tile per
unit, each scaled to its own maximum, with the unit's class label (from
/labels) above it.
"""
import argparse
import math
import sys

import h5py
import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("network")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--columns", type=int, default=0, help="tiles per row (default: about square)")
    a = ap.parse_args()
    try:
        f = h5py.File(a.network, "r")
    except OSError as e:
        sys.exit(f"plot_fields: {a.network}: cannot open ({e})")
    with f:
        if f.attrs.get("format") not in ("snn-network", b"snn-network"):
            sys.exit(f"plot_fields: {a.network}: not an snn network file")
        h, w, c = (int(v) for v in f["populations/000"].attrs["shape"])
        pop = f["populations/001"]
        proj = pop["projections/000"]
        kind = proj.attrs["kind"]
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind != "dense":
            sys.exit(f"plot_fields: {a.network}: population 001 reads the input through a {kind} projection, not dense")
        weights = np.asarray(proj["weights"][()], dtype=np.float64)
        labels = f["labels"][()] if "labels" in f else None
    units = weights.shape[1]
    if weights.shape[0] != h * w * c:
        sys.exit(f"plot_fields: {a.network}: {weights.shape[0]} weight rows for an input of {h}x{w}x{c}")
    cols = a.columns or math.ceil(math.sqrt(units))
    rows = math.ceil(units / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.0), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= units:
            continue
        field = weights[:, k].reshape(h, w, c).mean(axis=2)
        top = field.max()
        ax.imshow(field / top if top > 0 else field, cmap="gray_r", vmin=0, vmax=1)
        if labels is not None:
            ax.set_title(str(int(labels[k])) if labels[k] >= 0 else "–", fontsize=7, pad=1)
    fig.suptitle(f"{units} receptive fields (label above each)", fontsize=9)
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, 0.97))
    tmp = a.output + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    import os
    os.replace(tmp, a.output)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
