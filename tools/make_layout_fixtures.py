#!/usr/bin/env python3
"""Write the Keras fixtures of the layouts real files come in, for the importer tests.

    /usr/bin/python3 tools/make_layout_fixtures.py [--out data/fixtures]

Written with h5py directly, the way the Keras versions named below wrote their
files (not by snn, not through tools/keras_h5.py's writer, which writes Keras
2.14 files only); the references come from tools/keras_h5.py's numpy forward
pass. Deterministic (fixed seeds), random small weights, no training. Files:

  tiny_cf_theano.h5      As Keras 2.0.4 on the Theano backend wrote it: root
        attribute backend "theano", the Sequential config a bare list of layers,
        no InputLayer (batch_input_shape on the first layer), weight names
        without ":0", data_format channels_first everywhere, a Flatten without
        data_format (Keras 2.0 flattens (C, H, W) as stored):
        c1 Conv2D 4@3x3 valid linear (2,7,7) -> (4,5,5) -> bn BatchNormalization
        axis 1 -> act Activation relu6 -> mp MaxPooling2D 2x2 (4,2,2)
        -> fl Flatten (16) -> d Dense 3 softmax
  tiny_cf_keras22.h5     As Keras 2.2.4 (TensorFlow) wrote a channels_first
        Functional model: InputLayer (3,6,6), weight names with ":0":
        c1 Conv2D 4@3x3 same linear -> r1 ReLU(max_value=1.0) -> ap
        AveragePooling2D 2x2 (4,3,3) -> c2 Conv2D 5@2x2 valid relu (5,2,2)
        -> fl Flatten data_format channels_first (Keras permutes to (H, W, C))
        -> d Dense 3 softmax

  tiny_zeropad.h5        As Keras 2.4 (TensorFlow) wrote a channels_last
        Functional model with ZeroPadding2D: InputLayer (7,7,2) -> zp1
        ZeroPadding2D ((1,2),(0,1)) (10,8,2) -> c1 Conv2D 4@3x3 valid relu
        (8,6,4) -> zp2 ZeroPadding2D 1 (10,8,4) -> dw DepthwiseConv2D 3x3
        stride 2 valid relu (4,3,4) -> fl Flatten (48) -> d Dense 3 softmax;
        its x is (8, 7, 7, 2)

  tiny_concat.h5         Keras 2.4 (TensorFlow), channels_last, Functional, two
        Concatenates along the channel axis: InputLayer (6,6,2) -> c1 Conv2D
        3@3x3 same relu and c2 Conv2D 2@1x1 relu, both on the input -> cat1
        Concatenate axis -1 [c1, input_1] (6,6,5) -> c3 Conv2D 4@3x3 same relu
        -> cat2 Concatenate axis 3 [c3, c2] (6,6,6) -> mp MaxPooling2D 2x2
        (3,3,6) -> fl Flatten (54, channels interleaved) -> d Dense 3 softmax;
        its x is (8, 6, 6, 2)

  tiny_concat_pool.h5    Keras 2.4, channels_last, Functional: a Concatenate
        read by a SeparableConv2D, another by average pooling, whose parts a
        global average pooling reads: InputLayer (4,4,2) -> c1 Conv2D 2@1x1
        relu and c2 Conv2D 3@3x3 same relu -> cat1 [c1, c2] (4,4,5) -> sc
        SeparableConv2D 4@3x3 same relu (4,4,4) -> cat2 [sc, c1] (4,4,6) -> ap
        AveragePooling2D 2x2 (2,2,6) -> gap GlobalAveragePooling2D (6) -> d
        Dense 3 softmax; its x is (8, 4, 4, 2)

  tiny_concat_cf.h5      As Keras 2.2.4 wrote a channels_first Functional model
        with a Concatenate on the channel axis 1 and a Flatten without
        data_format (flattening (C, H, W) as stored, so the parts' channels
        are blocks, not interleaved): InputLayer (2,5,5) -> c1 Conv2D 3@3x3
        same relu and c2 Conv2D 2@1x1 relu -> cat Concatenate axis 1 [c1, c2]
        (5,5,5) -> fl Flatten (125) -> d Dense 3 softmax; its x is (8, 2, 5, 5)

  tiny_conv1d.h5         Keras 2.4 (TensorFlow), a keyword-spotting-like 1-D
        Sequential model on (steps, channels) = (16, 3): c1 Conv1D 4 k3 same
        relu (16,4) -> mp MaxPooling1D 2 (8,4) -> c2 Conv1D 5 k3 causal relu
        (8,5) -> c3 Conv1D 4 k2 stride 2 valid relu (4,4) -> ap
        AveragePooling1D 2 stride 1 (3,4) -> gap GlobalAveragePooling1D (4)
        -> d Dense 3 softmax; its x is (8, 16, 3)

  tiny_upsample.h5       Keras 2.4 (TensorFlow), channels_last, Functional,
        UpSampling2D (nearest) as decoders and feature pyramids use it, once
        before a Concatenate and once of one: InputLayer (4,4,2) -> c1 Conv2D
        3@3x3 stride 2 same relu (2,2,3) -> up1 UpSampling2D 2 (4,4,3); c0
        Conv2D 2@1x1 relu on the input (4,4,2) -> cat Concatenate [up1, c0]
        (4,4,5) -> up2 UpSampling2D (1,2) (4,8,5) -> c2 Conv2D 4@3x3 same relu
        (4,8,4) -> mp MaxPooling2D 2x2 (2,4,4) -> fl Flatten (32) -> d Dense 3
        softmax; its x is (8, 4, 4, 2)

  tiny_upsample_cf.h5    As Keras 2.2.4 wrote a channels_first Sequential
        model that upsamples its input: up0 UpSampling2D 2 (batch_input_shape
        (2,3,3), no InputLayer) (2,6,6) -> c1 Conv2D 3@3x3 valid relu (3,4,4)
        -> up1 UpSampling2D (2,1) (3,8,4) -> fl Flatten data_format
        channels_first (96) -> d Dense 3 softmax; its x is (8, 2, 3, 3)

Each <name>.ref.h5 is also a data file for `snn run --data` in the model's
own layout:
  x      (8, C, H, W) float32 inputs in [0, 1]
  y      (8,) int64, the reference's class
  y_dnn  (8, 3) float32 pre-softmax outputs of the numpy reference
The script checks that each fixture exercises what it is for: a bounded ReLU
that clips, a Theano flip and a Flatten order that change the output.
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_h5 as kh  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def u(rng, shape, lo=-0.5, hi=0.5):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def write(path, layers, backend, keras_version, functional, colon):
    """layers: [(class_name, config, [(weight name, array)], inbound names)] in model order."""
    entries = []
    for cls, cfg, _, inbound in layers:
        e = {"class_name": cls, "config": cfg}
        if functional:
            e["name"] = cfg["name"]
            e["inbound_nodes"] = [[[n, 0, 0, {}] for n in inbound]] if inbound else []
        entries.append(e)
    if functional:
        mc = {"class_name": "Model", "config": {
            "name": "model_1", "layers": entries,
            "input_layers": [[layers[0][1]["name"], 0, 0]],
            "output_layers": [[layers[-1][1]["name"], 0, 0]]}}
    else:
        mc = {"class_name": "Sequential", "config": entries}  # Keras 2.0: a bare list
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version.encode("utf8")
        f.attrs["backend"] = backend.encode("utf8")
        f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [cfg["name"].encode("utf8") for _, cfg, _, _ in layers]
        mw.attrs["backend"] = backend.encode("utf8")
        mw.attrs["keras_version"] = keras_version.encode("utf8")
        for _, cfg, weights, _ in layers:
            name = cfg["name"]
            g = mw.create_group(name)
            wnames = ["%s/%s%s" % (name, w, ":0" if colon else "") for w, _ in weights]
            g.attrs["weight_names"] = [n.encode("utf8") for n in wnames]
            for wn, (_, arr) in zip(wnames, weights):
                g.create_dataset(wn, data=np.asarray(arr, np.float32))


def conv(name, filters, k, padding, activation, **extra):
    cfg = {"name": name, "trainable": True, "filters": filters, "kernel_size": [k, k],
           "strides": [1, 1], "padding": padding, "data_format": "channels_first",
           "dilation_rate": [1, 1], "activation": activation, "use_bias": True}
    cfg.update(extra)
    return cfg


def theano_model(rng):
    k1 = u(rng, (3, 3, 2, 4), -0.9, 1.0)
    gamma = rng.uniform(2.0, 4.0, 4).astype(np.float32)  # large: some units pass 6
    beta = u(rng, 4, 0.5, 2.0)
    mean = u(rng, 4, -0.5, 0.0)
    var = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    return [
        ("Conv2D", conv("c1", 4, 3, "valid", "linear", batch_input_shape=[None, 2, 7, 7]),
         [("kernel", k1), ("bias", u(rng, 4, -0.1, 0.1))], []),
        ("BatchNormalization", {"name": "bn", "axis": 1, "momentum": 0.99, "epsilon": 0.001,
                                "center": True, "scale": True},
         [("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", var)], []),
        ("Activation", {"name": "act", "activation": "relu6"}, [], []),
        ("MaxPooling2D", {"name": "mp", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                          "data_format": "channels_first"}, [], []),
        ("Flatten", {"name": "fl", "trainable": True}, [], []),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (16, 3))), ("bias", u(rng, 3, -0.1, 0.1))], []),
    ]


def keras22_model(rng):
    return [
        ("InputLayer", {"name": "input_1", "batch_input_shape": [None, 3, 6, 6], "dtype": "float32",
                        "sparse": False}, [], []),
        ("Conv2D", conv("c1", 4, 3, "same", "linear"),
         [("kernel", u(rng, (3, 3, 3, 4), -0.6, 0.6)), ("bias", u(rng, 4, 0.0, 0.3))], ["input_1"]),
        ("ReLU", {"name": "r1", "trainable": True, "max_value": 1.0, "negative_slope": 0.0,
                  "threshold": 0.0}, [], ["c1"]),
        ("AveragePooling2D", {"name": "ap", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                              "data_format": "channels_first"}, [], ["r1"]),
        ("Conv2D", conv("c2", 5, 2, "valid", "relu"),
         [("kernel", u(rng, (2, 2, 4, 5))), ("bias", u(rng, 5, 0.0, 0.2))], ["ap"]),
        ("Flatten", {"name": "fl", "trainable": True, "data_format": "channels_first"}, [], ["c2"]),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (20, 3), -1.0, 1.0)), ("bias", u(rng, 3, -0.1, 0.1))], ["fl"]),
    ]


def zeropad_model(rng):
    """Keras 2.4 (TensorFlow), channels_last, Functional: ZeroPadding2D before a
    convolution (asymmetric) and before a strided depthwise convolution, as
    MobileNets and ResNet stems pad."""
    last = {"data_format": "channels_last"}
    return [
        ("InputLayer", {"name": "input_1", "batch_input_shape": [None, 7, 7, 2], "dtype": "float32",
                        "sparse": False}, [], []),
        ("ZeroPadding2D", {"name": "zp1", "padding": [[1, 2], [0, 1]], "data_format": "channels_last"},
         [], ["input_1"]),
        ("Conv2D", conv("c1", 4, 3, "valid", "relu", **last),
         [("kernel", u(rng, (3, 3, 2, 4), -0.6, 0.8)), ("bias", u(rng, 4, 0.0, 0.2))], ["zp1"]),
        ("ZeroPadding2D", {"name": "zp2", "padding": 1, "data_format": "channels_last"}, [], ["c1"]),
        ("DepthwiseConv2D", {"name": "dw", "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid",
                             "depth_multiplier": 1, "data_format": "channels_last", "dilation_rate": [1, 1],
                             "activation": "relu", "use_bias": True},
         [("depthwise_kernel", u(rng, (3, 3, 4, 1), -0.4, 0.9)), ("bias", u(rng, 4, 0.0, 0.2))], ["zp2"]),
        ("Flatten", {"name": "fl", "trainable": True, "data_format": "channels_last"}, [], ["dw"]),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (48, 3), -1.0, 1.0)), ("bias", u(rng, 3, -0.1, 0.1))], ["fl"]),
    ]


def conv_last(name, filters, k, padding, activation, strides=1):
    return {"name": name, "trainable": True, "filters": filters, "kernel_size": [k, k],
            "strides": [strides, strides], "padding": padding, "data_format": "channels_last",
            "dilation_rate": [1, 1], "activation": activation, "use_bias": True}


def concat_model(rng):
    """Keras 2.4, channels_last, Functional: Concatenate read by a Conv2D, by a
    MaxPooling2D and (through a Flatten) by a Dense; the input itself a part
    (read by the Conv2D: the engine's max-pooling gate does not pool the input)."""
    return [
        ("InputLayer", {"name": "input_1", "batch_input_shape": [None, 6, 6, 2], "dtype": "float32",
                        "sparse": False}, [], []),
        ("Conv2D", conv_last("c1", 3, 3, "same", "relu"),
         [("kernel", u(rng, (3, 3, 2, 3), -0.5, 0.8)), ("bias", u(rng, 3, 0.0, 0.2))], ["input_1"]),
        ("Conv2D", conv_last("c2", 2, 1, "valid", "relu"),
         [("kernel", u(rng, (1, 1, 2, 2), -0.5, 1.0)), ("bias", u(rng, 2, 0.0, 0.2))], ["input_1"]),
        ("Concatenate", {"name": "cat1", "trainable": True, "axis": -1}, [], ["c1", "input_1"]),
        ("Conv2D", conv_last("c3", 4, 3, "same", "relu"),
         [("kernel", u(rng, (3, 3, 5, 4), -0.4, 0.6)), ("bias", u(rng, 4, 0.0, 0.2))], ["cat1"]),
        ("Concatenate", {"name": "cat2", "trainable": True, "axis": 3}, [], ["c3", "c2"]),
        ("MaxPooling2D", {"name": "mp", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                          "data_format": "channels_last"}, [], ["cat2"]),
        ("Flatten", {"name": "fl", "trainable": True, "data_format": "channels_last"}, [], ["mp"]),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (54, 3), -1.0, 1.0)), ("bias", u(rng, 3, -0.1, 0.1))], ["fl"]),
    ]


