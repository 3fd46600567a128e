#!/usr/bin/env python3
"""Writes event-camera probe data made from MNIST digits: frames (N, T, H, W, 2)
of ON/OFF event counts, and optionally the same events as an event list, for
`snn run NET --data FILE --encode frames` (docs/events.md).

THESE ARE NOT N-MNIST. There is no N-MNIST on this machine; these are probe
data made from MNIST the way N-MNIST was recorded: each digit is moved along
three saccades (a triangle, as the sensor's pan-tilt moved in N-MNIST) in
front of a simulated event camera. Every pixel keeps the log intensity it last
reported; whenever the current log intensity differs from it by the contrast
threshold C or more, the pixel emits floor(|difference| / C) events, ON
(channel 1) for an increase and OFF (channel 0) for a decrease, and its
reference moves by that many steps of C. Which polarity N-MNIST readers put
first is a convention: --on-channel picks the ON channel (1 by default). A network trained on real N-MNIST
will see roughly, not exactly, the statistics it was trained on: use these to
probe a network, not to measure its N-MNIST accuracy.

Geometry: the 28x28 digit sits on a --size x --size canvas (34 by default, the
size of N-MNIST, and the input (2, 34, 34) of ../shared/data/nir/scnn_mnist.nir);
the saccades move it by up to A = --size - 28 pixels, (dy, dx): (0,0) -> (A,A/2) -> (0,A) -> (0,0),
each a third of the time, rendered by bilinear interpolation at --substeps
positions per step. T = --steps frames, each --step-us microseconds.

Output (HDF5):
  x  (N, T, H, W, 2) uint8 event counts, or (N, T, 2, H, W) with --layout nchw
  y  (N) int64 labels
--events FILE also writes the event list form: `events` (M, 5) int64 with
columns sample, t (microseconds), x, y, p (the channel: 1 ON unless
--on-channel 0), `y`, and root
attributes height, width, polarities = 2; binning it with --bin STEP_US gives
exactly the frames (tests/sim/test_frames.cpp checks this).

usage: /usr/bin/python3 tools/make_saccade_frames.py --count 1000 -o saccades.h5
       [--split test] [--size 34] [--steps 30] [--threshold 0.4] [--layout nhwc|nchw] [--events ev.h5]
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
        count = min(count, n)
        if magic == 0x803:
            rows, cols = struct.unpack(">II", f.read(8))
            data = np.frombuffer(f.read(count * rows * cols), dtype=np.uint8)
            return data.reshape(count, rows, cols)
        return np.frombuffer(f.read(count), dtype=np.uint8)


def saccade_offset(u, a):
    """Offset (dy, dx) in pixels at u in [0, 1): three saccades along a triangle."""
    corners = np.array([[0.0, 0.0], [a, a / 2.0], [0.0, a], [0.0, 0.0]])  # (dy, dx)
    k = min(int(u * 3), 2)
    f = u * 3 - k
    return corners[k] * (1 - f) + corners[k + 1] * f


def render(digits, size, dy, dx):
    """digits (N, 28, 28) in [0, 1] placed at (dy, dx) on a size x size canvas, bilinear."""
    n, h, w = digits.shape
    canvas = np.zeros((n, size + 1, size + 1), dtype=np.float64)
    y0, x0 = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - y0, dx - x0
    for oy, wy in ((0, 1 - fy), (1, fy)):
        for ox, wx in ((0, 1 - fx), (1, fx)):
            if wy * wx == 0:
                continue
            canvas[:, y0 + oy:y0 + oy + h, x0 + ox:x0 + ox + w] += wy * wx * digits
    return canvas[:, :size, :size]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=["train", "test"], default="test")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--size", type=int, default=34, help="canvas side in pixels (>= 28); 34 as N-MNIST")
    ap.add_argument("--steps", type=int, default=30, help="frames per sample")
    ap.add_argument("--step-us", type=int, default=10000, help="microseconds per frame (the event list's --bin)")
    ap.add_argument("--substeps", type=int, default=10, help="positions rendered per frame")
    ap.add_argument("--threshold", type=float, default=0.4, help="contrast threshold C on log intensity")
    ap.add_argument("--floor", type=float, default=0.1, help="log(I + floor): the sensor's dark level")
    ap.add_argument("--layout", choices=["nhwc", "nchw"], default="nhwc")
    ap.add_argument("--on-channel", type=int, choices=[0, 1], default=1,
                    help="the polarity (channel) of ON events; OFF events take the other")
    ap.add_argument("--events", help="also write the event list form to this file")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--data-dir", default=os.environ.get("SNN_DATA_DIR", os.path.join(ROOT, "data", "datasets")))
    a = ap.parse_args()
    if a.size < 28 or a.steps < 1 or a.substeps < 1 or a.step_us < a.substeps or a.threshold <= 0 or a.count < 1:
        ap.error("need --size >= 28, --steps >= 1, --substeps >= 1, --step-us >= --substeps, --threshold > 0, --count >= 1")
    prefix = "train" if a.split == "train" else "t10k"
    d = os.path.join(a.data_dir, "mnist")
    digits = read_idx(os.path.join(d, prefix + "-images-idx3-ubyte"), a.count).astype(np.float64) / 255.0
    y = read_idx(os.path.join(d, prefix + "-labels-idx1-ubyte"), a.count).astype(np.int64)
    n, S, T, K = len(digits), a.size, a.steps, a.substeps
    amp = float(S - 28)

    frames = np.zeros((n, T, S, S, 2), dtype=np.int64)
    events = []  # (sample, t_us, x, y, p) blocks
    ref = np.log(render(digits, S, 0.0, 0.0) + a.floor)  # the scene at rest: no events yet
    for t in range(T):
        for k in range(K):
            u = (t * K + k + 1) / (T * K)  # position at the end of this substep
            dy, dx = saccade_offset(min(u, 1.0 - 1e-12), amp) if u < 1 else (0.0, 0.0)
            level = np.log(render(digits, S, dy, dx) + a.floor)
            diff = level - ref
            on = np.floor(np.maximum(diff, 0) / a.threshold).astype(np.int64)
            off = np.floor(np.maximum(-diff, 0) / a.threshold).astype(np.int64)
            ref += (on - off) * a.threshold
            frames[:, t, :, :, a.on_channel] += on
            frames[:, t, :, :, 1 - a.on_channel] += off
            if a.events:
                t_us = t * a.step_us + k * (a.step_us // K)
                for p, cnt in ((1 - a.on_channel, off), (a.on_channel, on)):
                    s_i, y_i, x_i = np.nonzero(cnt)
                    reps = cnt[s_i, y_i, x_i]
                    block = np.stack([s_i, np.full_like(s_i, t_us), x_i, y_i, np.full_like(s_i, p)], axis=1)
                    events.append(np.repeat(block, reps, axis=0))
    if frames.max() > 255:
        raise SystemExit(f"a bin holds {frames.max()} events, more than uint8 holds: raise --threshold or --steps")
    x = frames.astype(np.uint8)
    if a.layout == "nchw":
        x = np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3))
    tmp = a.output + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("x", data=x, compression="gzip", chunks=(1,) + x.shape[1:])
        f["y"] = y
        f.attrs["source"] = "MNIST digits moved along three saccades (tools/make_saccade_frames.py); not N-MNIST"
    os.replace(tmp, a.output)
    total = int(frames.sum())
    print(f"wrote {a.output}: x {x.shape} ({a.layout}), y {y.shape}, {total} events "
          f"({total / n:.0f} per sample), {a.step_us} us per frame")
    if a.events:
        ev = np.concatenate(events, axis=0) if events else np.zeros((0, 5), dtype=np.int64)
        ev = ev[np.lexsort((ev[:, 1], ev[:, 0]))]  # by sample, then time
        tmp = a.events + ".tmp"
        with h5py.File(tmp, "w") as f:
            f.create_dataset("events", data=ev.astype(np.int64), compression="gzip")
            f["y"] = y
            f.attrs["height"] = S
            f.attrs["width"] = S
            f.attrs["polarities"] = 2
            f.attrs["source"] = "MNIST digits moved along three saccades (tools/make_saccade_frames.py); not N-MNIST"
        os.replace(tmp, a.events)
        print(f"wrote {a.events}: events {ev.shape} (t in us: snn run ... --encode frames --bin {a.step_us})")


if __name__ == "__main__":
    main()
