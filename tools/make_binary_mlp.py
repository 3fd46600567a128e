#!/usr/bin/env python3
"""Write an untrained binary MLP in the Larq layout, to measure binary dense layers in the engine.

    /usr/bin/python3 tools/make_binary_mlp.py [OUT.h5]   (default out/binary/bmlp.h5)

input 28x28 -> Flatten -> Dense 1024 relu -> QuantDense 1024 (ste_sign) -> BN -> relu
-> QuantDense 1024 -> BN -> relu -> Dense 10 softmax; random weights (seed 1), BN scaled
by 1/sqrt(fan-in). Its accuracy means nothing; its spike rates (about 11 % after
`snn convert --calib mnist:train`) make it a load for `snn run --no-step-batches` A/B runs.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_h5 as k  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                             "out", "binary", "bmlp.h5")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    rng = np.random.default_rng(1)
    h = 1024
    layers = [k.input_layer("input_1", (28, 28, 1)), k.flatten("flatten"),
              k.dense("fc0", rng.normal(0, 0.05, (784, h)), np.zeros(h), activation="relu")]
    prev = h
    for i in (1, 2):
        layers += [k.quant_dense("b%d" % i, rng.uniform(-1, 1, (prev, h))),
                   k.batch_norm("bn%d" % i, np.ones(h), np.zeros(h), np.zeros(h), np.full(h, float(prev)), axis=1),
                   k.activation("relu%d" % i, "relu")]
        prev = h
    layers += [k.dense("out", rng.normal(0, 0.05, (h, 10)), np.zeros(10), activation="softmax")]
    k.save(out, layers)
    print(out)


if __name__ == "__main__":
    main()
