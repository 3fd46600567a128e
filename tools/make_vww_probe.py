#!/usr/bin/env python3
"""Writes synthetic probe images (HDF5 with x, y, margin) for the MLPerf-Tiny
visual-wake-words MobileNetV1 (96x96x3, 2 classes), labelled by the model's own
numpy forward pass (tools/keras_h5.py).

There is no VWW data set on this machine: the images only serve to check that a
converted SNN agrees with its own DNN (argmax), not to measure person-detection
accuracy. Input convention (mlcommons/tiny train_vww.py, rescale=1./255): RGB,
channels-last, pixels in [0, 1]. Class 0 = non_person, 1 = person
(flow_from_directory's alphabetical order of vw_coco2014_96/{non_person,person}).

Image kinds (dataset ``kind``), in roughly equal parts:
  1 smooth      low-frequency noise (random coefficients on a 2..12 grid, bilinear
                upsampling) + a linear colour gradient + 0..5 Gaussian blobs,
                shifted to a random mean colour, clipped to [0, 1];
  2 structured  random rectangles / ellipses of random colours on a random
                background with a gradient and a little pixel noise; about one
                third carry a rough person silhouette (head ellipse over a body
                rectangle with arms and legs);
  3 hard        pairs (a, b) of kind-1/2 images the numpy DNN puts in different
                classes, bisected along a + t (b - a) to t* where the two logits
                are equal; the images at t* - d and t* + d are kept, d chosen per
                pair (from the local slope) so that the margin is 0.5 %..5 % of the
                median margin of kinds 1-2 (always below 10 %).
Almost every synthetic image falls in the majority class (non_person). So that
both classes are present and kind 3 has pairs, the tail of kind 2 is replaced by
minority-class images found by random search among person-silhouette images
(``subkind`` 1); only if the search budget finds too few, images are pushed to
the minority class by a few signed-gradient steps on (minority - majority logit)
through a torch copy of the network (``subkind`` 2). Torch is used only to find
images; every label and margin comes from the numpy forward pass of the float32
image that is stored.

Datasets: x float32 (N,96,96,3) in [0,1]; y int32 (N,) = argmax of the numpy
logits; margin float32 (N,) = |logit1 - logit0|; logits float32 (N,2);
kind int32 (N,) 1/2/3; subkind int32 (N,) (0 plain, 1 searched, 2 gradient
ascent, 3 person silhouette); t float32 (N,) (position on the a-b line for
kind 3, NaN otherwise); pair int32 (N,2) (indices of a and b in this file for
kind 3, -1 otherwise). Attributes describe the generator.

--calib FILE writes a separate calibration set (kinds 1-2 only, an independent
seed stream, --calib-n images) for data-based normalization.

usage: /usr/bin/python3 tools/make_vww_probe.py --out probe.h5 [--n 200] [--seed 1]
           [--model PATH] [--calib calib.h5 [--calib-n 200]]
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import keras_h5 as kh  # noqa: E402

DEFAULT_MODEL = os.path.join(ROOT, "..", "shared", "data", "keras-real", "tiny_vww_96_mobilenet.h5")
H = W = 96
CLASS_NAMES = ["non_person", "person"]
KIND_NAMES = {1: "smooth", 2: "structured", 3: "hard"}
SUBKIND_NAMES = {0: "plain", 1: "searched (random person-silhouette search, minority class)",
                 2: "gradient ascent (torch, minority class)", 3: "person silhouette"}
YY, XX = np.mgrid[0:H, 0:W].astype(np.float64) / (H - 1.0)
YI, XI = np.mgrid[0:H, 0:W].astype(np.float64)


# --------------------------------------------------------------------------
# Image generators (float64 in, float32 out, all in [0, 1])
# --------------------------------------------------------------------------


def _upsample(c):
    """Bilinear upsampling (g, g, 3) -> (96, 96, 3), corners aligned."""
    g = c.shape[0]
    pos = np.linspace(0, g - 1, H)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, g - 1)
    f = pos - i0
    r = c[i0] * (1 - f)[:, None, None] + c[i1] * f[:, None, None]
    return r[:, i0] * (1 - f)[None, :, None] + r[:, i1] * f[None, :, None]


def smooth_image(rng):
    g = int(rng.integers(2, 13))
    img = _upsample(rng.normal(0, rng.uniform(0.1, 0.35), (g, g, 3)))
    a = rng.normal(0, 0.3, (2, 3))
    img += XX[..., None] * a[0] + YY[..., None] * a[1]
    for _ in range(int(rng.integers(0, 6))):
        cy, cx = rng.uniform(0, 1, 2)
        s = rng.uniform(0.04, 0.3)
        img += np.exp(-((YY - cy) ** 2 + (XX - cx) ** 2) / (2 * s * s))[..., None] * rng.normal(0, 0.4, 3)
    img += rng.uniform(0.2, 0.8, 3) - img.mean(axis=(0, 1))
    return np.clip(img, 0, 1).astype(np.float32)


def _ellipse(img, cy, cx, ry, rx, col):
    img[((YI - cy) / ry) ** 2 + ((XI - cx) / rx) ** 2 <= 1] = col


def _person(img, rng):
    """A rough person: head ellipse over a body rectangle, arms, two legs."""
    s = rng.uniform(0.5, 1.3)
    cx = rng.uniform(25, 70)
    top = rng.uniform(5, 30)
    skin = rng.uniform([0.5, 0.3, 0.2], [1.0, 0.8, 0.7])
    cloth = rng.uniform(0, 1, 3)
    legs = rng.uniform(0, 1, 3)
    hr = 8 * s
    _ellipse(img, top + hr, cx, hr * 1.2, hr, skin)
    by0 = int(top + 2.2 * hr)
    bw, bh, arm, leg = int(14 * s), int(35 * s), int(5 * s), int(30 * s)
    l, r = int(cx - bw), int(cx + bw)
    img[by0:by0 + bh, l:r] = cloth
    img[by0:by0 + int(bh * 0.8), max(l - arm, 0):l] = cloth * 0.8
    img[by0:by0 + int(bh * 0.8), r:r + arm] = cloth * 0.8
    img[by0 + bh:by0 + bh + leg, l:int(cx - 2)] = legs
    img[by0 + bh:by0 + bh + leg, int(cx + 2):r] = legs


def structured_image(rng, person):
    img = np.ones((H, W, 3)) * rng.uniform(0, 1, 3)
    a = rng.normal(0, 0.2, (2, 3))
    img += XX[..., None] * a[0] + YY[..., None] * a[1]
    for _ in range(int(rng.integers(1, 8))):
        col = rng.uniform(0, 1, 3)
        if rng.random() < 0.5:
            y0, x0 = rng.integers(0, 90, 2)
            h, w = rng.integers(5, 60, 2)
            img[y0:y0 + h, x0:x0 + w] = col
        else:
            _ellipse(img, rng.uniform(0, 96), rng.uniform(0, 96), rng.uniform(3, 30),
                     rng.uniform(3, 30), col)
    if person:
        _person(img, rng)
    img += rng.normal(0, rng.uniform(0, 0.05), img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


# --------------------------------------------------------------------------
# numpy labels; torch copy for the search only
# --------------------------------------------------------------------------


class Model:
    def __init__(self, path):
        self.path = path
        self.calls = 0

    def logits(self, x):
        x = np.ascontiguousarray(x, np.float32)
        self.calls += x.shape[0]
        return kh.forward(self.path, x, logits=True, batch_size=100).astype(np.float32)


def torch_model(path):
    """A torch copy of the (chain-shaped) Keras model, for gradient ascent only.
    Returns f(x_nhwc) -> logits, or None when torch or a layer is missing."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    cfg, weights = kh.load(path)
    ops = []
    for l in cfg["config"]["layers"]:
        cls, c = l["class_name"], l["config"]
        w = [torch.tensor(a, dtype=torch.float64) for a in weights.get(c["name"], [])]
        if cls == "InputLayer":
            continue
        if cls in ("Conv2D", "DepthwiseConv2D"):
            if c.get("dilation_rate", [1, 1]) != [1, 1] or c.get("data_format", "channels_last") != "channels_last":
                return None
            if cls == "Conv2D":
                k = w[0].permute(3, 2, 0, 1).contiguous()
                groups = 1
            else:
                k = w[0].permute(2, 3, 0, 1).reshape(-1, 1, w[0].shape[0], w[0].shape[1]).contiguous()
                groups = w[0].shape[2]
            b = w[1] if c.get("use_bias", True) else None
            ops.append(("conv", k, b, tuple(c["strides"]), c["padding"], groups,
                        c.get("activation", "linear")))
        elif cls == "BatchNormalization":
            g, be, m, v = w
            sc = g / torch.sqrt(v + c.get("epsilon", 1e-3))
            ops.append(("affine", sc.view(1, -1, 1, 1), (be - m * sc).view(1, -1, 1, 1)))
        elif cls == "Activation" and c["activation"] in ("relu", "linear", "softmax"):
            ops.append(("act", c["activation"]))
        elif cls == "AveragePooling2D" and c.get("padding", "valid") == "valid":
            ops.append(("avg", tuple(c["pool_size"]), tuple(c["strides"])))
        elif cls == "Flatten":
            ops.append(("flatten",))
        elif cls == "Dense":
            ops.append(("dense", w[0], w[1] if c.get("use_bias", True) else None))
        else:
            return None

    def f(x):
        x = x.permute(0, 3, 1, 2)
        for op in ops:
            if op[0] == "conv":
                _, k, b, (sh, sw), pad, groups, act = op
                if pad == "same":
                    pt, pb = kh._same_pads(x.shape[2], k.shape[2], sh)
                    pl, pr = kh._same_pads(x.shape[3], k.shape[3], sw)
                    x = F.pad(x, (pl, pr, pt, pb))
                x = F.conv2d(x, k, b, stride=(sh, sw), groups=groups)
                if act == "relu":
                    x = F.relu(x)
            elif op[0] == "affine":
                x = x * op[1] + op[2]
            elif op[0] == "act":
                if op[1] == "relu":
                    x = F.relu(x)
            elif op[0] == "avg":
                x = F.avg_pool2d(x, op[1], op[2])
            elif op[0] == "flatten":
                x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
            elif op[0] == "dense":
                x = x @ op[1] + (op[2] if op[2] is not None else 0)
        return x  # the last softmax is skipped: logits
    return f


