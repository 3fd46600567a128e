#!/usr/bin/env python3
"""Write the tiny Keras .h5 fixtures used by the C++ importer tests.

    /usr/bin/python3 tools/make_fixtures.py [--out data/fixtures] [--only NAME ...]

Deterministic (fixed seeds), random small weights, no training. ``--only NAME``
(repeatable, NAME without .h5) writes just those fixtures: the .ref.h5 files are
not byte-identical from run to run (HDF5 dataset timestamps), so regenerate only
what changed. Files:

  tiny_keras2_functional_add.h5   Keras 2 Functional model, residual-style Add:
        input_1 (6,6,2) -> c1 Conv2D 4@3x3 same relu
        c1 -> c2 Conv2D 4@3x3 same linear -> bn BatchNormalization
        add = Add(c1, bn) -> act Activation relu -> ap AveragePooling2D 2x2
        -> fl Flatten -> d Dense 3 softmax
  tiny_keras3_sequential.h5       Keras 3 legacy-h5 layout, Sequential:
        InputLayer (4,4,1) -> conv2d Conv2D 2@3x3 valid relu -> flatten -> dense 3 softmax
  tiny_keras2_branchy.h5          Keras 2 Functional model with two exit heads (BranchyNet):
        input_1 (6,6,1) -> c1 Conv2D 4@3x3 valid relu -> ap AveragePooling2D 2x2
        -> c2 Conv2D 5@2x2 same relu -> fl Flatten -> d Dense 3 softmax   (the output)
        c1 -> e1_gap GlobalAveragePooling2D -> e1 Dense 3 softmax          (exit at c1)
        ap -> e2_fl Flatten -> e2_drop Dropout -> e2 Dense 3 -> e2_sm Softmax (exit at ap)
  tiny_unsupported.h5             Keras 2 Sequential with a LeakyReLU layer:
        InputLayer (5,) -> dense Dense 4 -> leaky LeakyReLU -> dense_1 Dense 2 softmax
  tiny_keras2_mobilenet.h5        Keras 2 Sequential, MobileNet-style layers:
        input_1 (9,9,3) -> dw1 DepthwiseConv2D 3x3 depth_multiplier 2 strides 2 same,
        no bias, linear (5,5,6) -> bn1 BatchNormalization -> relu1 ReLU
        -> sep SeparableConv2D 5@3x3 valid, depth_multiplier 1, bias, relu (3,3,5)
        -> dw2 DepthwiseConv2D 2x2 depth_multiplier 1 valid, bias, relu (2,2,5)
        -> gap GlobalAveragePooling2D (5) -> d Dense 3 softmax
        (dw1's 'same' pads 9 -> 11 with one pixel on each side; DepthwiseConv2D output
        channel c * depth_multiplier + m; see tools/keras_h5.py. Every ReLU channel is
        positive somewhere on the 8 reference inputs.)
  tiny_cs_mlp.h5                  Keras 2 Sequential on compressive-sensing measurements:
        InputLayer (6,) -> dense Dense 5 relu -> dense_1 Dense 3 softmax, with root
        attributes snn_input_stage = "rademacher", seed 77, rd 6, raw shape (4, 4, 1).
        Its .ref.h5 holds x as the RAW (8, 4, 4, 1) inputs and y_dnn the numpy
        reference of Phi then the MLP (Phi from tools/rademacher_reference.py).
  tiny_idp_profiles.h5            Keras 2 Sequential with two IDP profiles (003 section III):
        InputLayer (5,) -> dense Dense 8 relu -> dense_1 Dense 6 relu -> dense_2 Dense 3,
        snn_idp_profile "linear", snn_idp_ranges [40, 100], profile 0's own dense and
        dense_2 under snn_idp_variants/0/. Its .ref.h5 holds x (8, 5) and y_idp25,
        y_idp40, y_idp60, y_idp100: the numpy reference's pre-softmax outputs at that
        IDP percentage (tools/keras_h5.py: forward(path, x, logits=True, idp=P)).

For functional_add, keras3_sequential and mobilenet, <name>.ref.h5 holds datasets
  x      (8, H, W, C) float32 inputs in [0, 1]
  y_dnn  (8, 3) float32 pre-softmax outputs of the numpy reference forward pass
         (tools/keras_h5.py: forward(path, x, logits=True)).
The branchy model's reference also holds y_e1 and y_e2, the pre-softmax
outputs of its exit heads.
"""