def concat_pool_model(rng):
    """Keras 2.4, channels_last, Functional: SeparableConv2D, AveragePooling2D and
    GlobalAveragePooling2D over Concatenates."""
    return [
        ("InputLayer", {"name": "input_1", "batch_input_shape": [None, 4, 4, 2], "dtype": "float32",
                        "sparse": False}, [], []),
        ("Conv2D", conv_last("c1", 2, 1, "valid", "relu"),
         [("kernel", u(rng, (1, 1, 2, 2), -0.5, 1.0)), ("bias", u(rng, 2, 0.0, 0.2))], ["input_1"]),
        ("Conv2D", conv_last("c2", 3, 3, "same", "relu"),
         [("kernel", u(rng, (3, 3, 2, 3), -0.5, 0.8)), ("bias", u(rng, 3, 0.0, 0.2))], ["input_1"]),
        ("Concatenate", {"name": "cat1", "trainable": True, "axis": -1}, [], ["c1", "c2"]),
        ("SeparableConv2D", {"name": "sc", "trainable": True, "filters": 4, "kernel_size": [3, 3],
                             "strides": [1, 1], "padding": "same", "data_format": "channels_last",
                             "dilation_rate": [1, 1], "depth_multiplier": 1, "activation": "relu",
                             "use_bias": True},
         [("depthwise_kernel", u(rng, (3, 3, 5, 1), -0.4, 0.9)),
          ("pointwise_kernel", u(rng, (1, 1, 5, 4), -0.5, 0.9)), ("bias", u(rng, 4, 0.0, 0.2))], ["cat1"]),
        ("Concatenate", {"name": "cat2", "trainable": True, "axis": -1}, [], ["sc", "c1"]),
        ("AveragePooling2D", {"name": "ap", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                              "data_format": "channels_last"}, [], ["cat2"]),
        ("GlobalAveragePooling2D", {"name": "gap", "data_format": "channels_last"}, [], ["ap"]),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (6, 3), -2.0, 2.0)), ("bias", u(rng, 3, -0.1, 0.1))], ["gap"]),
    ]


