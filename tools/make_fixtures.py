#!/usr/bin/env python3
"""Write the tiny Keras .h5 fixtures used by the C++ importer tests.

    /usr/bin/python3 tools/make_fixtures.py [--out data/fixtures]

Deterministic (fixed seeds), random small weights, no training. Files:

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

For the first two, <name>.ref.h5 holds datasets
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


def write_ref(path, x):
    y = kh.forward(path, x, logits=True).astype(np.float32)
    ref = path[:-3] + ".ref.h5"
    with h5py.File(ref, "w") as f:
        f.create_dataset("x", data=x.astype(np.float32))
        f.create_dataset("y_dnn", data=y)
    return ref, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "fixtures"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    p = os.path.join(args.out, "tiny_keras2_functional_add.h5")
    kh.save(p, functional_add(np.random.default_rng(101)), model_name="model",
            functional=True, layout="keras2")
    x = np.random.default_rng(201).uniform(0, 1, (8, 6, 6, 2)).astype(np.float32)
    ref, y = write_ref(p, x)
    print("%s (%d B), %s y_dnn[0]=%s" % (p, os.path.getsize(p), ref, np.round(y[0], 4)))

    p = os.path.join(args.out, "tiny_keras3_sequential.h5")
    kh.save(p, keras3_sequential(np.random.default_rng(102)), model_name="sequential",
            functional=False, layout="keras3")
    x = np.random.default_rng(202).uniform(0, 1, (8, 4, 4, 1)).astype(np.float32)
    ref, y = write_ref(p, x)
    print("%s (%d B), %s y_dnn[0]=%s" % (p, os.path.getsize(p), ref, np.round(y[0], 4)))

    p = os.path.join(args.out, "tiny_keras2_branchy.h5")
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

    p = os.path.join(args.out, "tiny_unsupported.h5")
    kh.save(p, unsupported(np.random.default_rng(103)), model_name="sequential",
            functional=False, layout="keras2")
    print("%s (%d B)" % (p, os.path.getsize(p)))


if __name__ == "__main__":
    main()