import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_h5 as kh  # noqa: E402
import rademacher_reference as rr  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def u(rng, shape, scale=0.5):
    return rng.uniform(-scale, scale, size=shape).astype(np.float32)


def functional_add(rng):
    w = kh.with_inbound
    return [
        w(kh.input_layer("input_1", (6, 6, 2))),
        w(kh.conv2d("c1", u(rng, (3, 3, 2, 4)), u(rng, (4,), 0.1), padding="same",
                    activation="relu"), "input_1"),
        w(kh.conv2d("c2", u(rng, (3, 3, 4, 4)), u(rng, (4,), 0.1), padding="same",
                    activation="linear"), "c1"),
        w(kh.batch_norm("bn", rng.uniform(0.5, 1.5, 4), u(rng, (4,), 0.2), u(rng, (4,), 0.2),
                        rng.uniform(0.5, 1.5, 4), epsilon=1e-3, momentum=0.99), "c2"),
        w(kh.add("add"), "c1", "bn"),
        w(kh.activation("act", "relu"), "add"),
        w(kh.pool2d("AveragePooling2D", "ap", 2), "act"),
        w(kh.flatten("fl"), "ap"),
        w(kh.dense("d", u(rng, (36, 3)), u(rng, (3,), 0.1), activation="softmax"), "fl"),
    ]


def keras3_sequential(rng):
    return [
        kh.input_layer("input_layer", (4, 4, 1)),
        kh.conv2d("conv2d", u(rng, (3, 3, 1, 2)), u(rng, (2,), 0.1), padding="valid",
                  activation="relu"),
        kh.flatten("flatten"),
        kh.dense("dense", u(rng, (8, 3)), u(rng, (3,), 0.1), activation="softmax"),
    ]


def branchy(rng):
    w = kh.with_inbound
    return [
        w(kh.input_layer("input_1", (6, 6, 1))),
        w(kh.conv2d("c1", u(rng, (3, 3, 1, 4)), u(rng, (4,), 0.1), activation="relu"), "input_1"),
        w(kh.pool2d("AveragePooling2D", "ap", 2), "c1"),
        w(kh.global_average_pooling("e1_gap"), "c1"),
        w(kh.dense("e1", u(rng, (4, 3)), u(rng, (3,), 0.1), activation="softmax"), "e1_gap"),
        w(kh.flatten("e2_fl"), "ap"),
        w(kh.dropout("e2_drop", 0.5), "e2_fl"),
        w(kh.dense("e2", u(rng, (16, 3)), u(rng, (3,), 0.1), activation="linear"), "e2_drop"),
        w(kh.activation("e2_sm", "softmax"), "e2"),
        w(kh.conv2d("c2", u(rng, (2, 2, 4, 5)), u(rng, (5,), 0.1), padding="same", activation="relu"), "ap"),
        w(kh.flatten("fl"), "c2"),
        w(kh.dense("d", u(rng, (20, 3)), u(rng, (3,), 0.1), activation="softmax"), "fl"),
    ]


def unsupported(rng):
    return [
        kh.input_layer("input_1", (5,)),
        kh.dense("dense", u(rng, (5, 4)), u(rng, (4,), 0.1), activation="linear"),
        kh.leaky_relu("leaky", 0.3),
        kh.dense("dense_1", u(rng, (4, 2)), u(rng, (2,), 0.1), activation="softmax"),
    ]


