#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

    /usr/bin/python3 tools/make_fuzz_seeds.py [--snn build/snn]

HDF5 seeds are H5Tree descriptions (tests/fuzz/h5_tree.hpp) of real files: the
Keras fixtures, networks converted from them by `snn convert` (with --snn), and
a small data set; every dataset keeps its shape and dtype, and its first values
(repeated), so a seed imports as its file does and the fuzzer starts deep.
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_VALUES = 16

DTYPES = {"float32": "f4", "float64": "f8", "int8": "i1", "int32": "i4", "int64": "i8",
          "uint8": "u1", "uint64": "u8"}


def number(v):
    v = float(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return int(v) if v == int(v) and abs(v) < 2**53 else v


def attr_value(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, str):
        try:  # model_config and friends: stored as nested JSON so the fuzzer mutates its structure
            j = json.loads(v)
            if isinstance(j, dict):
                return j
        except ValueError:
            pass
        return v
    a = np.asarray(v)
    if a.dtype.kind in "SUO":
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in a.ravel()]
    if a.ndim == 0:
        return int(a) if a.dtype.kind in "iu" else float(a)
    if a.size == 0:
        return []
    if a.dtype.kind in "iu":
        return [int(x) for x in a.ravel()]
    return [float(x) for x in a.ravel()]


def tree(node):
    out = {}
    attrs = {k: attr_value(v) for k, v in node.attrs.items()}
    if attrs:
        out["attrs"] = attrs
    groups, datasets = {}, {}
    for name, child in node.items():
        if isinstance(child, h5py.Group):
            groups[name] = tree(child)
        else:
            d = {"shape": list(child.shape), "dtype": DTYPES.get(child.dtype.name, "f4")}
            flat = np.asarray(child[()]).ravel()[:MAX_VALUES]
            if flat.size:
                d["values"] = [number(x) for x in flat]
            datasets[name] = d
    if groups:
        out["groups"] = groups
    if datasets:
        out["datasets"] = datasets
    return out


def dump(path, target, name, extra=None):
    with h5py.File(path, "r") as f:
        t = tree(f)
    if extra:
        t.update(extra)
    write(target, name, json.dumps(t, separators=(",", ":")).encode())


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    print(os.path.join(d, name), len(data), "B")


def idx(images, labels, flags=0):
    return bytes([flags, len(images) & 255, len(images) >> 8]) + images + labels


