#!/usr/bin/env python3
"""Writes MNIST digits as 32x32x3 images (HDF5 with x, y) for networks that
expect CIFAR-10-shaped input, such as the MLPerf-Tiny ResNet-8.

There is no CIFAR-10 on this machine; these images only serve to compare a
converted SNN with its own DNN (argmax agreement), not to measure CIFAR
accuracy. Each 28x28 digit is zero-padded by 2 pixels on every side and
repeated over 3 channels. Pixels are in [0, 1] times --scale: the MLPerf-Tiny
ResNet-8 was trained on raw CIFAR-10 bytes (0..255), so use --scale 255 for it.

usage: /usr/bin/python3 tools/make_rgb_digits.py --split test --count 1000 -o out.h5
"""
import argparse
import os
import struct

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path, count):
    with open(path, "rb") as f:
        magic, n = struct.unpack(">II", f.read(8))
        if magic == 0x803:
            rows, cols = struct.unpack(">II", f.read(8))
            data = np.frombuffer(f.read(count * rows * cols), dtype=np.uint8)
            return data.reshape(count, rows, cols)
        return np.frombuffer(f.read(count), dtype=np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=["train", "test"], default="test")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply pixels in [0,1] by this")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--data-dir", default=os.environ.get("SNN_DATA_DIR", os.path.join(ROOT, "data", "datasets")))
    a = ap.parse_args()
    prefix = "train" if a.split == "train" else "t10k"
    d = os.path.join(a.data_dir, "mnist")
    x = read_idx(os.path.join(d, prefix + "-images-idx3-ubyte"), a.count).astype(np.float32) / 255.0
    y = read_idx(os.path.join(d, prefix + "-labels-idx1-ubyte"), a.count).astype(np.int64)
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    x = np.repeat(x[..., None], 3, axis=3) * np.float32(a.scale)
    tmp = a.output + ".tmp"
    with h5py.File(tmp, "w") as f:
        f["x"] = x
        f["y"] = y
    os.replace(tmp, a.output)
    print(f"wrote {a.output}: x {x.shape}, y {y.shape}")


if __name__ == "__main__":
    main()