def concat_cf_model(rng):
    """Keras 2.2, channels_first, Functional: Concatenate axis 1, then a Flatten
    in (C, H, W) order."""
    return [
        ("InputLayer", {"name": "input_1", "batch_input_shape": [None, 2, 5, 5], "dtype": "float32",
                        "sparse": False}, [], []),
        ("Conv2D", conv("c1", 3, 3, "same", "relu"),
         [("kernel", u(rng, (3, 3, 2, 3), -0.5, 0.8)), ("bias", u(rng, 3, 0.0, 0.2))], ["input_1"]),
        ("Conv2D", conv("c2", 2, 1, "valid", "relu"),
         [("kernel", u(rng, (1, 1, 2, 2), -0.5, 1.0)), ("bias", u(rng, 2, 0.0, 0.2))], ["input_1"]),
        ("Concatenate", {"name": "cat", "trainable": True, "axis": 1}, [], ["c1", "c2"]),
        ("Flatten", {"name": "fl", "trainable": True}, [], ["cat"]),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (125, 3), -1.0, 1.0)), ("bias", u(rng, 3, -0.1, 0.1))], ["fl"]),
    ]


def conv1d_model(rng):
    """Keras 2.4 Sequential on (steps, channels): Conv1D same / causal / strided
    valid, MaxPooling1D, AveragePooling1D with stride 1, GlobalAveragePooling1D."""
    def c1d(name, filters, k, padding, strides=1, **extra):
        cfg = {"name": name, "trainable": True, "filters": filters, "kernel_size": [k],
               "strides": [strides], "padding": padding, "data_format": "channels_last",
               "dilation_rate": [1], "groups": 1, "activation": "relu", "use_bias": True}
        cfg.update(extra)
        return cfg
    return [
        ("InputLayer", {"name": "input_1", "batch_input_shape": [None, 16, 3], "dtype": "float32",
                        "sparse": False}, [], []),
        ("Conv1D", c1d("c1", 4, 3, "same"),
         [("kernel", u(rng, (3, 3, 4), -0.5, 0.8)), ("bias", u(rng, 4, 0.0, 0.2))], []),
        ("MaxPooling1D", {"name": "mp", "pool_size": [2], "strides": [2], "padding": "valid",
                          "data_format": "channels_last"}, [], []),
        ("Conv1D", c1d("c2", 5, 3, "causal"),
         [("kernel", u(rng, (3, 4, 5), -0.4, 0.7)), ("bias", u(rng, 5, 0.0, 0.2))], []),
        ("Conv1D", c1d("c3", 4, 2, "valid", strides=2),
         [("kernel", u(rng, (2, 5, 4), -0.4, 0.7)), ("bias", u(rng, 4, 0.0, 0.2))], []),
        ("AveragePooling1D", {"name": "ap", "pool_size": [2], "strides": [1], "padding": "valid",
                              "data_format": "channels_last"}, [], []),
        ("GlobalAveragePooling1D", {"name": "gap", "data_format": "channels_last"}, [], []),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (4, 3), -2.0, 2.0)), ("bias", u(rng, 3, -0.1, 0.1))], []),
    ]