def gradient_ascent(path, x0, cls, steps=40, step=2.0 / 255):
    """Signed-gradient ascent on logit[cls] - logit[other] from x0 (N,96,96,3), clipped
    to [0, 1]; returns the images (float32) or None without torch."""
    f = torch_model(path)
    if f is None:
        return None
    import torch
    torch.manual_seed(0)
    x = torch.tensor(np.asarray(x0, np.float64), requires_grad=True)
    for _ in range(steps):
        z = f(x)
        obj = (z[:, cls] - z[:, 1 - cls]).sum()
        g, = torch.autograd.grad(obj, x)
        with torch.no_grad():
            x += step * torch.sign(g)
            x.clamp_(0, 1)
    return x.detach().numpy().astype(np.float32)


# --------------------------------------------------------------------------
# Kinds 1-2 with the minority-class search
# --------------------------------------------------------------------------


def make_easy(model, n1, n2, seed, stream, min_frac, search_budget, log):
    """Kinds 1 and 2: returns dict of arrays (x, logits, kind, subkind) and info."""
    ss = np.random.SeedSequence([seed, stream])
    r1, r2, r3 = [np.random.default_rng(s) for s in ss.spawn(3)]
    x1 = np.stack([smooth_image(r1) for _ in range(n1)]) if n1 else np.zeros((0, H, W, 3), np.float32)
    person = r2.random(n2) < 1.0 / 3
    x2 = np.stack([structured_image(r2, p) for p in person]) if n2 else np.zeros((0, H, W, 3), np.float32)
    x = np.concatenate([x1, x2])
    z = model.logits(x)
    kind = np.array([1] * n1 + [2] * n2, np.int32)
    sub = np.where(np.concatenate([np.zeros(n1, bool), person]), 3, 0).astype(np.int32)
    y = np.argmax(z, axis=1)
    counts = np.bincount(y, minlength=2)
    maj = int(np.argmax(counts))
    mino = 1 - maj
    need = max(2, int(math.ceil(min_frac * (n1 + n2)))) if n1 + n2 >= 4 else 0
    need = min(need, n2)
    have = int(counts[mino])
    info = {"majority_class": maj, "minority_class": mino, "minority_natural": have,
            "minority_target": need, "search_candidates": 0, "searched_kept": 0,
            "ascent_kept": 0}
    if have >= need:
        return x, z, kind, sub, info
    # random search among person-silhouette structured images
    found_x, found_z = [], []
    tried = 0
    while len(found_x) < need - have and tried < search_budget:
        nb = min(200, search_budget - tried)
        c = np.stack([structured_image(r3, True) for _ in range(nb)])
        cz = model.logits(c)
        tried += nb
        ok = np.argmax(cz, axis=1) == mino
        found_x += list(c[ok])
        found_z += list(cz[ok])
    info["search_candidates"] = tried
    found_x, found_z = found_x[:need - have], found_z[:need - have]
    info["searched_kept"] = len(found_x)
    subk = [1] * len(found_x)
    missing = need - have - len(found_x)
    if missing > 0:
        # push the kind-1/2 images closest to the boundary across it (torch finds, numpy labels)
        d = z[:, mino] - z[:, maj]
        start = x[np.argsort(-d)[:max(missing * 2, 4)]]
        xa = gradient_ascent(model.path, start, mino)
        if xa is not None:
            za = model.logits(xa)
            ok = np.argmax(za, axis=1) == mino
            found_x += list(xa[ok][:missing])
            found_z += list(za[ok][:missing])
            subk += [2] * int(min(ok.sum(), missing))
            info["ascent_kept"] = int(min(ok.sum(), missing))
        else:
            log("warning: torch unavailable, minority class short by %d" % missing)
    k = len(found_x)
    if k:
        # replace the tail of kind 2 (kind stays 2; subkind says how it was found)
        x[n1 + n2 - k:] = np.stack(found_x)
        z[n1 + n2 - k:] = np.stack(found_z)
        sub[n1 + n2 - k:] = subk
    return x, z, kind, sub, info


