#!/usr/bin/python3
"""Writes the NIR fixtures of tests/convert/test_nir.cpp into data/fixtures/nir/.

The graphs are written with h5py straight from the layout NIR's writer uses
(../shared/data/nir/NIR_FORMAT.md, section 1): /version, /node (a NIRGraph)
with nodes/<name>/{type, fields} and edges as an (E, 2) array of UTF-8
strings, edges in shuffled order. Weights are multiples of 1/8 and inputs
multiples of 1/4, so that every sum is exact in float32 and float64 alike and
membranes land exactly on thresholds: spike counts then depend only on the
rules (strict threshold, reset), not on rounding.

Expected spike counts come from tools/nir_reference.py (numpy, independent of
snn). Facts of ../shared/data/nir/scnn_mnist.nir (shapes, a few weights) are
read here with h5py for the test to compare with the converted network.

  /usr/bin/python3 tools/make_nir_fixtures.py
"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nir_reference  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "data", "fixtures", "nir")
SHARED = os.path.join(ROOT, "..", "shared", "data", "nir")
STR = h5py.string_dtype("utf-8")


def put(g, name, value, gzip=False):
    if isinstance(value, str):
        g.create_dataset(name, data=value, dtype=STR)
    elif isinstance(value, dict):
        sub = g.create_group(name)
        for k, v in value.items():
            put(sub, k, v, gzip)
    elif isinstance(value, np.ndarray) and gzip and value.ndim > 0:
        g.create_dataset(name, data=value, compression="gzip")
    else:
        g.create_dataset(name, data=value)


def write_graph(g, nodes, edges, rng, gzip=False):
    put(g, "type", "NIRGraph")
    ng = g.create_group("nodes")
    for name, fields in nodes.items():
        if fields.get("type") == "NIRGraph":
            write_graph(ng.create_group(name), fields["nodes"], fields["edges"], rng, gzip)
            continue
        put(ng, name, fields, gzip)
    edges = list(edges)
    rng.shuffle(edges)
    if edges:
        g.create_dataset("edges", data=np.array(edges, dtype=object), dtype=STR)
    else:
        g.create_dataset("edges", data=np.zeros((0,)))


def write(name, version, nodes, edges, seed=0, gzip=False):
    path = os.path.join(OUT, name)
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        if version is not None:
            put(f, "version", version)
        write_graph(f.create_group("node"), nodes, edges, rng, gzip)
    return path


def dyadic(rng, shape, lo=-4, hi=5, dtype=np.float32):
    return (rng.integers(lo, hi, size=shape) / 8.0).astype(dtype)


def expected(path, xs, steps, dt=1.0, reset=None, suffix="expected"):
    counts = nir_reference.simulate(path, xs, steps, dt, reset)
    out = {"nir": os.path.basename(path), "steps": steps, "dt": dt, "reset": reset or "default",
           "x_shape": list(xs.shape), "x": xs.reshape(-1).tolist(), "counts": counts}
    base = os.path.splitext(path)[0]
    with open(base + "." + suffix + ".json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return counts


def expected_classes(path, xs, steps, dt=1.0):
    """Like expected(), with the class of every sample (an output read by its membrane)."""
    predictions = []
    counts = nir_reference.simulate(path, xs, steps, dt, predictions=predictions)
    name = os.path.basename(path)
    with open(os.path.splitext(path)[0] + ".expected.json", "w") as f:
        json.dump({"nir": name, "steps": steps, "dt": dt, "reset": "default", "x_shape": list(xs.shape),
                   "x": xs.reshape(-1).tolist(), "counts": counts, "predictions": predictions}, f, indent=1)
        f.write("\n")
    print(os.path.splitext(name)[0], counts, predictions)
    return counts, predictions


def ones(shape, x=1.0, dtype=np.float32):
    return np.full(shape, x, dtype=dtype)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261207)

    # A. A small CNN in sinabs' shape: conv, IF, sum pooling (folded into the
    # next conv), conv, IF, flatten, affine, IF. Written before NIR 1.0.6.
    cnn = {
        "input": {"type": "Input", "shape": np.array([2, 6, 6], dtype=np.int64)},
        "conv0": {"type": "Conv2d", "weight": dyadic(rng, (3, 2, 3, 3)), "bias": dyadic(rng, (3,), -2, 3),
                  "stride": np.array([1, 1]), "padding": np.array([1, 1]), "dilation": np.array([1, 1]),
                  "groups": np.int64(1), "input_shape": np.array([6, 6])},
        "if0": {"type": "IF", "r": ones((3, 6, 6)), "v_threshold": ones((3, 6, 6))},
        "pool": {"type": "SumPool2d", "kernel_size": np.array([2, 2]), "stride": np.array([2, 2]),
                 "padding": np.array([0, 0])},
        "conv1": {"type": "Conv2d", "weight": dyadic(rng, (4, 3, 3, 3)), "bias": np.zeros(4, np.float32),
                  "stride": np.array([1, 1]), "padding": np.array([1, 1]), "dilation": np.array([1, 1]),
                  "groups": np.int64(1), "input_shape": np.array([3, 3])},
        "if1": {"type": "IF", "r": np.ones((4, 3, 3), dtype=np.int64), "v_threshold": ones((4, 3, 3))},
        "flat": {"type": "Flatten", "start_dim": np.int64(0), "end_dim": np.int64(-1),
                 "input_type": np.array([4, 3, 3])},
        "fc": {"type": "Affine", "weight": dyadic(rng, (5, 36), dtype=np.float64), "bias": dyadic(rng, (5,), 0, 2, np.float64)},
        "if2": {"type": "IF", "r": ones(5, dtype=np.float64), "v_threshold": ones(5, dtype=np.float64)},
        "output": {"type": "Output", "shape": np.array([5])},
    }
    cnn_edges = [("input", "conv0"), ("conv0", "if0"), ("if0", "pool"), ("pool", "conv1"), ("conv1", "if1"),
                 ("if1", "flat"), ("flat", "fc"), ("fc", "if2"), ("if2", "output")]
    p = write("tiny_cnn.nir", "0.2.0", cnn, cnn_edges, seed=1, gzip=True)
    xs = (rng.integers(0, 5, size=(3, 2, 6, 6)) / 4.0)
    print("tiny_cnn subtract", expected(p, xs, 12))
    print("tiny_cnn value", expected(p, xs, 12, reset="value", suffix="value"))

    # B. LIF with a time constant in seconds (--dt 0.001), then Affine and Scale. NIR 1.0.7: reset to v_reset.
    lif = {
        "input": {"type": "Input", "shape": np.array([4])},
        "lin": {"type": "Linear", "weight": dyadic(rng, (3, 4), 1, 6, np.float64)},
        "lif": {"type": "LIF", "tau": ones(3, 0.002), "r": ones(3, 2.0), "v_leak": ones(3, 0.0),
                "v_threshold": ones(3, 0.3), "v_reset": ones(3, 0.0)},
        "aff": {"type": "Affine", "weight": dyadic(rng, (2, 3), 1, 8), "bias": np.array([0.125, 0.0], np.float32)},
        "sc": {"type": "Scale", "scale": np.array([2.0, 0.5], np.float32)},
        "if": {"type": "IF", "r": ones(2), "v_threshold": ones(2), "v_reset": ones(2, 0.0)},
        "output": {"type": "Output", "shape": np.array([2])},
    }
    p = write("tiny_lif.nir", "1.0.7", lif, [("input", "lin"), ("lin", "lif"), ("lif", "aff"), ("aff", "sc"),
                                            ("sc", "if"), ("if", "output")], seed=2)
    xs = rng.integers(0, 5, size=(4, 4)) / 4.0
    print("tiny_lif", expected(p, xs, 16, dt=0.001))

    # C. A subgraph addressed by its name and by a dotted edge name, and a
    # top-level node whose name has a dot (exact names come first).
    sub = {"type": "NIRGraph",
           "nodes": {"input": {"type": "Input", "shape": np.array([3])},
                     "fc": {"type": "Affine", "weight": dyadic(rng, (4, 3), -2, 6), "bias": dyadic(rng, (4,), 0, 3)},
                     "lif": {"type": "IF", "r": ones(4), "v_threshold": ones(4, 0.75), "v_reset": ones(4, 0.0)},
                     "output": {"type": "Output", "shape": np.array([4])}},
           "edges": [("input", "fc"), ("fc", "lif"), ("lif", "output")]}
    graph = {
        "input": {"type": "Input", "shape": np.array([3])},
        "G": sub,
        "head.fc": {"type": "Linear", "weight": dyadic(rng, (2, 4), -1, 6)},
        "out": {"type": "IF", "r": ones(2), "v_threshold": ones(2), "v_reset": ones(2, 0.0)},
        "output": {"type": "Output", "shape": np.array([2])},
    }
    p = write("tiny_subgraph.nir", "1.0.7", graph, [("input", "G.input"), ("G", "head.fc"), ("head.fc", "out"),
                                                    ("out", "output")], seed=3)
    xs = rng.integers(0, 5, size=(3, 3)) / 4.0
    print("tiny_subgraph", expected(p, xs, 10))

    # D. Conv2d with padding "same", AvgPool2d folded into a Linear after a Flatten.
    avg = {
        "input": {"type": "Input", "shape": np.array([1, 4, 4])},
        "c": {"type": "Conv2d", "weight": dyadic(rng, (2, 1, 3, 3), -2, 6), "bias": np.zeros(2, np.float32),
              "stride": np.int64(1), "padding": "same", "dilation": np.int64(1), "groups": np.int64(1)},
        "i1": {"type": "IF", "r": ones((2, 4, 4)), "v_threshold": ones((2, 4, 4))},
        "ap": {"type": "AvgPool2d", "kernel_size": np.array([2, 2]), "stride": np.array([2, 2]), "padding": np.array([0, 0])},
        "fl": {"type": "Flatten", "start_dim": np.int64(0), "end_dim": np.int64(-1), "input_type": np.array([2, 2, 2])},
        "lin": {"type": "Linear", "weight": dyadic(rng, (3, 8), -2, 8)},
        "i2": {"type": "IF", "r": ones(3), "v_threshold": ones(3, 0.5)},
        "output": {"type": "Output", "shape": np.array([3])},
    }
    p = write("tiny_avgpool.nir", "0.2.0", avg, [("input", "c"), ("c", "i1"), ("i1", "ap"), ("ap", "fl"), ("fl", "lin"),
                                                  ("lin", "i2"), ("i2", "output")], seed=4)
    xs = rng.integers(0, 5, size=(3, 1, 4, 4)) / 4.0
    print("tiny_avgpool", expected(p, xs, 12))

    # Refused graphs: each gives one line naming the node or edge.
    two = lambda: {"input": {"type": "Input", "shape": np.array([2])},  # noqa: E731
                   "a": {"type": "Affine", "weight": ones((2, 2)), "bias": ones(2, 0.0)},
                   "b": {"type": "IF", "r": ones(2), "v_threshold": ones(2)},
                   "output": {"type": "Output", "shape": np.array([2])}}
    chain = [("input", "a"), ("a", "b"), ("b", "output")]
    write("bad_cycle.nir", "1.0.7", two(), chain + [("b", "a")])
    write("bad_edge_to_nowhere.nir", "1.0.7", two(), chain + [("b", "ghost")])
    g = two()
    g["d"] = {"type": "Delay", "delay": ones(2)}
    write("bad_unsupported.nir", "1.0.7", g, [("input", "a"), ("a", "d"), ("d", "b"), ("b", "output")])
    g = two()
    g["b"]["v_threshold"] = np.array([1.0, 2.0], np.float32)
    write("bad_varying_threshold.nir", "1.0.7", g, chain)
    g = two()
    del g["output"]
    write("bad_no_output.nir", "1.0.7", g, chain[:2])

    # E. Conv1d (stride 2, padding 1, arrays of one as sinabs/snnTorch write
    # them) on a (C, L) input, IF, Flatten, Affine, and an LI output read by
    # its membrane; then the refusals of Conv1d's parameters and of an LI
    # that is not the output. Its own generator, so the fixtures above keep
    # their draws.
    r1 = np.random.default_rng(1212)
    c1d = {
        "input": {"type": "Input", "shape": np.array([2, 12], dtype=np.int64)},
        "conv": {"type": "Conv1d", "weight": dyadic(r1, (4, 2, 3), -3, 6), "bias": dyadic(r1, (4,), -1, 3),
                 "stride": np.array([2]), "padding": np.array([1]), "dilation": np.array([1]),
                 "groups": np.int64(1), "input_shape": np.int64(12)},
        "if0": {"type": "IF", "r": ones((4, 6)), "v_threshold": ones((4, 6))},
        "flat": {"type": "Flatten", "start_dim": np.int64(0), "end_dim": np.int64(-1)},
        "fc": {"type": "Affine", "weight": dyadic(r1, (3, 24), -4, 5), "bias": np.zeros(3, np.float32)},
        "li": {"type": "LI", "tau": ones(3, 4.0), "r": ones(3), "v_leak": ones(3, 0.0)},
        "output": {"type": "Output", "shape": np.array([3])},
    }
    c1d_edges = [("input", "conv"), ("conv", "if0"), ("if0", "flat"), ("flat", "fc"), ("fc", "li"), ("li", "output")]
    p = write("tiny_conv1d_li.nir", "1.0.7", c1d, c1d_edges, seed=5)
    xs = r1.integers(0, 5, size=(6, 2, 12)) / 4.0
    counts, predictions = expected_classes(p, xs, 16)
    assert counts["if0"] > 0 and len(set(predictions)) > 1, (counts, predictions)
    g = dict(c1d)
    g["conv"] = dict(c1d["conv"], dilation=np.array([2]), groups=np.int64(2), weight=dyadic(r1, (4, 1, 3)))
    write("bad_conv1d.nir", "1.0.7", g, c1d_edges)
    g = dict(c1d)
    g["li2"] = {"type": "LI", "tau": ones((4, 6), 4.0), "r": ones((4, 6)), "v_leak": ones((4, 6), 0.0)}
    write("bad_li_hidden.nir", "1.0.7", g, [("input", "conv"), ("conv", "li2"), ("li2", "if0")] + c1d_edges[2:])

    # F. Current-based synapses, time constants in seconds (--dt 0.001), NIR
    # 1.0.7: Affine -> CubaLIF (w_in 1.5) -> Linear -> CubaLI (no w_in: 1) read
    # by its membrane; then a CubaLIF whose tau_syn is not positive. Its own
    # generator, so the fixtures above keep their draws.
    r2 = np.random.default_rng(1208)
    cuba = {
        "input": {"type": "Input", "shape": np.array([5])},
        "fc": {"type": "Affine", "weight": dyadic(r2, (6, 5), -3, 6), "bias": dyadic(r2, (6,), -1, 2)},
        "cuba": {"type": "CubaLIF", "tau_syn": ones(6, 0.002), "tau_mem": ones(6, 0.004), "r": ones(6, 2.0),
                 "v_leak": ones(6, 0.0), "v_threshold": ones(6, 0.25), "v_reset": ones(6, 0.0), "w_in": ones(6, 1.5)},
        "lin": {"type": "Linear", "weight": dyadic(r2, (3, 6), -4, 6)},
        "li": {"type": "CubaLI", "tau_syn": ones(3, 0.003), "tau_mem": ones(3, 0.005), "r": ones(3),
               "v_leak": ones(3, 0.0)},
        "output": {"type": "Output", "shape": np.array([3])},
    }
    cuba_edges = [("input", "fc"), ("fc", "cuba"), ("cuba", "lin"), ("lin", "li"), ("li", "output")]
    p = write("tiny_cubalif.nir", "1.0.7", cuba, cuba_edges, seed=6)
    xs = r2.integers(0, 5, size=(8, 5)) / 4.0
    counts, predictions = expected_classes(p, xs, 24, dt=0.001)
    assert counts["cuba"] > 0 and len(set(predictions)) > 1, (counts, predictions)
    g = dict(cuba)
    g["cuba"] = dict(cuba["cuba"], tau_syn=ones(6, 0.0))
    write("bad_cubalif_tau_syn.nir", "1.0.7", g, cuba_edges)

    # G. Threshold (no membrane) and an I output read by its membrane, NIR 1.0.7.
    r3 = np.random.default_rng(1209)
    thr = {
        "input": {"type": "Input", "shape": np.array([4])},
        "fc": {"type": "Affine", "weight": dyadic(r3, (5, 4), -3, 6), "bias": dyadic(r3, (5,), -1, 2)},
        "th": {"type": "Threshold", "threshold": ones(5, 0.375)},
        "lin": {"type": "Linear", "weight": dyadic(r3, (3, 5), -4, 6)},
        "integ": {"type": "I", "r": ones(3, 0.5)},
        "output": {"type": "Output", "shape": np.array([3])},
    }
    thr_edges = [("input", "fc"), ("fc", "th"), ("th", "lin"), ("lin", "integ"), ("integ", "output")]
    p = write("tiny_threshold.nir", "1.0.7", thr, thr_edges, seed=7)
    xs = r3.integers(0, 5, size=(8, 4)) / 4.0
    counts, predictions = expected_classes(p, xs, 6)
    assert 0 < counts["th"] < 8 * 5 * 6 and len(set(predictions)) > 1, (counts, predictions)

    # Facts of the NIR paper's CNN, read with h5py, for the conversion test.
    path = os.path.join(SHARED, "scnn_mnist.nir")
    if os.path.exists(path):
        with h5py.File(path, "r") as f:
            n = f["node/nodes"]
            w0 = n["0/weight"][()]
            w5 = n["5/weight"][()]
            w9 = n["9/weight"][()]
            facts = {
                "input_shape": n["input/shape"][()].tolist(),
                "if_shapes": {k: list(n[k + "/v_threshold"].shape) for k in ("1", "3", "6", "10", "12")},
                "w0_shape": list(w0.shape),
                "w0": [[list(i), float(w0[i])] for i in [(0, 0, 0, 0), (3, 1, 2, 4), (15, 1, 4, 0)]],
                "w5_shape": list(w5.shape),
                "w5": [[list(i), float(w5[i])] for i in [(0, 0, 0, 0), (7, 15, 2, 1), (2, 9, 1, 2)]],
                "w9_shape": list(w9.shape),
                "w9": [[list(i), float(w9[i])] for i in [(0, 0), (255, 127), (17, 53)]],
                "version": f["version"][()].decode(),
            }
        with open(os.path.join(OUT, "scnn_mnist.facts.json"), "w") as fo:
            json.dump(facts, fo, indent=1)
            fo.write("\n")
        xs = np.random.default_rng(7).integers(0, 2, size=(2, 2, 34, 34)).astype(np.float64)
        counts = nir_reference.simulate(path, xs, 8)
        with open(os.path.join(OUT, "scnn_mnist.expected.json"), "w") as fo:
            json.dump({"nir": "../shared/data/nir/scnn_mnist.nir", "steps": 8, "dt": 1.0, "reset": "default",
                       "x_shape": list(xs.shape), "x": xs.reshape(-1).tolist(), "counts": counts}, fo)
            fo.write("\n")
        print("scnn_mnist", counts)


if __name__ == "__main__":
    main()
