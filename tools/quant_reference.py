#!/usr/bin/python3
"""Independent check of `snn convert --quantize` (docs/quantization.md).

    tools/quant_reference.py FLOAT.snn.h5 QUANT.snn.h5 SCHEME [--prune METHOD:R [--seed N]]

FLOAT is the same model converted with the same options but without
--quantize; SCHEME is the one scheme QUANT was made with for every layer
(int:K[:max|l1], ternary, qsq[:N][:levels=L]). The script quantizes FLOAT's
weights with numpy, following the papers (hybrid networks eq. 1-3; quality
scalable quantization eq. 4-10 and Table II), decodes QUANT's packed codes
itself, and checks that both give the same levels and scales, and that the
file's bytes are the codes and scales. Exit status 0 when all agree.

With --prune, QUANT was made with --prune METHOD:R (--prune-seed N, default 1)
as well, on every layer: the script removes the same weights from FLOAT's
(the selection of tools/prune_reference.py, drawn again here), sets them to
0, quantizes what is left with the zeros in place (SCHEME must be int:K), and
checks in addition that every pruned weight is level 0.
"""
import os
import sys

import h5py
import numpy as np

QSQ_LEVELS = {0: 0, 1: 1, 2: 2, 3: 4, 4: -1, 5: -2, 6: -4}
ROUNDS = 20


def parse(scheme):
    p = scheme.split(":")
    if p[0] == "int":
        return {"scheme": "int", "bits": int(p[1]), "l1": len(p) > 2 and p[2] == "l1"}
    if p[0] == "ternary":
        return {"scheme": "ternary", "bits": 2}
    if p[0] == "qsq":
        s = {"scheme": "qsq", "bits": 3, "vector": 16, "levels": 4}
        for part in p[1:]:
            if part.startswith("levels="):
                s["levels"] = int(part[7:])
            else:
                s["vector"] = int(part)
        return s
    raise SystemExit(f"unknown scheme {scheme}")


