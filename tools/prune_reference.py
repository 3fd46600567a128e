#!/usr/bin/python3
"""Independent check of `snn convert --prune` (docs/pruning.md).

    tools/prune_reference.py FLOAT.snn.h5 PRUNED.snn.h5 METHOD:R [--seed N]

FLOAT is the same model converted with the same options but without
--prune; METHOD:R (random:R or magnitude:R) is the one entry PRUNED was made
with for every layer, N its --prune-seed (default 1). For every Dense,
Conv2D and DepthwiseConv2D projection the script reads PRUNED with h5py,
rebuilds a dense pruned layer from its compressed sparse rows (or reads the
zeroed kernel of a convolution) and checks that

  * it equals FLOAT's weights with exactly round(R*n) of them zeroed and the
    rest untouched;
  * magnitude: every removed weight has a smaller |w| than every kept one
    (ties: the lower index is removed first);
  * random: the removed set is the one the seeded stream chooses, drawn here
    again with Python integers (SplitMix64 counters, rejection sampling,
    the first k swaps of a Fisher-Yates shuffle);
  * the sparse rows are well formed, and their stored bytes are
    4 * synapses (values) + 4 * synapses (targets) + 8 * (inputs + 1).

Prints one line per layer and the stored sparse bytes; exit status 0 when all agree.
"""
import sys

import h5py
import numpy as np

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix(z):
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def stream(seed, population, projection):
    return mix(mix(seed) ^ mix(((population << 32) + projection + GAMMA) & M64))


def random_removed(n, k, key):
    counter = 0
    order = list(range(n))
    for i in range(k):
        r = n - i
        rejected = ((1 << 64) - r) % r
        while True:
            counter += 1
            x = mix(key + counter * GAMMA)
            if x <= M64 - rejected:
                break
        j = i + x % r
        order[i], order[j] = order[j], order[i]
    return np.array(sorted(order[:k]), dtype=np.int64)


def fail(msg):
    print("MISMATCH: " + msg)
    sys.exit(1)


def main():
    args = sys.argv[1:]
    seed = 1
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 3:
        raise SystemExit(__doc__)
    float_path, pruned_path, spec = args
    method, ratio = spec.split(":")
    ratio = float(ratio)
    f, p = h5py.File(float_path, "r"), h5py.File(pruned_path, "r")
    checked = 0
    sparse_bytes = 0
    for pop in sorted(f["populations"]):
        fp, pp = f["populations"][pop], p["populations"][pop]
        for proj in sorted(fp["projections"]):
            fg, pg = fp["projections"][proj], pp["projections"][proj]
            kind = fg.attrs["kind"]
            if kind not in ("dense", "conv2d", "depthwise_conv2d"):
                continue
            name = f"{fg.attrs['layer']} ({pop}/{proj})"
            w = np.asarray(fg["weights"], dtype=np.float32)
            n = w.size
            k = int(np.floor(ratio * n + 0.5))
            flat = w.reshape(-1)
            pkind = pg.attrs["kind"]
            if k == 0:
                if pkind != kind or not np.array_equal(np.asarray(pg["weights"]), w):
                    fail(f"{name}: nothing to prune but the layer changed")
                continue
            if kind == "dense":
                if pkind != "sparse_dense":
                    fail(f"{name}: a pruned dense layer is {pkind}, not sparse_dense")
                rows, cols = w.shape
                begin = np.asarray(pg["row_begin"], dtype=np.int64)
                target = np.asarray(pg["target"], dtype=np.int64)
                values = np.asarray(pg["weights"], dtype=np.float32)
                if begin.shape != (rows + 1,) or begin[0] != 0 or begin[-1] != target.size or np.any(np.diff(begin) < 0):
                    fail(f"{name}: malformed row_begin")
                if values.size != target.size or np.any(target < 0) or np.any(target >= cols):
                    fail(f"{name}: malformed targets")
                dense = np.zeros((rows, cols), dtype=np.float32)
                kept = np.zeros((rows, cols), dtype=bool)
                for r in range(rows):
                    t = target[begin[r] : begin[r + 1]]
                    if np.any(np.diff(t) <= 0):
                        fail(f"{name}: targets of row {r} do not ascend")
                    dense[r, t] = values[begin[r] : begin[r + 1]]
                    kept[r, t] = True
                keep = kept.reshape(-1)
                sparse_bytes += 4 * values.size + 4 * target.size + 8 * begin.size
            else:
                if pkind != kind:
                    fail(f"{name}: a pruned {kind} became {pkind}")
                dense = np.asarray(pg["weights"], dtype=np.float32)
                # A convolution keeps its zeros: the removed set is where the kernel changed to 0,
                # plus weights that were 0 already, which the selection below decides.
                keep = None
            removed_want = None
            if method == "random":
                removed_want = random_removed(n, k, stream(seed, int(pop), int(proj)))
            elif method == "magnitude":
                order = np.lexsort((np.arange(n), np.abs(flat)))
                removed_want = np.sort(order[:k])
            else:
                raise SystemExit(f"unknown method {method}")
            want_keep = np.ones(n, dtype=bool)
            want_keep[removed_want] = False
            if keep is not None and not np.array_equal(keep, want_keep):
                fail(f"{name}: the kept synapses differ from the {method} selection")
            if int((~want_keep).sum()) != k:
                fail(f"{name}: {int((~want_keep).sum())} removed, expected {k}")
            expect = np.where(want_keep, flat, np.float32(0)).reshape(w.shape)
            if not np.array_equal(dense, expect):
                fail(f"{name}: stored weights are not the float weights with the pruned ones zeroed")
            if method == "magnitude" and k < n:
                a = np.abs(flat)
                idx = np.arange(n)
                worst_removed = max(zip(a[~want_keep], idx[~want_keep]))
                best_kept = min(zip(a[want_keep], idx[want_keep]))
                if not worst_removed < best_kept:
                    fail(f"{name}: a removed weight is larger than a kept one")
            print(f"{name}: {kind}, {k} of {n} removed ({method}), kept {100.0 * (n - k) / n:.4g}%")
            checked += 1
    if checked == 0:
        fail("no layer was checked")
    print(f"stored sparse bytes: {sparse_bytes}")
    print(f"ok: {checked} layers")


if __name__ == "__main__":
    main()