def upsampling(name, size, data_format):
    return {"name": name, "trainable": True, "size": list(size), "data_format": data_format,
            "interpolation": "nearest"}


def upsample_model(rng):
    """Keras 2.4, channels_last, Functional: UpSampling2D read by a Concatenate,
    and of a Concatenate (one relay per part), then a convolution and max pooling."""
    return [
        ("InputLayer", {"name": "input_1", "batch_input_shape": [None, 4, 4, 2], "dtype": "float32",
                        "sparse": False}, [], []),
        ("Conv2D", conv_last("c1", 3, 3, "same", "relu", strides=2),
         [("kernel", u(rng, (3, 3, 2, 3), -0.5, 0.8)), ("bias", u(rng, 3, 0.0, 0.2))], ["input_1"]),
        ("UpSampling2D", upsampling("up1", (2, 2), "channels_last"), [], ["c1"]),
        ("Conv2D", conv_last("c0", 2, 1, "valid", "relu"),
         [("kernel", u(rng, (1, 1, 2, 2), -0.5, 1.0)), ("bias", u(rng, 2, 0.0, 0.2))], ["input_1"]),
        ("Concatenate", {"name": "cat", "trainable": True, "axis": -1}, [], ["up1", "c0"]),
        ("UpSampling2D", upsampling("up2", (1, 2), "channels_last"), [], ["cat"]),
        ("Conv2D", conv_last("c2", 4, 3, "same", "relu"),
         [("kernel", u(rng, (3, 3, 5, 4), -0.4, 0.6)), ("bias", u(rng, 4, 0.0, 0.2))], ["up2"]),
        ("MaxPooling2D", {"name": "mp", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                          "data_format": "channels_last"}, [], ["c2"]),
        ("Flatten", {"name": "fl", "trainable": True, "data_format": "channels_last"}, [], ["mp"]),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (32, 3), -1.0, 1.0)), ("bias", u(rng, 3, -0.1, 0.1))], ["fl"]),
    ]


