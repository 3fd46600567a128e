#!/usr/bin/env python3
"""Check tools/keras_h5.py's numpy forward pass of DepthwiseConv2D, SeparableConv2D
and ReLU(max_value) against PyTorch.

    /usr/bin/python3 tools/check_keras_h5.py

Each case writes a one-layer Keras 2 model with keras_h5 (InputLayer -> layer,
linear activation) to a temporary .h5, runs keras_h5.forward on it and compares
with torch (float64): the depthwise conv is F.conv2d with groups=in_channels
(torch's output channel o reads input channel o // depth_multiplier, i.e. Keras'
c * depth_multiplier + m), the pointwise conv a 1x1 F.conv2d, and TF-style
``same`` padding an explicit F.pad (total max((ceil(H/s) - 1) * s + k - H, 0),
the odd pixel at the bottom / right). Cases: strides 1 and 2, same and valid,
depth_multiplier 1 and 2, odd and even input sizes, odd and even kernels, with
and without bias. Prints the max abs error per layer kind; exits 1 if any is
above 1e-5. Runs in a few seconds on a CPU.
"""

import itertools
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_h5 as kh  # noqa: E402

TOL = 1e-5


def tf_same_pad(x, kh_, kw_, sh, sw):
    """F.pad an NCHW tensor the way TensorFlow pads 'same' (extra at bottom/right)."""
    def pads(size, k, s):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    top, bottom = pads(x.shape[2], kh_, sh)
    left, right = pads(x.shape[3], kw_, sw)
    return F.pad(x, (left, right, top, bottom))


def torch_depthwise(x_nhwc, dk, stride, padding):
    """Reference depthwise conv: x (N,H,W,C), dk (kh,kw,C,dm) -> (N,Ho,Wo,C*dm) float64."""
    k_h, k_w, c, dm = dk.shape
    x = torch.from_numpy(x_nhwc.astype(np.float64)).permute(0, 3, 1, 2)
    if padding == "same":
        x = tf_same_pad(x, k_h, k_w, stride, stride)
    # torch weight (C*dm, 1, kh, kw); out channel o = c*dm + m uses input channel c = o // dm
    w = torch.from_numpy(dk.astype(np.float64).reshape(k_h, k_w, c * dm)).permute(2, 0, 1)[:, None]
    return F.conv2d(x, w, stride=stride, groups=c)          # NCHW


def to_nhwc(t):
    return t.permute(0, 2, 3, 1).numpy()


def run_model(layer, x):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m.h5")
        kh.save(p, [kh.input_layer("input_1", x.shape[1:]), layer], layout="keras2")
        return kh.forward(p, x)


def main():
    rng = np.random.default_rng(7)
    err = {"DepthwiseConv2D": 0.0, "SeparableConv2D": 0.0, "ReLU": 0.0}
    n_cases = 0
    for stride, padding, dm, (h, w), (k_h, k_w), use_bias in itertools.product(
            (1, 2), ("same", "valid"), (1, 2), ((7, 7), (8, 8), (9, 6)), ((3, 3), (2, 2), (3, 2)),
            (True, False)):
        c = int(rng.integers(1, 5))
        filters = int(rng.integers(1, 6))
        x = rng.uniform(-1, 1, (2, h, w, c)).astype(np.float32)
        dk = rng.uniform(-1, 1, (k_h, k_w, c, dm)).astype(np.float32)
        db = rng.uniform(-1, 1, (c * dm,)).astype(np.float32) if use_bias else None
        pk = rng.uniform(-1, 1, (1, 1, c * dm, filters)).astype(np.float32)
        pb = rng.uniform(-1, 1, (filters,)).astype(np.float32) if use_bias else None

        ref = torch_depthwise(x, dk, stride, padding)
        # DepthwiseConv2D
        y = run_model(kh.depthwise_conv2d("dw", dk, db, strides=stride, padding=padding), x)
        r = ref + (torch.from_numpy(db.astype(np.float64))[None, :, None, None]
                   if use_bias else 0)
        r = to_nhwc(r)
        if y.shape != r.shape:
            raise SystemExit("DepthwiseConv2D shape %s != torch %s" % (y.shape, r.shape))
        err["DepthwiseConv2D"] = max(err["DepthwiseConv2D"], float(np.abs(y - r).max()))
        # SeparableConv2D: depthwise (no bias) then 1x1 pointwise conv + bias
        y = run_model(kh.separable_conv2d("sep", dk, pk, pb, strides=stride, padding=padding), x)
        pw = torch.from_numpy(pk[0, 0].astype(np.float64)).T[:, :, None, None]   # (out, in, 1, 1)
        r = F.conv2d(ref, pw, torch.from_numpy(pb.astype(np.float64)) if use_bias else None)
        r = to_nhwc(r)
        if y.shape != r.shape:
            raise SystemExit("SeparableConv2D shape %s != torch %s" % (y.shape, r.shape))
        err["SeparableConv2D"] = max(err["SeparableConv2D"], float(np.abs(y - r).max()))
        n_cases += 1

    # ReLU layer: max_value (ReLU6 and another cap), plain, and leaky with a cap.
    x = rng.uniform(-10, 10, (4, 5, 5, 3)).astype(np.float32)
    xt = torch.from_numpy(x.astype(np.float64))
    for kwargs, ref in (({"max_value": 6}, F.relu6(xt)),
                        ({"max_value": 2.5}, torch.clamp(xt, 0, 2.5)),
                        ({}, F.relu(xt)),
                        ({"negative_slope": 0.1, "max_value": 6},
                         torch.clamp(xt, 0, 6) - 0.1 * F.relu(-xt))):
        y = run_model(kh.relu("re", **kwargs), x)
        err["ReLU"] = max(err["ReLU"], float(np.abs(y - ref.numpy()).max()))

    bad = False
    for k, e in err.items():
        ok = e <= TOL
        bad |= not ok
        print("%-16s max abs error %.3g %s" % (k, e, "ok" if ok else "FAIL (> %g)" % TOL))
    print("%d conv cases (strides 1/2, same/valid, depth_multiplier 1/2, 7x7 8x8 9x6 inputs, "
          "3x3 2x2 3x2 kernels, bias on/off)" % n_cases)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