# --------------------------------------------------------------------------
# Kind 3: bisection to the decision boundary
# --------------------------------------------------------------------------


def make_hard(model, x, z, n3, seed, med_margin, log):
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    y = np.argmax(z, axis=1)
    i0, i1 = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    npairs = n3 // 2
    if npairs == 0:
        return (np.zeros((0, H, W, 3), np.float32), np.zeros((0, 2), np.float32),
                np.zeros(0, np.float32), np.zeros((0, 2), np.int32), {})
    if len(i0) == 0 or len(i1) == 0:
        raise SystemExit("kind 3 needs both classes among kinds 1-2 (got counts %d, %d)"
                         % (len(i0), len(i1)))
    # a from class 0, b from class 1: each list shuffled and cycled
    pa = np.resize(rng.permutation(i0), npairs)
    pb = np.resize(rng.permutation(i1), npairs)
    a, b = x[pa].astype(np.float64), x[pb].astype(np.float64)

    def d_at(t):
        xt = (a + t[:, None, None, None] * (b - a)).astype(np.float32)
        zt = model.logits(xt)
        return zt[:, 1] - zt[:, 0]

    lo, hi = np.zeros(npairs), np.ones(npairs)   # d(lo) < 0 <= d(hi)
    for _ in range(24):
        mid = 0.5 * (lo + hi)
        dm = d_at(mid)
        hi = np.where(dm >= 0, mid, hi)
        lo = np.where(dm >= 0, lo, mid)
    tstar = 0.5 * (lo + hi)
    # local slope of d(t) over +-0.01 (d is piecewise linear in t)
    h = 0.01
    slope = np.abs(d_at(np.minimum(tstar + h, 1)) - d_at(np.maximum(tstar - h, 0))) / (2 * h)
    slope = np.maximum(slope, 1e-6)
    frac = np.exp(rng.uniform(np.log(0.005), np.log(0.05), npairs))   # 0.5 %..5 % of the median
    delta = frac * med_margin / slope
    limit = 0.1 * med_margin
    for it in range(30):
        tl, th = np.clip(tstar - delta, 0, 1), np.clip(tstar + delta, 0, 1)
        dl, dh = d_at(tl), d_at(th)
        bad = (np.abs(dl) >= limit) | (np.abs(dh) >= limit)
        if not bad.any():
            break
        delta = np.where(bad, delta * 0.5, delta)
    xs, ts, prs = [], [], []
    for k in range(npairs):
        for t in (tl[k], th[k]):
            xs.append((a[k] + t * (b[k] - a[k])).astype(np.float32))
            ts.append(t)
            prs.append((pa[k], pb[k]))
    xh = np.stack(xs)
    zh = model.logits(xh)
    info = {"pairs": npairs, "bisection_steps": 24, "slope_median": float(np.median(slope)),
            "delta_min": float(delta.min()), "delta_max": float(delta.max()),
            "delta_halvings": it, "margin_target_frac": "log-uniform 0.005..0.05 of median"}
    return xh, zh, np.array(ts, np.float32), np.array(prs, np.int32), info