def upsample_cf_model(rng):
    """Keras 2.2.4, channels_first, Sequential without an InputLayer: the input
    itself upsampled, then a convolution's output upsampled along height only."""
    up0 = upsampling("up0", (2, 2), "channels_first")
    up0["batch_input_shape"] = [None, 2, 3, 3]
    return [
        ("UpSampling2D", up0, [], []),
        ("Conv2D", conv("c1", 3, 3, "valid", "relu"),
         [("kernel", u(rng, (3, 3, 2, 3), -0.5, 0.8)), ("bias", u(rng, 3, 0.0, 0.2))], []),
        ("UpSampling2D", upsampling("up1", (2, 1), "channels_first"), [], []),
        ("Flatten", {"name": "fl", "trainable": True, "data_format": "channels_first"}, [], []),
        ("Dense", {"name": "d", "units": 3, "activation": "softmax", "use_bias": True},
         [("kernel", u(rng, (96, 3), -1.0, 1.0)), ("bias", u(rng, 3, -0.1, 0.1))], []),
    ]


def write_reference(path, model, x):
    y = kh.forward(model, x, logits=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y.argmax(axis=1).astype(np.int64))
        f.create_dataset("y_dnn", data=y)
    return y


def center_output(path, layer, x):
    """Shifts the output layer's bias so that the reference's logits average 0 on x
    (random weights otherwise put every sample in one class)."""
    y = kh.forward(path, x, logits=True)
    with h5py.File(path, "r+") as f:
        g = f["model_weights"][layer]
        name = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]][1]
        g[name][...] = g[name][...] - y.mean(axis=0)