def keras3_seeds():
    """Keras 3 .keras archives of the small fixtures (tools/export_keras3.py):
    as descriptions {"config": config.json, "weights": H5Tree of
    model.weights.h5} that tests/fuzz/fuzz_keras3.cpp builds into an archive,
    and as archive bytes, stored as Keras writes them and deflated (only those
    within the 16 KiB tools/fuzz.sh gives an input)."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import export_keras3 as k3
    import zipfile
    with tempfile.TemporaryDirectory() as tmp:
        for m in ["tiny_keras3_sequential", "tiny_keras2_functional_add", "tiny_zeropad", "tiny_keras2_branchy"]:
            config, variables = k3.convert(os.path.join(ROOT, "data", "fixtures", m + ".h5"))
            weights = os.path.join(tmp, "model.weights.h5")
            with h5py.File(weights, "w") as f:
                f.create_group("vars")
                for group, arrays in variables:
                    g = f.require_group(group)
                    for i, a in enumerate(arrays):
                        g[str(i)] = a
                t = tree(f)
            write("keras3", m + ".json", json.dumps({"config": config, "weights": t}, separators=(",", ":")).encode())
            if m == "tiny_keras2_branchy":
                continue
            for suffix, compression in [("", zipfile.ZIP_STORED), ("_deflated", zipfile.ZIP_DEFLATED)]:
                path = os.path.join(tmp, m + suffix + ".keras")
                k3.write(path, config, variables, compression=compression)
                with open(path, "rb") as f:
                    data = f.read()
                if len(data) <= 16384:
                    write("keras3", m + suffix + ".keras", data)


def cut_message_seeds():
    """Cut messages (sim/cut_codec.hpp), laid out by hand: 2 bytes of cut
    (bit 0 signed, the rest neurons − 1), the 34-byte header, the payload."""
    def seed(name, neurons, signed, status, sample, t0, t1, exit_step, prediction, bits, payload):
        cut = ((neurons - 1) << 1 | signed).to_bytes(2, "little")
        header = bytes([1, status]) + sample.to_bytes(8, "little") + b"".join(
            (v & 0xFFFFFFFF).to_bytes(4, "little") for v in (t0, t1, exit_step, prediction)) + bits.to_bytes(8, "little")
        write("cut_message", name, cut + header + bytes(payload))
    # N = 8, addresses 1, 2 in delta addresses: 10 011 010 1.
    seed("delta", 8, 0, 0, 0, 0, 1, -1, -1, 9, [0b10011010, 0b10000000])
    # N = 4, signed: all four as a bitmap (01 1111), no negatives (10 1).
    seed("bitmap_signed", 4, 1, 0, 1, 3, 4, -1, -1, 9, [0b01111110, 0b10000000])
    # N = 1000, address 500 as address events (a tie with delta): 00, 500 and 1000 in 10 bits.
    seed("aer", 1000, 0, 0, 2, 0, 1, -1, -1, 22, [0b00011111, 0b01001111, 0b10100000])
    # Two empty steps of 100 (10 1, twice).
    seed("two_empty", 100, 0, 0, 3, 6, 8, -1, -1, 6, [0b10110100])
    # A sample that left at an exit at step 11 with class 3.
    seed("exited", 300, 0, 1, 7, 8, 16, 11, 3, 0, [])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snn", default=os.path.join(ROOT, "build", "snn"))
    args = ap.parse_args()
    keras3_seeds()
    cut_message_seeds()
    fixtures = os.path.join(ROOT, "data", "fixtures")
    models = ["tiny_keras2_functional_add", "tiny_keras3_sequential", "tiny_unsupported", "tiny_keras2_branchy",
              "tiny_upsample", "tiny_idp_profiles"]
    for m in models:
        dump(os.path.join(fixtures, m + ".h5"), "keras", m + ".json")
    dump(os.path.join(ROOT, "data", "models", "mnist_cnn_bn_maxpool.h5"), "keras", "mnist_cnn_bn_maxpool.json")
    # Larq layout: QuantConv2D / QuantDense with serialized quantizers.
    dump(os.path.join(ROOT, "data", "models", "mnist_bcnn.h5"), "keras", "mnist_bcnn_larq.json")

    with tempfile.TemporaryDirectory() as tmp:
        for m, opts in [("tiny_keras2_functional_add", []),
                        ("tiny_keras3_sequential", ["--signed-spikes", "--neuron", "lif", "--tau-steps", "4"])]:
            out = os.path.join(tmp, m + ".snn.h5")
            subprocess.run([args.snn, "convert", os.path.join(fixtures, m + ".h5"), "-o", out] + opts,
                           check=True, stdout=subprocess.DEVNULL)
            dump(out, "network", m + ".json")
        # Format version 2: exits (two imported from the Keras heads, one on the output) and a partition.
        out = os.path.join(tmp, "branchy.snn.h5")
        for cmd in (["convert", os.path.join(fixtures, "tiny_keras2_branchy.h5"), "-o", out],
                    ["partition", out, "edge:c1-ap,cloud:c2-d"],
                    ["exits", "add", out, "--at", "ap", "--rule", "max-prob", "--threshold", "0.9", "--check-every", "2"],
                    ["exits", "add", out, "--threshold", "0.1", "--check-every", "4"]):
            subprocess.run([args.snn] + cmd, check=True, stdout=subprocess.DEVNULL)
        dump(out, "network", "tiny_keras2_branchy_exits_partition.json")
        out = os.path.join(tmp, "maxpool.snn.h5")
        subprocess.run([args.snn, "convert", os.path.join(ROOT, "data", "models", "mnist_cnn_bn_maxpool.h5"),
                        "-o", out], check=True, stdout=subprocess.DEVNULL)
        dump(out, "network", "mnist_cnn_bn_maxpool.json")
        # Format version 3: binary projections (bits and alpha).
        out = os.path.join(tmp, "binary.snn.h5")
        subprocess.run([args.snn, "convert", os.path.join(ROOT, "data", "models", "mnist_bcnn.h5"), "-o", out],
                       check=True, stdout=subprocess.DEVNULL)
        dump(out, "network", "mnist_bcnn_binary.json")
        # Format version 7: quantized projections (codes and scales), dense, conv and depthwise.
        out = os.path.join(tmp, "quant.snn.h5")
        subprocess.run([args.snn, "convert", os.path.join(fixtures, "tiny_keras2_mobilenet.h5"), "-o", out,
                        "--quantize", "qsq:4"], check=True, stdout=subprocess.DEVNULL)
        dump(out, "network", "tiny_keras2_mobilenet_qsq.json")
        # Format version 8: sparse (pruned) dense projections (row_begin, target), and a pruned conv.
        out = os.path.join(tmp, "pruned.snn.h5")
        subprocess.run([args.snn, "convert", os.path.join(fixtures, "tiny_keras3_sequential.h5"), "-o", out,
                        "--prune", "random:0.5"], check=True, stdout=subprocess.DEVNULL)
        dump(out, "network", "tiny_keras3_sequential_pruned.json")
        # Format version 13: several IDP profiles (idp_ranges, idp_variants).
        out = os.path.join(tmp, "idp_profiles.snn.h5")
        subprocess.run([args.snn, "convert", os.path.join(fixtures, "tiny_idp_profiles.h5"), "-o", out],
                       check=True, stdout=subprocess.DEVNULL)
        dump(out, "network", "tiny_idp_profiles.json")
        # Format version 9: nearest-upsampling relays (upsample2d projections).
        out = os.path.join(tmp, "upsample.snn.h5")
        subprocess.run([args.snn, "convert", os.path.join(fixtures, "tiny_upsample.h5"), "-o", out],
                       check=True, stdout=subprocess.DEVNULL)
        dump(out, "network", "tiny_upsample.json")

        data = os.path.join(tmp, "data.h5")
        rng = np.random.default_rng(1)
        for name, shape in [("nhwc", (3, 4, 4, 2)), ("nhw", (3, 4, 4)), ("flat", (3, 5))]:
            with h5py.File(data, "w") as f:
                f["x"] = rng.uniform(0, 1, shape).astype(np.float32)
                f["y"] = np.array([0, 2, 1], dtype=np.int64)
            dump(data, "dataset_h5", name + ".json", {"limit": 2} if name == "flat" else None)

    # IDX: two 3x2 images and their labels, plain, gzip, and a gzip stream as raw bytes.
    images = (0x803).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + \
        (2).to_bytes(4, "big") + bytes(range(0, 240, 20))
    labels = (0x801).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes([3, 9])
    write("idx", "plain", idx(images, labels, 0))
    write("idx", "gzip_both_limit1", idx(images, labels, 3 | 1 << 4))
    write("idx", "raw_gzip_stream", idx(gzip.compress(images, mtime=0), labels, 4))

    for i, text in enumerate([b"512M", b"4G", b"1.5GiB", b"1000000", b"2T", b"0.5K"]):
        write("options", "memory%d" % i, b"\x00" + text)
    for i, text in enumerate([b"qsq:8:levels=2,conv1=int:4:l1", b"ternary,dense=binary", b"int:8:max"]):
        write("options", "quantize%d" % i, b"\x0a" + text)
    for i, text in enumerate([b"random:0.5", b"magnitude:0.9,dense_1=random:0", b"fc=magnitude:0.25,random:0.8"]):
        write("options", "prune%d" % i, b"\x0b" + text)
    for i, text in enumerate([b"max", b"model", b"percentile:99.9", b"percentile:100"]):
        write("options", "norm%d" % i, b"\x01" + text)
    for i, text in enumerate([b"mnist:train", b"fashion-mnist:test", b"mnist", b"data.h5", b"mnist:valid"]):
        write("options", "data%d" % i, b"\x02" + text)
    for sel, text in [(3, b"poisson"), (4, b"membrane"), (5, b"lif"), (6, b"subtract"), (7, b"conv2d")]:
        write("options", "enum%d" % sel, bytes([sel]) + text)
    write("options", "partition0", b"\x08edge:conv-1,cloud:pool-out")
    write("options", "partition1", b"\x08a:conv-1-out")
    write("options", "costs0", b'\x09{"add_pj": 0.5, "weight_bits": 8}')
    write("options", "costs1", b"\x09{}")


if __name__ == "__main__":
    sys.exit(main())