def mobilenet(rng):
    # Depthwise kernels have few taps, so +-1 (not +-0.5).
    return [
        kh.input_layer("input_1", (9, 9, 3)),
        kh.depthwise_conv2d("dw1", u(rng, (3, 3, 3, 2), 1.0), None, strides=2, padding="same",
                            activation="linear"),
        kh.batch_norm("bn1", rng.uniform(0.5, 1.5, 6), u(rng, (6,), 0.2), u(rng, (6,), 0.2),
                      rng.uniform(0.05, 0.2, 6), epsilon=1e-3, momentum=0.99),
        kh.relu("relu1"),
        kh.separable_conv2d("sep", u(rng, (3, 3, 6, 1)), u(rng, (1, 1, 6, 5)),
                            u(rng, (5,), 0.1), padding="valid", activation="relu"),
        kh.depthwise_conv2d("dw2", u(rng, (2, 2, 5, 1), 1.0), u(rng, (5,), 0.1),
                            padding="valid", activation="relu"),
        kh.global_average_pooling("gap"),
        kh.dense("d", u(rng, (5, 3), 1.0), u(rng, (3,), 0.1), activation="softmax"),
    ]


def write_ref(path, x):
    y = kh.forward(path, x, logits=True).astype(np.float32)
    ref = path[:-3] + ".ref.h5"
    with h5py.File(ref, "w") as f:
        f.create_dataset("x", data=x.astype(np.float32))
        f.create_dataset("y_dnn", data=y)
    return ref, y


def write_functional_add(out):
    p = os.path.join(out, "tiny_keras2_functional_add.h5")
    kh.save(p, functional_add(np.random.default_rng(101)), model_name="model",
            functional=True, layout="keras2")
    x = np.random.default_rng(201).uniform(0, 1, (8, 6, 6, 2)).astype(np.float32)
    ref, y = write_ref(p, x)
    print("%s (%d B), %s y_dnn[0]=%s" % (p, os.path.getsize(p), ref, np.round(y[0], 4)))


def write_keras3_sequential(out):
    p = os.path.join(out, "tiny_keras3_sequential.h5")
    kh.save(p, keras3_sequential(np.random.default_rng(102)), model_name="sequential",
            functional=False, layout="keras3")
    x = np.random.default_rng(202).uniform(0, 1, (8, 4, 4, 1)).astype(np.float32)
    ref, y = write_ref(p, x)
    print("%s (%d B), %s y_dnn[0]=%s" % (p, os.path.getsize(p), ref, np.round(y[0], 4)))


def write_branchy(out):
    p = os.path.join(out, "tiny_keras2_branchy.h5")
    kh.save(p, branchy(np.random.default_rng(104)), model_name="model", functional=True, layout="keras2")
    x = np.random.default_rng(204).uniform(0, 1, (8, 6, 6, 1)).astype(np.float32)
    y = kh.forward(p, x, logits=True, output="d").astype(np.float32)
    ref = p[:-3] + ".ref.h5"
    with h5py.File(ref, "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y_dnn", data=y)
        for e in ("e1", "e2"):
            # e2's softmax is a layer of its own: stop at the Dense before it.
            f.create_dataset("y_" + e, data=kh.forward(p, x, logits=True, output=e if e == "e1" else "e2_sm")
                             .astype(np.float32))
    print("%s (%d B), %s" % (p, os.path.getsize(p), ref))


def write_unsupported(out):
    p = os.path.join(out, "tiny_unsupported.h5")
    kh.save(p, unsupported(np.random.default_rng(103)), model_name="sequential",
            functional=False, layout="keras2")
    print("%s (%d B)" % (p, os.path.getsize(p)))


def write_mobilenet(out):
    p = os.path.join(out, "tiny_keras2_mobilenet.h5")
    # Seed 129 (not 105): with it every channel of every ReLU layer has positive
    # outputs on the 8 inputs.
    layers = mobilenet(np.random.default_rng(129))
    kh.save(p, layers, model_name="sequential", functional=False, layout="keras2")
    x = np.random.default_rng(205).uniform(0, 1, (8, 9, 9, 3)).astype(np.float32)
    # Every ReLU channel must stay alive on the 8 inputs, or the fixture tests little.
    relus = {l["config"]["name"] for l in layers
             if l["class_name"] == "ReLU" or l["config"].get("activation") == "relu"}
    for name, cls, y in kh.layer_outputs(p, x):
        note = ""
        if name in relus:
            alive = (y > 0).reshape(-1, y.shape[-1]).mean(axis=0)
            note = "  positive %.2f (per channel >= %.2f), at 6: %.3f" % (
                (y > 0).mean(), alive.min(), (y >= 6).mean())
            if not alive.all():
                raise SystemExit("%s: dead ReLU channel (no positive output on the 8 inputs)"
                                 % name)
        print("  %-8s %-22s %-12s%s" % (name, cls, str(y.shape[1:]), note))
    ref, y = write_ref(p, x)
    print("%s (%d B), %s y_dnn[0]=%s" % (p, os.path.getsize(p), ref, np.round(y[0], 4)))