def with_attr(path, out, fn):
    """A copy of the model at `path` changed by fn(h5py.File) (for the self-checks)."""
    import shutil
    shutil.copy(path, out)
    with h5py.File(out, "r+") as f:
        fn(f)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "fixtures"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    rng = np.random.default_rng(20)
    path = os.path.join(a.out, "tiny_cf_theano.h5")
    write(path, theano_model(rng), "theano", "2.0.4", functional=False, colon=False)
    x = rng.uniform(0, 1, (8, 2, 7, 7)).astype(np.float32)
    y = write_reference(os.path.join(a.out, "tiny_cf_theano.ref.h5"), path, x)
    # What the fixture is for: the flip, the (C, H, W) flatten and the cap each matter.
    tmp = os.path.join(a.out, ".check.h5")
    try:
        def tf_backend(f):
            f.attrs["backend"] = b"tensorflow"
        assert not np.allclose(kh.forward(with_attr(path, tmp, tf_backend), x, logits=True), y, atol=1e-3)

        def permuting_flatten(f):
            mc = json.loads(f.attrs["model_config"])
            mc["config"][4]["config"]["data_format"] = "channels_first"
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, permuting_flatten), x, logits=True), y, atol=1e-3)
        pre = [o for n, _, o in kh.layer_outputs(path, x) if n == "bn"][0]
        assert (pre > 6).any() and (pre > 0).mean() > 0.3, "relu6 must clip some units"

        rng = np.random.default_rng(22)
        path = os.path.join(a.out, "tiny_cf_keras22.h5")
        write(path, keras22_model(rng), "tensorflow", "2.2.4", functional=True, colon=True)
        x = rng.uniform(0, 1, (8, 3, 6, 6)).astype(np.float32)
        y = write_reference(os.path.join(a.out, "tiny_cf_keras22.ref.h5"), path, x)

        def chw_flatten(f):
            mc = json.loads(f.attrs["model_config"])
            del mc["config"]["layers"][5]["config"]["data_format"]
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, chw_flatten), x, logits=True), y, atol=1e-3)

        def unbounded(f):
            mc = json.loads(f.attrs["model_config"])
            mc["config"]["layers"][2]["config"]["max_value"] = None
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, unbounded), x, logits=True), y, atol=1e-3)

        rng = np.random.default_rng(24)
        path = os.path.join(a.out, "tiny_zeropad.h5")
        write(path, zeropad_model(rng), "tensorflow", "2.4.0", functional=True, colon=True)
        x = rng.uniform(0, 1, (8, 7, 7, 2)).astype(np.float32)
        y = write_reference(os.path.join(a.out, "tiny_zeropad.ref.h5"), path, x)

        def swapped(f):  # where the padding goes matters, not only how much
            mc = json.loads(f.attrs["model_config"])
            mc["config"]["layers"][1]["config"]["padding"] = [[2, 1], [1, 0]]
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, swapped), x, logits=True), y, atol=1e-3)

        rng = np.random.default_rng(26)
        path = os.path.join(a.out, "tiny_concat.h5")
        write(path, concat_model(rng), "tensorflow", "2.4.0", functional=True, colon=True)
        x = rng.uniform(0, 1, (8, 6, 6, 2)).astype(np.float32)
        center_output(path, "d", x)
        y = write_reference(os.path.join(a.out, "tiny_concat.ref.h5"), path, x)

        def reordered(f):  # the order of the parts matters: each reads its own slice of the kernel
            mc = json.loads(f.attrs["model_config"])
            mc["config"]["layers"][3]["inbound_nodes"] = [[["input_1", 0, 0, {}], ["c1", 0, 0, {}]]]
            mc["config"]["layers"][5]["inbound_nodes"] = [[["c2", 0, 0, {}], ["c3", 0, 0, {}]]]
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, reordered), x, logits=True), y, atol=1e-3)
        assert len(set(y.argmax(axis=1))) > 1, "the reference's classes must differ"

        rng = np.random.default_rng(25)
        path = os.path.join(a.out, "tiny_concat_pool.h5")
        write(path, concat_pool_model(rng), "tensorflow", "2.4.0", functional=True, colon=True)
        x = rng.uniform(0, 1, (8, 4, 4, 2)).astype(np.float32)
        center_output(path, "d", x)
        y = write_reference(os.path.join(a.out, "tiny_concat_pool.ref.h5"), path, x)

        def reordered2(f):
            mc = json.loads(f.attrs["model_config"])
            mc["config"]["layers"][5]["inbound_nodes"] = [[["c1", 0, 0, {}], ["sc", 0, 0, {}]]]
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, reordered2), x, logits=True), y, atol=1e-3)

        rng = np.random.default_rng(27)
        path = os.path.join(a.out, "tiny_concat_cf.h5")
        write(path, concat_cf_model(rng), "tensorflow", "2.2.4", functional=True, colon=True)
        x = rng.uniform(0, 1, (8, 2, 5, 5)).astype(np.float32)
        center_output(path, "d", x)
        y = write_reference(os.path.join(a.out, "tiny_concat_cf.ref.h5"), path, x)

        def permuting_flatten_cf(f):  # the (C, H, W) order of the Flatten matters
            mc = json.loads(f.attrs["model_config"])
            mc["config"]["layers"][4]["config"]["data_format"] = "channels_first"
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, permuting_flatten_cf), x, logits=True), y, atol=1e-3)

        rng = np.random.default_rng(28)
        path = os.path.join(a.out, "tiny_conv1d.h5")
        write(path, conv1d_model(rng), "tensorflow", "2.4.0", functional=False, colon=True)
        x = rng.uniform(0, 1, (8, 16, 3)).astype(np.float32)
        center_output(path, "d", x)
        y = write_reference(os.path.join(a.out, "tiny_conv1d.ref.h5"), path, x)

        def same_not_causal(f):  # causal padding pads before the first step only
            mc = json.loads(f.attrs["model_config"])
            mc["config"][3]["config"]["padding"] = "same"
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, same_not_causal), x, logits=True), y, atol=1e-3)
        assert len(set(y.argmax(axis=1))) > 1, "the reference's classes must differ"

        rng = np.random.default_rng(29)
        path = os.path.join(a.out, "tiny_upsample.h5")
        write(path, upsample_model(rng), "tensorflow", "2.4.0", functional=True, colon=True)
        x = rng.uniform(0, 1, (8, 4, 4, 2)).astype(np.float32)
        center_output(path, "d", x)
        y = write_reference(os.path.join(a.out, "tiny_upsample.ref.h5"), path, x)

        def rows_not_cols(f):  # size is (rows, cols): (2, 1) gives the same number of units, other values
            mc = json.loads(f.attrs["model_config"])
            mc["config"]["layers"][5]["config"]["size"] = [2, 1]
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, rows_not_cols), x, logits=True), y, atol=1e-3)
        assert len(set(y.argmax(axis=1))) > 1, "the reference's classes must differ"

        rng = np.random.default_rng(30)
        path = os.path.join(a.out, "tiny_upsample_cf.h5")
        write(path, upsample_cf_model(rng), "tensorflow", "2.2.4", functional=False, colon=True)
        x = rng.uniform(0, 1, (8, 2, 3, 3)).astype(np.float32)
        center_output(path, "d", x)
        y = write_reference(os.path.join(a.out, "tiny_upsample_cf.ref.h5"), path, x)

        def rows_not_cols_cf(f):
            mc = json.loads(f.attrs["model_config"])
            mc["config"][2]["config"]["size"] = [1, 2]
            f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        assert not np.allclose(kh.forward(with_attr(path, tmp, rows_not_cols_cf), x, logits=True), y, atol=1e-3)
        assert len(set(y.argmax(axis=1))) > 1, "the reference's classes must differ"
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print("wrote tiny_cf_theano.h5, tiny_cf_keras22.h5, tiny_zeropad.h5, tiny_concat.h5, tiny_concat_pool.h5, tiny_concat_cf.h5, "
          "tiny_conv1d.h5, tiny_upsample.h5, tiny_upsample_cf.h5 and their .ref.h5 to", a.out)


if __name__ == "__main__":
    main()
