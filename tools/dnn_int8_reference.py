#!/usr/bin/python3
"""Independent check of `snn run --dnn-pipeline` (docs/distributed.md) on a
network of Dense layers.

    tools/dnn_int8_reference.py NET.snn.h5 CUT DATA.h5 PREDICTIONS.txt

NET is a converted network whose populations after the input are Dense
(ReLU, the last linear), CUT the name of the last population on the first
device (the partition `edge:..CUT,cloud:..`). numpy reads the weights from
the file, runs the DNN pass on DATA's x in float64, codes CUT's activations
as int8 as the docs say (scale = max / 255 per input, q = floor(a / scale +
1/2) clipped to 255, read back as q * scale), and compares its classes with
PREDICTIONS (one per line, from snn). snn computes in float32, so an input
may differ where the two are a rounding apart: one whose top two outputs are
within 1e-4 of each other, or one whose class changes when the codes within
1e-4 of a rounding boundary round the other way. Exit status 0 when every
other input agrees, at most 1 % are such near ties, and the int8 codes
change at least one answer of the float pass (else the check shows nothing).
`--make-data IMAGES LABELS N DATA.h5` writes a data set for it from MNIST's
idx files: images blended with noise, so that answers are close calls.
"""
import gzip
import os
import sys

import h5py
import numpy as np


def main(net_path, cut, data_path, predictions_path):
    with h5py.File(net_path, "r") as f:
        pops = [f["populations"][k] for k in sorted(f["populations"])]
        layers = []
        for p in pops[1:]:
            proj = p["projections"]["000"]
            if proj.attrs["kind"] != "dense" or len(p["projections"]) != 1:
                sys.exit(f"population {p.attrs['name']}: only single Dense projections are handled here")
            layers.append((p.attrs["name"], np.asarray(proj["weights"], np.float64), np.asarray(p["bias"], np.float64)))
    with h5py.File(data_path, "r") as f:
        x = np.asarray(f["x"], np.float64).reshape(len(f["x"]), -1)
    got = np.loadtxt(predictions_path, dtype=int)
    def forward(alternative):
        """The classes; `alternative`: codes within 1e-4 of a rounding boundary take the other side."""
        a = x
        for k, (name, w, b) in enumerate(layers):
            a = a @ w + b
            if k < len(layers) - 1:
                a = np.maximum(a, 0.0)
            if name == cut:
                scale = a.max(axis=1, keepdims=True) / 255.0
                safe = np.where(scale > 0, scale, 1.0)
                r = a / safe + 0.5
                q = np.floor(r)
                if alternative:
                    frac = r - q
                    q = np.where(frac < 1e-4, q - 1, np.where(frac > 1 - 1e-4, q + 1, q))
                q = np.clip(q, 0.0, 255.0) * (scale > 0)
                a = q * scale
        return a.argmax(axis=1), a

    want, a = forward(False)
    if cut not in [name for name, _, _ in layers]:
        sys.exit(f"{net_path}: no population named {cut}")
    top = np.sort(a, axis=1)
    near = (top[:, -1] - top[:, -2] < 1e-4) | (forward(True)[0] != want)
    differ = want != got
    bad = int((differ & ~near).sum())
    # The check means something only where the int8 codes change answers.
    cut_index = [name for name, _, _ in layers].index(cut)
    a = x
    for k, (name, w, b) in enumerate(layers):
        a = a @ w + b
        a = np.maximum(a, 0.0) if k < len(layers) - 1 else a
    changed = int((a.argmax(axis=1) != want).sum())
    print(f"int8 codes after {layers[cut_index][0]} change {changed} of numpy's {len(x)} answers")
    print(f"{len(x)} inputs: numpy and snn agree on {int((~differ).sum())}; "
          f"{int(differ.sum())} differ, {int((differ & near).sum())} of them near ties; "
          f"{int(near.sum())} near ties in all")
    if bad or near.sum() > 0.01 * len(x) or changed == 0:
        sys.exit(1)


def read_idx(path):
    """An idx file's bytes, from PATH or, where it is missing, PATH.gz."""
    if os.path.exists(path):
        return np.fromfile(path, np.uint8)
    with gzip.open(path + ".gz", "rb") as f:
        return np.frombuffer(f.read(), np.uint8)


def make_data(idx_images, idx_labels, n, out):
    """Writes DATA.h5: the first n MNIST images (scaled to [0, 1]) blended half
    and half with uniform noise (seeded), so that the answers are close calls
    and the int8 codes change some of them, and their labels."""
    img = read_idx(idx_images)[16:].reshape(-1, 28, 28, 1)[:n].astype(np.float32) / 255.0
    lab = read_idx(idx_labels)[8:][:n]
    noise = np.random.default_rng(1).random(img.shape, dtype=np.float32)
    with h5py.File(out, "w") as f:
        f["x"] = 0.5 * img + 0.5 * noise
        f["y"] = lab.astype(np.int64)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--make-data":
        make_data(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) == 5:
        main(*sys.argv[1:])
    else:
        sys.exit(__doc__)