def groups(n, outputs, vector):
    """Group index of each weight k: output k % outputs, or its vector along the fan-in."""
    k = np.arange(n)
    o = k % outputs
    if vector <= 0:
        return o
    fan_in = n // outputs
    per = -(-fan_in // vector)
    return o * per + (k // outputs) // vector


def nearest(x, allowed):
    cands = np.array(sorted({0} | {a for a in allowed} | {-a for a in allowed}), dtype=np.float64)
    # Ties go to the smaller magnitude: order candidates by magnitude before argmin.
    order = np.argsort(np.abs(cands), kind="stable")
    cands = cands[order]
    return cands[np.argmin(np.abs(x[:, None] - cands[None, :]), axis=1)]


def quantize_group(w, s):
    """Levels and scale of one group's weights (float64)."""
    a = np.abs(w)
    if a.max() == 0:
        return np.zeros_like(w), 0.0
    if s["scheme"] == "int":
        q = 2 ** (s["bits"] - 1) - 1
        step = a.max() / q
        lv = np.clip(np.rint(w / step), -q, q)
        if s["l1"]:
            for _ in range(ROUNDS):
                ll = (lv * lv).sum()
                step = (w * lv).sum() / ll if ll > 0 else step
                lv = np.clip(np.rint(w / step), -q, q)
        return lv, step
    if s["scheme"] == "ternary":
        m = np.sort(a.astype(np.float32))[::-1].astype(np.float64)
        best, kept, alpha = -1.0, 0, 0.0
        csum = np.cumsum(m)
        for k in range(1, len(m) + 1):
            if not m[k - 1] > 0 or (k < len(m) and m[k] == m[k - 1]):
                continue
            score = csum[k - 1] ** 2 / k
            if score > best:
                best, kept, alpha = score, k, csum[k - 1] / k
        smallest = m[kept - 1]
        lv = np.where(a >= smallest, np.sign(w), 0.0)
        return lv, alpha
    allowed = [1, 2, 4][: {1: 1, 2: 2, 4: 3}[s["levels"]]]
    alpha = a.sum() / (s["levels"] * len(w))
    for r in range(ROUNDS + 1):
        lv = nearest(w / alpha, allowed)
        if r < ROUNDS:
            ll = (lv * lv).sum()
            alpha = (w * lv).sum() / ll if ll > 0 else alpha
    if not alpha > 0:
        return np.zeros_like(w), 0.0
    return lv, alpha


def unpack(words, bits, n):
    stream = np.unpackbits(words.astype("<u8").view(np.uint8), bitorder="little")
    stream = stream[: n * bits].reshape(n, bits).astype(np.int64)
    return (stream << np.arange(bits)).sum(axis=1)


def level_of(code, scheme, bits):
    if scheme == "qsq":
        if np.any(code == 7):
            raise SystemExit("code 111 in a qsq layer")
        return np.vectorize(QSQ_LEVELS.get)(code).astype(np.float64)
    sign = 1 << (bits - 1)
    return ((code & (sign - 1)) - (code & sign)).astype(np.float64)


def pruned_positions(method, ratio, seed, w, pop, proj):
    """The indices --prune METHOD:R removes from a layer's flat weights w."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import prune_reference as pr
    n = w.size
    k = int(np.floor(ratio * n + 0.5))
    if method == "random":
        return pr.random_removed(n, k, pr.stream(seed, pop, proj))
    if method == "magnitude":
        return np.sort(np.lexsort((np.arange(n), np.abs(w)))[:k])
    raise SystemExit(f"unknown prune method {method}")


def main():
    args = sys.argv[1:]
    prune, seed = None, 1
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i : i + 2]
    if "--prune" in args:
        i = args.index("--prune")
        method, ratio = args[i + 1].split(":")
        prune = (method, float(ratio))
        del args[i : i + 2]
    if len(args) != 3:
        raise SystemExit(__doc__)
    sys.argv[1:] = args
    s = parse(sys.argv[3])
    if prune and s["scheme"] != "int":
        raise SystemExit("--prune is checked with int:K only")
    bad = 0
    stored = 0
    with h5py.File(sys.argv[1], "r") as ff, h5py.File(sys.argv[2], "r") as fq:
        assert fq.attrs["format_version"] == 7, "a quantized file is written at format version 7"
        for pname in sorted(ff["populations"]):
            pf, pq = ff["populations"][pname], fq["populations"][pname]
            shape = [int(v) for v in pf.attrs["shape"]]
            for jname in sorted(pf["projections"]):
                jf, jq = pf["projections"][jname], pq["projections"][jname]
                kind = jf.attrs["kind"]
                kind = kind.decode() if isinstance(kind, bytes) else kind
                if kind not in ("dense", "conv2d", "depthwise_conv2d"):
                    continue
                w = np.asarray(jf["weights"], dtype=np.float32).reshape(-1).astype(np.float64)
                removed = np.zeros(0, dtype=np.int64)
                if prune:
                    removed = pruned_positions(prune[0], prune[1], seed, w.astype(np.float32), int(pname), int(jname))
                    w[removed] = 0.0
                outputs = int(np.prod(shape)) if kind == "dense" else shape[2]
                vector = s.get("vector", 0) if s["scheme"] == "qsq" else 0
                g = groups(len(w), outputs, vector)
                want_lv = np.zeros_like(w)
                want_scale = np.zeros(g.max() + 1)
                for gi in range(g.max() + 1):
                    sel = g == gi
                    want_lv[sel], want_scale[gi] = quantize_group(w[sel], s)
                bits = int(jq.attrs["quant_bits"])
                codes = unpack(np.asarray(jq["codes"]), bits, len(w))
                got_lv = level_of(codes, s["scheme"], bits)
                got_scale = np.asarray(jq["scale"], dtype=np.float64)
                stored += np.asarray(jq["codes"]).size * 8 + got_scale.size * 4
                name = jf.attrs["layer"]
                if got_scale.shape != want_scale.shape:
                    print(f"{name}: {got_scale.size} scales, numpy {want_scale.size}")
                    bad += 1
                    continue
                # Levels may differ only where the weight sits on a rounding boundary (float vs double).
                diff = np.flatnonzero(got_lv != want_lv)
                scale_ok = np.allclose(got_scale, want_scale.astype(np.float32), rtol=1e-5, atol=0)
                print(f"{name}: {len(w)} weights, {got_scale.size} scales, {len(diff)} levels differ, scales "
                      f"{'agree' if scale_ok else 'DIFFER'}")
                if len(diff) > max(1, len(w) // 10000) or not scale_ok:
                    bad += 1
                if prune:
                    nonzero = int(np.count_nonzero(got_lv[removed]))
                    print(f"{name}: {len(removed)} pruned, {nonzero} of them not level 0")
                    if nonzero:
                        bad += 1
        print(f"stored code and scale bytes: {stored}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