def write_cs_mlp(out):
    p = os.path.join(out, "tiny_cs_mlp.h5")
    rng = np.random.default_rng(131)
    layers = [kh.input_layer("input_1", (6,)),
              kh.dense("dense", u(rng, (6, 5)), u(rng, (5,), 0.1), "relu"),
              kh.dense("dense_1", u(rng, (5, 3)), u(rng, (3,), 0.1), "softmax")]
    kh.save(p, layers, model_name="sequential", functional=False, layout="keras2")
    with h5py.File(p, "a") as f:
        f.attrs["snn_input_stage"] = "rademacher"
        f.attrs["snn_input_stage_seed"] = np.int64(77)
        f.attrs["snn_input_stage_rd"] = np.int64(6)
        f.attrs["snn_input_stage_raw_shape"] = np.array([4, 4, 1], dtype=np.int64)
    x = np.random.default_rng(206).uniform(0, 1, (8, 4, 4, 1)).astype(np.float32)
    m = x.reshape(8, 16).astype(np.float64) @ rr.phi(77, 6, 16).T
    y = kh.forward(p, m, logits=True).astype(np.float32)
    ref = p[:-3] + ".ref.h5"
    with h5py.File(ref, "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y_dnn", data=y)
    print("%s (%d B), %s y_dnn[0]=%s" % (p, os.path.getsize(p), ref, np.round(y[0], 4)))


def write_idp_profiles(out):
    p = os.path.join(out, "tiny_idp_profiles.h5")
    rng = np.random.default_rng(307)
    layers = [kh.input_layer("input_1", (5,)),
              kh.dense("dense", u(rng, (5, 8)), u(rng, (8,), 0.1), "relu"),
              kh.dense("dense_1", u(rng, (8, 6)), u(rng, (6,), 0.1), "relu"),
              kh.dense("dense_2", u(rng, (6, 3)), u(rng, (3,), 0.1), "softmax")]
    kh.save(p, layers, model_name="sequential", functional=False, layout="keras2")
    with h5py.File(p, "a") as f:
        f.attrs["snn_idp_profile"] = "linear"
        f.attrs["snn_idp_ranges"] = np.array([40, 100], dtype=np.int64)
        for name, shape in (("dense", (5, 8)), ("dense_2", (6, 3))):
            g = f.create_group("snn_idp_variants/0/" + name)
            g["kernel"] = u(rng, shape)
            g["bias"] = u(rng, (shape[1],), 0.1)
    x = np.random.default_rng(308).uniform(0, 1, (8, 5)).astype(np.float32)
    ref = p[:-3] + ".ref.h5"
    with h5py.File(ref, "w") as f:
        f.create_dataset("x", data=x)
        for pct in (25, 40, 60, 100):
            f.create_dataset("y_idp%d" % pct, data=kh.forward(p, x, logits=True, idp=pct).astype(np.float32))
    print("%s (%d B), %s" % (p, os.path.getsize(p), ref))


# name (without .h5) -> writer, in the order a full run writes them
FIXTURES = {"tiny_keras2_functional_add": write_functional_add,
            "tiny_keras3_sequential": write_keras3_sequential,
            "tiny_keras2_branchy": write_branchy,
            "tiny_unsupported": write_unsupported,
            "tiny_keras2_mobilenet": write_mobilenet,
            "tiny_cs_mlp": write_cs_mlp,
            "tiny_idp_profiles": write_idp_profiles}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "fixtures"))
    ap.add_argument("--only", choices=list(FIXTURES), action="append",
                    help="write just this fixture (repeatable)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, write in FIXTURES.items():
        if not args.only or name in args.only:
            write(args.out)


if __name__ == "__main__":
    main()