# --------------------------------------------------------------------------


def summarize(name, y, margin, kind, log):
    log("%s: N=%d, class counts %s" % (name, len(y), np.bincount(y, minlength=2).tolist()))
    for k in sorted(set(kind.tolist())):
        m = kind == k
        q = np.percentile(margin[m], [0, 10, 50, 90, 100])
        log("  kind %d %-10s n=%3d classes %-9s margin min/10/50/90/max %s" % (
            k, KIND_NAMES[k], m.sum(), np.bincount(y[m], minlength=2).tolist(),
            " ".join("%.4g" % v for v in q)))


def write(path, x, z, kind, sub, t, pair, attrs):
    y = np.argmax(z, axis=1).astype(np.int32)
    margin = np.abs(z[:, 1] - z[:, 0]).astype(np.float32)
    assert x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, compression="gzip", compression_opts=4)
        f.create_dataset("y", data=y)
        f.create_dataset("margin", data=margin)
        f.create_dataset("logits", data=z.astype(np.float32))
        f.create_dataset("kind", data=kind.astype(np.int32))
        f.create_dataset("subkind", data=sub.astype(np.int32))
        f.create_dataset("t", data=t.astype(np.float32))
        f.create_dataset("pair", data=pair.astype(np.int32))
        for k, v in attrs.items():
            f.attrs[k] = v if isinstance(v, (int, float, str)) else json.dumps(v)
    return y, margin


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="probe set (kinds 1-3)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--calib", help="also write a calibration set (kinds 1-2, other seed stream)")
    ap.add_argument("--calib-n", type=int, default=200)
    ap.add_argument("--min-frac", type=float, default=0.1,
                    help="minority class share wanted among kinds 1-2 (default 0.1)")
    ap.add_argument("--search-budget", type=int, default=3000,
                    help="random person-silhouette candidates tried before gradient ascent")
    a = ap.parse_args()
    t0 = time.time()
    log = lambda s: print(s, flush=True)  # noqa: E731
    model = Model(a.model)
    base = {"model": os.path.basename(a.model), "model_sha256": sha256(a.model), "seed": a.seed,
            "input": "RGB channels-last 96x96x3, pixels in [0,1] (train_vww.py rescale=1./255)",
            "classes": CLASS_NAMES, "labels": "argmax of tools/keras_h5.py forward(logits=True)",
            "kinds": KIND_NAMES, "subkinds": {str(k): v for k, v in SUBKIND_NAMES.items()},
            "generator": "tools/make_vww_probe.py", "doc": __doc__}

    n1 = a.n // 3
    n2 = (a.n - n1) // 2
    n3 = a.n - n1 - n2
    if n3 % 2:
        n3 -= 1
        n2 += 1
    x, z, kind, sub, info12 = make_easy(model, n1, n2, a.seed, 0, a.min_frac, a.search_budget, log)
    marg12 = np.abs(z[:, 1] - z[:, 0])
    med = float(np.median(marg12))
    xh, zh, th, ph, info3 = make_hard(model, x, z, n3, a.seed, med, log)
    X = np.concatenate([x, xh])
    Z = np.concatenate([z, zh])
    K = np.concatenate([kind, np.full(len(xh), 3, np.int32)])
    S = np.concatenate([sub, np.zeros(len(xh), np.int32)])
    T = np.concatenate([np.full(len(x), np.nan, np.float32), th])
    P = np.concatenate([np.full((len(x), 2), -1, np.int32), ph])
    attrs = dict(base, set="probe", n=a.n, n_per_kind=[n1, n2, len(xh)],
                 median_margin_kinds12=med, kinds12=info12, hard=info3,
                 seed_streams="kinds 1-2: SeedSequence([seed, 0]); kind 3: SeedSequence([seed, 2])")
    y, m = write(a.out, X, Z, K, S, T, P, attrs)
    summarize(a.out, y, m, K, log)
    log("  median margin kinds 1-2 %.4g; kind-3 limit (10 %%) %.4g; search: %s" % (med, 0.1 * med, info12))
    if len(xh):
        flip = (y[len(x)::2] != y[len(x) + 1::2]).mean()
        log("  kind 3: %d pairs, fraction whose two images differ in class %.2f; %s" % (
            len(xh) // 2, flip, info3))

    if a.calib:
        c1 = a.calib_n // 2
        xc, zc, kc, sc, infoc = make_easy(model, c1, a.calib_n - c1, a.seed, 1, a.min_frac,
                                          a.search_budget, log)
        attrs = dict(base, set="calibration", n=a.calib_n, n_per_kind=[c1, a.calib_n - c1, 0],
                     kinds12=infoc, seed_streams="kinds 1-2: SeedSequence([seed, 1])")
        yc, mc = write(a.calib, xc, zc, kc, sc, np.full(len(xc), np.nan, np.float32),
                       np.full((len(xc), 2), -1, np.int32), attrs)
        summarize(a.calib, yc, mc, kc, log)
        log("  search: %s" % infoc)
    log("numpy forward passes: %d images; %.1f s" % (model.calls, time.time() - t0))


if __name__ == "__main__":
    main()
