"""Minimal writer and numpy reference reader for Keras legacy HDF5 (.h5) models.

Writer
------
``save(path, layers, ...)`` writes a model the way ``model.save("x.h5")`` does
in Keras 2.x (``layout="keras2"``) or the legacy ``.h5`` flavour of Keras 3
(``layout="keras3"``), using h5py only (no TensorFlow / Keras needed).

A layer is described by a dict::

    {"class_name": "Conv2D",
     "config": {"name": "conv1", "filters": 16, ...},      # keys as Keras writes them
     "weights": [("kernel", np.ndarray), ("bias", ...)],   # Keras layouts, float32
     "inbound": ["input_1"]}                                # Functional models only

The helpers ``input_layer``, ``conv2d``, ``dense``, ... fill in the full set of
config keys Keras 2.14 writes, so the files look like real Keras output.

Layout summary (what an importer has to handle)::

    /                       attrs keras_version, backend, model_config (JSON)
    /model_weights          attrs layer_names (model order), backend, keras_version
    /model_weights/<layer>  attr  weight_names; weight i is at <layer>/<weight_names[i]>
      keras2: weight_names "conv1/kernel:0", "conv1/bias:0"
      keras3: weight_names "sequential/conv1/kernel", "sequential/conv1/bias"

Weight layouts: Dense kernel (in, out); Conv2D kernel (kh, kw, in, out);
DepthwiseConv2D depthwise_kernel (kh, kw, in, depth_multiplier), bias (in * dm,),
output channel c * dm + m for input channel c and multiplier m; SeparableConv2D
depthwise_kernel (kh, kw, in, dm), pointwise_kernel (1, 1, in * dm, filters), bias
(filters,); BatchNormalization gamma, beta, moving_mean, moving_variance. Larq's
QuantConv2D / QuantDense store the latent float kernel in the same layouts (see
quant_conv2d).

Reader
------
``forward(path, x)`` is an independent plain-numpy forward pass (x of shape
(N, H, W, C) float32, or (N, C, H, W) for a data_format channels_first model)
driven only by the contents of the .h5 file. channels_first layers run as
TensorFlow runs them on a CPU (transposed to channels-last and back); Flatten
permutes to (H, W, C) only when its config says data_format=channels_first
(Keras 2.0 files flatten (C, H, W) as stored); BatchNormalization takes any
feature axis. A file saved by the Theano backend has its Conv2D kernels
flipped on load (k[::-1, ::-1]), as Keras's loader does. relu6 and
ReLU(max_value) are capped.

    /usr/bin/python3 tools/keras_h5.py MODEL.h5 OUT.h5 [--n N] [--seed S]

writes a data file for MODEL (x uniform in [0, 1) in the model's own layout,
y the reference's class, y_dnn its pre-softmax outputs): what the importer
tests compare the real files against (tests/convert/test_keras_layouts.cpp).
It is the reference the C++ importer is checked against. ``same`` padding is
TensorFlow's: total max((ceil(H/s) - 1) * s + k - H, 0), the odd pixel at the
bottom / right. ReLU layers follow Keras 2's backend.relu (max_value,
negative_slope, threshold). Larq QuantConv2D /
QuantDense are run with kernel_quantizer(latent kernel): ste_sign, approx_sign,
swish_sign -> sign (sign(0) = +1); magnitude_aware_sign -> mean(|w|) over all
axes but the last times sign; input_quantizer must be None.
"""

import json

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover - h5py is a hard requirement at runtime
    h5py = None

KERAS2_VERSION = "2.14.0"
KERAS3_VERSION = "3.3.3"
# Keras splits attributes bigger than this into numbered chunks (name0, name1, ...).
HDF5_OBJECT_HEADER_LIMIT = 64512

# --------------------------------------------------------------------------
# Layer description helpers (Keras 2.14 config keys)
# --------------------------------------------------------------------------


def _init(cls, config=None):
    return {"module": "keras.initializers", "class_name": cls,
            "config": config if config is not None else {}, "registered_name": None}


def _base(name):
    return {"name": name, "trainable": True, "dtype": "float32"}


def _pair(v):
    return [int(v), int(v)] if np.isscalar(v) else [int(a) for a in v]


def input_layer(name, shape):
    """InputLayer; ``shape`` excludes the batch dimension."""
    cfg = {"batch_input_shape": [None] + [int(s) for s in shape], "dtype": "float32",
           "sparse": False, "ragged": False, "name": name}
    return {"class_name": "InputLayer", "config": cfg, "weights": []}


def conv2d(name, kernel, bias=None, strides=1, padding="valid", activation="linear"):
    """Conv2D; ``kernel`` is (kh, kw, in, out)."""
    kernel = np.asarray(kernel, np.float32)
    kh, kw, _, out = kernel.shape
    cfg = _base(name)
    cfg.update({
        "filters": int(out), "kernel_size": [int(kh), int(kw)], "strides": _pair(strides),
        "padding": padding, "data_format": "channels_last", "dilation_rate": [1, 1],
        "groups": 1, "activation": activation, "use_bias": bias is not None,
        "kernel_initializer": _init("GlorotUniform", {"seed": None}),
        "bias_initializer": _init("Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None})
    w = [("kernel", kernel)]
    if bias is not None:
        w.append(("bias", np.asarray(bias, np.float32)))
    return {"class_name": "Conv2D", "config": cfg, "weights": w}


def depthwise_conv2d(name, depthwise_kernel, bias=None, strides=1, padding="valid",
                     activation="linear"):
    """DepthwiseConv2D; ``depthwise_kernel`` is (kh, kw, in, depth_multiplier).

    Output channel c * depth_multiplier + m is input channel c convolved with
    depthwise_kernel[:, :, c, m]; ``bias`` is (in * depth_multiplier,). Config keys
    as Keras 2.14 writes them (Conv's keys less filters / kernel_*, plus
    depth_multiplier and depthwise_*)."""
    depthwise_kernel = np.asarray(depthwise_kernel, np.float32)
    kh, kw, _, dm = depthwise_kernel.shape
    cfg = _base(name)
    cfg.update({
        "kernel_size": [int(kh), int(kw)], "strides": _pair(strides),
        "padding": padding, "data_format": "channels_last", "dilation_rate": [1, 1],
        "groups": 1, "activation": activation, "use_bias": bias is not None,
        "bias_initializer": _init("Zeros"),
        "bias_regularizer": None, "activity_regularizer": None, "bias_constraint": None,
        "depth_multiplier": int(dm),
        "depthwise_initializer": _init("GlorotUniform", {"seed": None}),
        "depthwise_regularizer": None, "depthwise_constraint": None})
    w = [("depthwise_kernel", depthwise_kernel)]
    if bias is not None:
        w.append(("bias", np.asarray(bias, np.float32)))
    return {"class_name": "DepthwiseConv2D", "config": cfg, "weights": w}


def separable_conv2d(name, depthwise_kernel, pointwise_kernel, bias=None, strides=1,
                     padding="valid", activation="linear"):
    """SeparableConv2D: a depthwise conv (strides, padding; no bias of its own) then a
    1x1 pointwise conv, bias and activation.

    ``depthwise_kernel`` is (kh, kw, in, depth_multiplier), ``pointwise_kernel``
    (1, 1, in * depth_multiplier, filters), ``bias`` (filters,). Keras 2.14 writes
    Conv's full config (kernel_initializer included) followed by the separable keys."""
    depthwise_kernel = np.asarray(depthwise_kernel, np.float32)
    pointwise_kernel = np.asarray(pointwise_kernel, np.float32)
    kh, kw, cin, dm = depthwise_kernel.shape
    if pointwise_kernel.shape[:3] != (1, 1, cin * dm):
        raise ValueError("pointwise_kernel must be (1, 1, in * depth_multiplier, filters)")
    glorot = _init("GlorotUniform", {"seed": None})
    cfg = _base(name)
    cfg.update({
        "filters": int(pointwise_kernel.shape[3]), "kernel_size": [int(kh), int(kw)],
        "strides": _pair(strides), "padding": padding, "data_format": "channels_last",
        "dilation_rate": [1, 1], "groups": 1, "activation": activation,
        "use_bias": bias is not None,
        "kernel_initializer": glorot, "bias_initializer": _init("Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None,
        "depth_multiplier": int(dm),
        "depthwise_initializer": glorot, "pointwise_initializer": glorot,
        "depthwise_regularizer": None, "pointwise_regularizer": None,
        "depthwise_constraint": None, "pointwise_constraint": None})
    w = [("depthwise_kernel", depthwise_kernel), ("pointwise_kernel", pointwise_kernel)]
    if bias is not None:
        w.append(("bias", np.asarray(bias, np.float32)))
    return {"class_name": "SeparableConv2D", "config": cfg, "weights": w}


def dense(name, kernel, bias=None, activation="linear"):
    """Dense; ``kernel`` is (in, out)."""
    kernel = np.asarray(kernel, np.float32)
    cfg = _base(name)
    cfg.update({
        "units": int(kernel.shape[1]), "activation": activation, "use_bias": bias is not None,
        "kernel_initializer": _init("GlorotUniform", {"seed": None}),
        "bias_initializer": _init("Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None})
    w = [("kernel", kernel)]
    if bias is not None:
        w.append(("bias", np.asarray(bias, np.float32)))
    return {"class_name": "Dense", "config": cfg, "weights": w}


def batch_norm(name, gamma, beta, mean, var, epsilon=1e-3, momentum=0.99, axis=3):
    cfg = _base(name)
    cfg.update({
        "axis": [int(axis)], "momentum": float(momentum), "epsilon": float(epsilon),
        "center": True, "scale": True,
        "beta_initializer": _init("Zeros"), "gamma_initializer": _init("Ones"),
        "moving_mean_initializer": _init("Zeros"), "moving_variance_initializer": _init("Ones"),
        "beta_regularizer": None, "gamma_regularizer": None,
        "beta_constraint": None, "gamma_constraint": None})
    w = [("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", var)]
    return {"class_name": "BatchNormalization", "config": cfg,
            "weights": [(n, np.asarray(a, np.float32)) for n, a in w]}


def pool2d(kind, name, pool_size=2, strides=None, padding="valid"):
    """kind: "MaxPooling2D" or "AveragePooling2D"."""
    cfg = _base(name)
    cfg.update({"pool_size": _pair(pool_size),
                "padding": padding,
                "strides": _pair(pool_size if strides is None else strides),
                "data_format": "channels_last"})
    return {"class_name": kind, "config": cfg, "weights": []}


def global_average_pooling(name):
    cfg = _base(name)
    cfg.update({"data_format": "channels_last", "keepdims": False})
    return {"class_name": "GlobalAveragePooling2D", "config": cfg, "weights": []}


def flatten(name):
    cfg = _base(name)
    cfg["data_format"] = "channels_last"
    return {"class_name": "Flatten", "config": cfg, "weights": []}


def dropout(name, rate):
    cfg = _base(name)
    cfg.update({"rate": float(rate), "noise_shape": None, "seed": None})
    return {"class_name": "Dropout", "config": cfg, "weights": []}


def activation(name, act):
    cfg = _base(name)
    cfg["activation"] = act
    return {"class_name": "Activation", "config": cfg, "weights": []}


def relu(name, max_value=None, negative_slope=0.0, threshold=0.0):
    """ReLU layer; ``max_value=6`` is ReLU6 (as in Keras MobileNet)."""
    cfg = _base(name)
    cfg.update({"max_value": None if max_value is None else float(max_value),
                "negative_slope": float(negative_slope), "threshold": float(threshold)})
    return {"class_name": "ReLU", "config": cfg, "weights": []}


def add(name):
    return {"class_name": "Add", "config": _base(name), "weights": []}


def leaky_relu(name, alpha=0.3):
    cfg = _base(name)
    cfg["alpha"] = float(alpha)
    return {"class_name": "LeakyReLU", "config": cfg, "weights": []}


# --------------------------------------------------------------------------
# Larq (binarized networks) layers: QuantConv2D, QuantDense
# --------------------------------------------------------------------------
#
# Larq's layers are Keras layers with three extra config keys, appended after
# the Keras ones (larq/layers_base.py: QuantizerBaseConv.get_config adds
# "pad_values" (conv layers only), BaseLayer.get_config "input_quantizer",
# QuantizerBase.get_config "kernel_quantizer"). Since Larq 0.9 a quantizer
# is a Keras Layer (SteSign, ApproxSign, ...); the string "ste_sign" a user
# writes is a registered alias of the class, so what lands in the file is the
# serialized SteSign object, not the string. Larq < 0.9 quantizers were plain
# functions and were written as the bare string ("ste_sign"). The constraint
# string "weight_clip" resolves to Larq's alias *class* `weight_clip` (a
# subclass of WeightClip), so its class_name is "weight_clip".
# With Keras >= 2.13 (the version this writer emulates) nested objects are
# serialized by keras.saving.serialize_keras_object, which adds "module",
# "registered_name" and, for a built layer such as a quantizer that has been
# applied to the kernel, "build_config". A reader should key on class_name
# (or a bare string) and config only.
#
# The stored kernel is Larq's *latent* float kernel (the QuantizedVariable's
# latent variable); the layer computes with kernel_quantizer(kernel).

_LARQ_QUANTIZER_ALIASES = {"SteSign": "ste_sign", "ApproxSign": "approx_sign",
                           "SwishSign": "swish_sign", "MagnitudeAwareSign": "magnitude_aware_sign",
                           "SteHeaviside": "ste_heaviside", "SteTern": "ste_tern",
                           "DoReFa": "dorefa_quantizer"}


def larq_quantizer(class_name="SteSign", name=None, build_shape=None, **config):
    """A Larq quantizer object as Keras 2.14 serializes it (e.g. SteSign(clip_value=1.0)).

    ``name`` is the Keras layer name Larq's quantizer gets (first instance of
    SteSign: "ste_sign", then "ste_sign_1", ...); ``build_shape`` the shape it
    was built with (the kernel shape)."""
    if class_name in ("SteSign", "MagnitudeAwareSign", "SteHeaviside"):
        config.setdefault("clip_value", 1.0)
    elif class_name == "SwishSign":
        config.setdefault("beta", 5.0)
    cfg = {"name": name or _LARQ_QUANTIZER_ALIASES.get(class_name, class_name.lower()),
           "trainable": True, "dtype": "float32"}
    cfg.update(config)
    out = {"module": "larq.quantizers", "class_name": class_name, "config": cfg,
           "registered_name": class_name}
    if build_shape is not None:
        out["build_config"] = {"input_shape": [int(s) for s in build_shape]}
    return out


def larq_weight_clip(clip_value=1, class_name="weight_clip"):
    """Larq's WeightClip constraint; the string "weight_clip" gives class_name "weight_clip"."""
    return {"module": "larq.constraints", "class_name": class_name,
            "config": {"clip_value": clip_value}, "registered_name": class_name}


def _larq_extra(layer, kernel_quantizer, input_quantizer, kernel_constraint):
    layer["config"]["kernel_constraint"] = kernel_constraint
    layer["config"]["input_quantizer"] = input_quantizer
    layer["config"]["kernel_quantizer"] = kernel_quantizer
    layer["module"] = "larq.layers"
    layer["registered_name"] = layer["class_name"]
    return layer


def quant_conv2d(name, kernel, bias=None, strides=1, padding="valid", activation="linear",
                 kernel_quantizer="default", input_quantizer=None,
                 kernel_constraint="default", pad_values=0.0, quantizer_name=None):
    """Larq QuantConv2D; ``kernel`` is the latent float kernel (kh, kw, in, out).

    kernel_quantizer / kernel_constraint "default": SteSign(clip_value=1.0) and
    weight_clip(clip_value=1), i.e. what kernel_quantizer="ste_sign",
    kernel_constraint="weight_clip" are written as."""
    kernel = np.asarray(kernel, np.float32)
    layer = conv2d(name, kernel, bias, strides=strides, padding=padding, activation=activation)
    layer["class_name"] = "QuantConv2D"
    if kernel_quantizer == "default":
        kernel_quantizer = larq_quantizer("SteSign", name=quantizer_name, build_shape=kernel.shape)
    if kernel_constraint == "default":
        kernel_constraint = larq_weight_clip()
    layer["config"]["pad_values"] = float(pad_values)
    return _larq_extra(layer, kernel_quantizer, input_quantizer, kernel_constraint)


def quant_dense(name, kernel, bias=None, activation="linear", kernel_quantizer="default",
                input_quantizer=None, kernel_constraint="default", quantizer_name=None):
    """Larq QuantDense; ``kernel`` is the latent float kernel (in, out)."""
    kernel = np.asarray(kernel, np.float32)
    layer = dense(name, kernel, bias, activation=activation)
    layer["class_name"] = "QuantDense"
    if kernel_quantizer == "default":
        kernel_quantizer = larq_quantizer("SteSign", name=quantizer_name, build_shape=kernel.shape)
    if kernel_constraint == "default":
        kernel_constraint = larq_weight_clip()
    return _larq_extra(layer, kernel_quantizer, input_quantizer, kernel_constraint)


def with_inbound(layer, *inbound):
    """Return ``layer`` with Functional-model inbound layer names attached."""
    layer = dict(layer)
    layer["inbound"] = list(inbound)
    return layer


def count_params(layers):
    return int(sum(a.size for l in layers for _, a in l["weights"]))


# --------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------


def _save_attr(group, name, data):
    """Like keras' save_attributes_to_hdf5_group (incl. chunking of big attrs)."""
    data_npy = np.asarray(data)
    num_chunks = 1
    chunked = np.array_split(data_npy, num_chunks)
    while any(x.nbytes > HDF5_OBJECT_HEADER_LIMIT for x in chunked):
        num_chunks += 1
        chunked = np.array_split(data_npy, num_chunks)
    if num_chunks > 1:
        for i, chunk in enumerate(chunked):
            group.attrs["%s%d" % (name, i)] = chunk
    else:
        group.attrs[name] = data


def _load_attr(group, name):
    """Like keras' load_attributes_from_hdf5_group; returns a list of str."""
    if name in group.attrs:
        raw = list(group.attrs[name])
    else:
        raw, i = [], 0
        while "%s%d" % (name, i) in group.attrs:
            raw.extend(group.attrs["%s%d" % (name, i)])
            i += 1
    return [r.decode("utf8") if isinstance(r, bytes) else str(r) for r in raw]


def _keras3_layer_entry(layer):
    cfg = dict(layer["config"])
    if layer["class_name"] == "InputLayer":
        cfg = {"batch_shape": cfg["batch_input_shape"], "dtype": cfg["dtype"],
               "sparse": cfg["sparse"], "name": cfg["name"]}
    return {"module": layer.get("module", "keras.layers"), "class_name": layer["class_name"],
            "config": cfg, "registered_name": layer.get("registered_name")}


def model_config(layers, model_name, functional, layout):
    names = [l["config"]["name"] for l in layers]
    if len(set(names)) != len(names):
        raise ValueError("duplicate layer names")
    entries = []
    for l in layers:
        if layout == "keras3":
            e = _keras3_layer_entry(l)
        else:
            e = {"class_name": l["class_name"], "config": dict(l["config"])}
        if functional:
            e["name"] = l["config"]["name"]
            inbound = l.get("inbound", [])
            if layout == "keras3":
                hist = [{"class_name": "__keras_tensor__",
                         "config": {"shape": None, "dtype": "float32",
                                    "keras_history": [n, 0, 0]}} for n in inbound]
                e["inbound_nodes"] = ([] if not inbound else
                                      [{"args": [hist] if len(hist) > 1 else hist,
                                        "kwargs": {}}])
            else:
                e["inbound_nodes"] = ([] if not inbound else
                                      [[[n, 0, 0, {}] for n in inbound]])
        entries.append(e)
    cfg = {"name": model_name, "layers": entries}
    if functional:
        consumed = {n for l in layers for n in l.get("inbound", [])}
        inputs = [l["config"]["name"] for l in layers if l["class_name"] == "InputLayer"]
        outputs = [n for n in names if n not in consumed]
        cfg["input_layers"] = [[n, 0, 0] for n in inputs]
        cfg["output_layers"] = [[n, 0, 0] for n in outputs]
    cls = "Functional" if functional else "Sequential"
    if layout == "keras3":
        cfg = dict(cfg, trainable=True, dtype="float32")
        return {"module": "keras" if not functional else "keras.src.models.functional",
                "class_name": cls, "config": cfg, "registered_name": None}
    return {"class_name": cls, "config": cfg}


def save(path, layers, model_name=None, functional=False, layout="keras2"):
    """Write ``layers`` (list of layer dicts, model order) to ``path``."""
    if h5py is None:
        raise ImportError("h5py is required")
    if layout not in ("keras2", "keras3"):
        raise ValueError("layout must be 'keras2' or 'keras3'")
    if model_name is None:
        model_name = "model" if functional else "sequential"
    if not functional and layers[0]["class_name"] != "InputLayer":
        raise ValueError("Sequential models start with an InputLayer here")
    version = KERAS3_VERSION if layout == "keras3" else KERAS2_VERSION
    cfg = model_config(layers, model_name, functional, layout)
    # Sequential.layers excludes the InputLayer; Functional.layers includes it.
    weight_layers = layers if functional else layers[1:]
    with h5py.File(path, "w") as f:
        # As keras does: root keras_version/backend are str, model_config is
        # UTF-8 encoded JSON bytes, the model_weights attrs are bytes.
        f.attrs["keras_version"] = version
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(cfg).encode("utf8")
        mw = f.create_group("model_weights")
        _save_attr(mw, "layer_names", [l["config"]["name"].encode("utf8") for l in weight_layers])
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = version.encode("utf8")
        order = weight_layers
        if layout == "keras3":
            order = sorted(weight_layers, key=lambda l: l["config"]["name"])
        for l in order:
            lname = l["config"]["name"]
            g = mw.create_group(lname)
            if layout == "keras3":
                wnames = ["%s/%s/%s" % (model_name, lname, n) for n, _ in l["weights"]]
            else:
                wnames = ["%s/%s:0" % (lname, n) for n, _ in l["weights"]]
            _save_attr(g, "weight_names", [n.encode("utf8") for n in wnames])
            for wn, (_, arr) in zip(wnames, l["weights"]):
                arr = np.asarray(arr, np.float32)
                d = g.create_dataset(wn, arr.shape, dtype=arr.dtype)
                if arr.ndim == 0:
                    d[()] = arr
                else:
                    d[:] = arr


# --------------------------------------------------------------------------
# Reader + numpy reference forward pass
# --------------------------------------------------------------------------


def load(path):
    """Return (model_config dict, {layer_name: [weight arrays in weight_names order]})."""
    with h5py.File(path, "r") as f:
        mc = f.attrs["model_config"]
        if isinstance(mc, bytes):
            mc = mc.decode("utf8")
        cfg = json.loads(mc)
        root = f["model_weights"] if "model_weights" in f else f
        weights = {}
        for lname in _load_attr(root, "layer_names"):
            g = root[lname]
            weights[lname] = [np.array(g[wn], dtype=np.float32)
                              for wn in _load_attr(g, "weight_names")]
        backend = f.attrs.get("backend", "tensorflow")
        backend = backend.decode("utf8") if isinstance(backend, bytes) else str(backend)
    if backend == "theano":
        # Keras's preprocess_weights_for_loading: a Theano file's Conv2D kernels
        # are for a true convolution; convert_kernel flips the spatial axes.
        c = cfg["config"]
        for l in (c if isinstance(c, list) else c["layers"]):
            name = l["config"]["name"]
            if l["class_name"] == "Conv2D" and weights.get(name):
                weights[name][0] = np.ascontiguousarray(weights[name][0][::-1, ::-1])
    return cfg, weights


def _same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _windows(x, kh, kw, sh, sw):
    """(N,H,W,C) -> (N,Ho,Wo,kh,kw,C) strided view of all kh x kw windows."""
    n, h, w, c = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, ho, wo, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]),
        writeable=False)


def _pad_same(x, kh, kw, sh, sw, value=0.0):
    pt, pb = _same_pads(x.shape[1], kh, sh)
    pl, pr = _same_pads(x.shape[2], kw, sw)
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def _activation(x, act):
    if act in (None, "linear"):
        return x
    if act == "relu":
        return np.maximum(x, 0)
    if act == "relu6":
        return np.minimum(np.maximum(x, 0), np.float32(6))
    if act == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if act == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if act == "tanh":
        return np.tanh(x)
    raise NotImplementedError("activation %r" % act)


def _conv2d(x, cfg, w, kernel=None, pad_value=0.0):
    if kernel is None:
        kernel = w[0]
    kh, kw = cfg["kernel_size"]
    sh, sw = cfg.get("strides", [1, 1])
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise NotImplementedError("channels_first")
    if list(cfg.get("dilation_rate", [1, 1])) != [1, 1] or cfg.get("groups", 1) != 1:
        raise NotImplementedError("dilated / grouped conv")
    if cfg["padding"] == "same":
        x = _pad_same(x, kh, kw, sh, sw, pad_value)
    elif cfg["padding"] != "valid":
        raise NotImplementedError("padding %r" % cfg["padding"])
    cols = _windows(np.ascontiguousarray(x), kh, kw, sh, sw)   # im2col view
    y = np.tensordot(cols, kernel, axes=([3, 4, 5], [0, 1, 2]))
    if cfg.get("use_bias", True):
        y = y + w[1]
    return y.astype(np.float32)


def _conv_input(x, cfg):
    """Check a conv config and return the (same-)padded input and the strides."""
    kh, kw = cfg["kernel_size"]
    sh, sw = cfg.get("strides", [1, 1])
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise NotImplementedError("channels_first")
    if list(cfg.get("dilation_rate", [1, 1])) != [1, 1]:
        raise NotImplementedError("dilated conv")
    if cfg["padding"] == "same":
        x = _pad_same(x, kh, kw, sh, sw)
    elif cfg["padding"] != "valid":
        raise NotImplementedError("padding %r" % cfg["padding"])
    return np.ascontiguousarray(x), kh, kw, sh, sw


def _depthwise(x, cfg, kernel):
    """Depthwise conv without bias; kernel (kh, kw, C, dm) -> output channel c * dm + m."""
    xp, kh, kw, sh, sw = _conv_input(x, cfg)
    cin, dm = kernel.shape[2], kernel.shape[3]
    if xp.shape[3] != cin:
        raise ValueError("depthwise kernel has %d input channels, input has %d"
                         % (cin, xp.shape[3]))
    cols = _windows(xp, kh, kw, sh, sw)                         # (N, Ho, Wo, kh, kw, C)
    y = np.einsum("nijabc,abcm->nijcm", cols, kernel, optimize=True)
    return y.reshape(y.shape[:3] + (cin * dm,)).astype(np.float32)


def _depthwise_conv2d(x, cfg, w):
    y = _depthwise(x, cfg, w[0])
    if cfg.get("use_bias", True):
        y = y + w[1]
    return y.astype(np.float32)


def _separable_conv2d(x, cfg, w):
    y = _depthwise(x, cfg, w[0])
    pw = w[1]
    if pw.shape[:2] != (1, 1):
        raise ValueError("pointwise kernel must be 1x1")
    y = np.tensordot(y, pw[0, 0], axes=([3], [0]))
    if cfg.get("use_bias", True):
        y = y + w[2]
    return y.astype(np.float32)


def _relu_layer(x, cfg):
    """Keras 2 ReLU layer (backend.relu): x for x > threshold (x >= 0 at threshold 0),
    clipped to [0, max_value], minus negative_slope * relu(threshold - x)."""
    max_value = cfg.get("max_value")
    slope = float(cfg.get("negative_slope") or 0.0)
    threshold = float(cfg.get("threshold") or 0.0)
    if threshold != 0:
        y = np.where(x > threshold, x, np.float32(0))
    else:
        y = np.maximum(x, 0)
    if max_value is not None:
        y = np.minimum(y, np.float32(max_value))
    if slope != 0:
        y = y - np.float32(slope) * np.maximum(np.float32(threshold) - x, 0)
    return y.astype(np.float32)


def _pool(x, cfg, kind):
    ph, pw = cfg["pool_size"]
    sh, sw = cfg.get("strides") or cfg["pool_size"]
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise NotImplementedError("channels_first")
    if cfg.get("padding", "valid") == "same":
        if kind == "max":
            xp = _pad_same(x, ph, pw, sh, sw, -np.inf)
            return _windows(xp, ph, pw, sh, sw).max(axis=(3, 4))
        # TF's 'same' average pooling divides by the number of real (unpadded) cells.
        xp = _pad_same(x, ph, pw, sh, sw)
        ones = _pad_same(np.ones((1,) + x.shape[1:3] + (1,), np.float32), ph, pw, sh, sw)
        s = _windows(xp, ph, pw, sh, sw).sum(axis=(3, 4))
        cnt = _windows(ones, ph, pw, sh, sw).sum(axis=(3, 4))
        return (s / cnt).astype(np.float32)
    win = _windows(np.ascontiguousarray(x), ph, pw, sh, sw)
    return win.max(axis=(3, 4)) if kind == "max" else win.mean(axis=(3, 4), dtype=np.float32)


def _larq_quantizer_name(q):
    """Larq quantizer identifier (None, "ste_sign", or a serialized object) -> snake name."""
    if q is None:
        return None
    if isinstance(q, str):
        return q
    if isinstance(q, dict) and "class_name" in q:
        cls = q["class_name"]
        return _LARQ_QUANTIZER_ALIASES.get(cls, "noop" if cls in ("NoOp", "NoOpQuantizer") else cls)
    raise NotImplementedError("quantizer %r" % (q,))


def _larq_kernel(cfg, kernel):
    """The kernel a Larq layer computes with: kernel_quantizer(latent kernel)."""
    if _larq_quantizer_name(cfg.get("input_quantizer")) is not None:
        raise NotImplementedError("Larq input_quantizer %r (only None is supported)"
                                  % (cfg.get("input_quantizer"),))
    q = _larq_quantizer_name(cfg.get("kernel_quantizer"))
    if q in (None, "noop"):
        return kernel
    # larq.math.sign: sign(0) = +1
    sign = np.where(kernel >= 0, np.float32(1), np.float32(-1))
    if q in ("ste_sign", "approx_sign", "swish_sign"):
        return sign
    if q == "magnitude_aware_sign":
        # scale = mean(|w|) over all axes but the last (one per output unit)
        scale = np.abs(kernel).mean(axis=tuple(range(kernel.ndim - 1)), dtype=np.float64)
        return (scale.astype(np.float32) * sign).astype(np.float32)
    raise NotImplementedError("Larq kernel_quantizer %r" % (cfg.get("kernel_quantizer"),))


def _batch_norm(x, cfg, w):
    w = list(w)
    gamma = w.pop(0) if cfg.get("scale", True) else 1.0
    beta = w.pop(0) if cfg.get("center", True) else 0.0
    mean, var = w[0], w[1]
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) else axis
    axis = axis % x.ndim
    if axis == 0:
        raise NotImplementedError("BatchNormalization axis %r" % axis)
    # Parameters broadcast along `axis` (1 for channels_first (N, C, H, W)).
    shape = [1] * x.ndim
    shape[axis] = -1
    r = lambda a: np.reshape(a, shape) if np.ndim(a) else a
    scale = r(gamma / np.sqrt(var + cfg.get("epsilon", 1e-3)))
    return ((x - r(mean)) * scale + r(beta)).astype(np.float32)


_SPATIAL = ("Conv2D", "QuantConv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D",
            "AveragePooling2D", "GlobalAveragePooling2D", "ZeroPadding2D", "UpSampling2D")


def _zero_padding(x, cfg):
    """Keras ZeroPadding2D on (N, H, W, C): padding an int, (rows, cols) or ((top, bottom), (left, right))."""
    p = cfg.get("padding", 1)
    if isinstance(p, int):
        p = ((p, p), (p, p))
    (t, b), (l, r) = [(q, q) if isinstance(q, int) else tuple(q) for q in p]
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def _upsampling(x, cfg):
    """Keras UpSampling2D on (N, H, W, C), nearest: each pixel repeated size[0] x size[1] times."""
    if cfg.get("interpolation", "nearest") != "nearest":
        raise NotImplementedError("UpSampling2D interpolation %r" % cfg["interpolation"])
    sy, sx = _pair(cfg.get("size", 2))
    return np.repeat(np.repeat(x, sy, axis=1), sx, axis=2)


def _as_2d(cfg, pool=False):
    """A 1-D layer's config for its 2-D twin over (N, 1, steps, C): each size k becomes (1, k)."""
    c = dict(cfg)
    if c.get("data_format", "channels_last") != "channels_last":
        raise NotImplementedError("1-D layers channels_first")
    for key in ("kernel_size", "strides", "dilation_rate", "pool_size"):
        v = c.get(key)
        if v is not None:
            c[key] = [1, v[0] if isinstance(v, (list, tuple)) else v]
    if pool:
        c.setdefault("pool_size", [1, 2])
        if c.get("strides") is None:
            c["strides"] = c["pool_size"]
    return c


def _conv1d(x, cfg, w):
    """Keras Conv1D on (N, steps, C): kernel (k, C, F); 'causal' pads k - 1 zeros before the first step."""
    c = _as_2d(cfg)
    c.setdefault("padding", "valid")
    x = x[:, None]
    if c["padding"] == "causal":
        k = c["kernel_size"][1]
        x = np.pad(x, ((0, 0), (0, 0), (k - 1, 0), (0, 0)))
        c["padding"] = "valid"
    return _conv2d(x, c, w, kernel=w[0][None])[:, 0]


def _apply(layer, inputs, weights, skip_activation=False):
    cls, cfg = layer["class_name"], layer["config"]
    if cls in _SPATIAL and cfg.get("data_format") == "channels_first":
        # As TensorFlow runs channels_first on a CPU: transpose to (N, H, W, C),
        # compute, transpose back to (N, C, H, W).
        y = _apply({"class_name": cls, "config": dict(cfg, data_format="channels_last")},
                   [np.ascontiguousarray(np.transpose(inputs[0], (0, 2, 3, 1)))], weights,
                   skip_activation)
        return y if y.ndim != 4 else np.ascontiguousarray(np.transpose(y, (0, 3, 1, 2)))
    x = inputs[0]
    act = cfg.get("activation", "linear")
    if skip_activation:
        act = "linear"
    if cls == "InputLayer":
        return x
    if cls == "Conv2D":
        return _activation(_conv2d(x, cfg, weights), act)
    if cls == "Dense":
        y = x @ weights[0]
        if cfg.get("use_bias", True):
            y = y + weights[1]
        return _activation(y.astype(np.float32), act)
    if cls == "QuantConv2D":
        return _activation(_conv2d(x, cfg, weights, kernel=_larq_kernel(cfg, weights[0]),
                                   pad_value=float(cfg.get("pad_values", 0.0))), act)
    if cls == "QuantDense":
        y = x @ _larq_kernel(cfg, weights[0])
        if cfg.get("use_bias", True):
            y = y + weights[1]
        return _activation(y.astype(np.float32), act)
    if cls == "Flatten":
        # Keras >= 2.1 with data_format=channels_first permutes (N, C, H, W) to
        # (N, H, W, C) first; without the key (Keras 2.0) it flattens as stored.
        if cfg.get("data_format") == "channels_first" and x.ndim > 2:
            x = np.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
        return np.ascontiguousarray(x).reshape(x.shape[0], -1)
    if cls in ("Dropout", "GaussianNoise", "GaussianDropout"):
        return x
    if cls == "Activation":
        return _activation(x, act)
    if cls == "DepthwiseConv2D":
        return _activation(_depthwise_conv2d(x, cfg, weights), act)
    if cls == "SeparableConv2D":
        return _activation(_separable_conv2d(x, cfg, weights), act)
    if cls == "ReLU":
        return _relu_layer(x, cfg)
    if cls == "ReLU6":
        return np.minimum(np.maximum(x, 0), np.float32(6))
    if cls == "BatchNormalization":
        return _batch_norm(x, cfg, weights)
    if cls == "MaxPooling2D":
        return _pool(x, cfg, "max")
    if cls == "AveragePooling2D":
        return _pool(x, cfg, "avg")
    if cls == "GlobalAveragePooling2D":
        return x.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
    if cls == "Add":
        return sum(inputs[1:], inputs[0])
    if cls == "ZeroPadding2D":
        return _zero_padding(x, cfg)
    if cls == "UpSampling2D":
        return _upsampling(x, cfg)
    if cls == "Concatenate":
        return np.concatenate(inputs, axis=cfg.get("axis", -1))
    if cls == "Conv1D":
        return _activation(_conv1d(x, cfg, weights), act)
    if cls in ("MaxPooling1D", "AveragePooling1D"):
        return _pool(x[:, None], _as_2d(cfg, pool=True), "max" if cls == "MaxPooling1D" else "avg")[:, 0]
    if cls == "GlobalAveragePooling1D":
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise NotImplementedError("GlobalAveragePooling1D channels_first")
        return x.mean(axis=1, dtype=np.float64).astype(np.float32)
    raise NotImplementedError("layer %s (%s) is not supported" % (cfg.get("name"), cls))


def _inbound_names(entry):
    """Inbound layer names of a Functional layer entry (Keras 2 or Keras 3 format)."""
    nodes = entry.get("inbound_nodes", [])
    if not nodes:
        return []
    if len(nodes) > 1:
        raise NotImplementedError("shared layers (%d inbound nodes)" % len(nodes))
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        found = []

        def walk(o):
            if isinstance(o, dict):
                if o.get("class_name") == "__keras_tensor__":
                    found.append(o["config"]["keras_history"][0])
                else:
                    for v in o.values():
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(node.get("args", []))
        return found
    return [t[0] for t in node]  # Keras 2: [[name, node_idx, tensor_idx, kwargs], ...]


def _layers(cfg):
    """The layer list of a model config (Keras 2.0 writes a Sequential's config as the bare list)."""
    c = cfg["config"]
    return c if isinstance(c, list) else c["layers"]


def idp_coefficients(profile, n):
    """003 section II-B's profile gamma_1..gamma_N (docs/dynamic-cost.md), float32."""
    i = np.arange(1, n + 1, dtype=np.float64)
    if profile == "all-one":
        g = np.ones(n)
    elif profile == "harmonic":
        g = 1.0 / i
    elif profile == "linear":
        g = 1.0 - i / n
    elif profile == "half-exp":
        g = np.where(i < n / 2.0, 1.0, np.exp(n / 2.0 - i - 1))
    else:
        raise ValueError("unknown IDP profile %r" % profile)
    return g.astype(np.float32)


def idp_profiles(path):
    """003 section III's multiple profiles of a .h5 model: (ranges, variants) with ranges the
    ascending upper IDP percentages of the profiles (the last 100) and variants[k] the
    {layer name: [kernel, bias]} that profile k uses in place of the model's own weights
    (its separate first and last layer; the last profile is the model's own). Read from the
    root attribute snn_idp_ranges and the groups snn_idp_variants/K/LAYER/{kernel,bias};
    ([100], [{}]) for a model with one profile."""
    with h5py.File(path, "r") as f:
        if "snn_idp_ranges" not in f.attrs:
            return [100.0], [{}]
        ranges = [float(r) for r in np.asarray(f.attrs["snn_idp_ranges"]).ravel()]
        variants = []
        for k in range(len(ranges) - 1):
            g = f["snn_idp_variants"][str(k)]
            variants.append({name: [np.array(g[name]["kernel"], np.float32), np.array(g[name]["bias"], np.float32)]
                             for name in g})
        variants.append({})
    return ranges, variants


def idp_profile_index(ranges, percent):
    """The profile an IDP percentage selects: the first whose range reaches it (None: the last)."""
    if percent is None:
        return len(ranges) - 1
    return next(k for k, r in enumerate(ranges) if percent <= r + 1e-9)


def idp_profile(path):
    """The root attribute snn_idp_profile of a .h5 model (tools/train_reference.py), or None."""
    with h5py.File(path, "r") as f:
        v = f.attrs.get("snn_idp_profile")
    return v.decode() if isinstance(v, bytes) else v


def forward(path, x, logits=False, batch_size=1000, output=None, idp=None):
    """Numpy reference forward pass of the .h5 model at ``path``.

    x: (N, H, W, C) float32 (or (N, features) for models with 1-D inputs).
    Returns the model output; with ``logits=True`` the final layer's softmax
    is skipped (pre-softmax values). ``output`` names one output of a
    functional model with several (exit heads); its softmax, whether an
    activation or a Softmax layer, is skipped the same way.

    A model with several IDP profiles (root attribute snn_idp_ranges, 003
    section III) runs, at ``idp`` = P, the first profile whose range reaches P
    (without ``idp``, the last): that profile's first and last layer weights
    (snn_idp_variants) stand in for the model's own.

    A Sequential model with the root attribute snn_idp_profile (incomplete dot
    products, docs/dynamic-cost.md) multiplies the input channels of every
    Dense and Conv2D layer but the first by the profile's gamma; ``idp`` (a
    percentage) then keeps only the first ceil(P*N/100) of those channels.
    """
    cfg, weights = load(path)
    profile = idp_profile(path)
    if idp is not None and profile is None:
        raise ValueError("%s has no snn_idp_profile" % path)
    if profile is not None:   # several profiles: the one P selects brings its own first and last layer
        ranges, variants = idp_profiles(path)
        weights = dict(weights, **variants[idp_profile_index(ranges, idp)])
    x = np.asarray(x, np.float32)
    outs = []
    for i in range(0, x.shape[0], batch_size):
        outs.append(_forward_batch(cfg, weights, x[i:i + batch_size], logits, output, (profile, idp)))
    return np.concatenate(outs, axis=0)


def _idp_input(x, channels, profile, percent):
    """x (a Dense or Conv2D layer's input) with channel c times gamma_c, and zero
    past the first ceil(P*N/100) channels; a flat x of a spatial source has its
    channel innermost (channels-last flatten)."""
    g = idp_coefficients(profile, channels)
    if percent is not None:
        k = max(1, min(channels, int(np.ceil(percent * channels / 100.0))))
        g = g.copy()
        g[k:] = 0
    reps = x.shape[-1] // channels
    return x * np.tile(g, reps)


def layer_outputs(path, x):
    """Every layer's output of a Sequential .h5 model at ``path`` (numpy reference,
    activations applied): a list of (layer name, class_name, output array)."""
    cfg, weights = load(path)
    if cfg["class_name"] != "Sequential":
        raise NotImplementedError("layer_outputs: Sequential models only")
    x = np.asarray(x, np.float32)
    out = []
    for l in _layers(cfg):
        x = _apply(l, [x], weights.get(l["config"]["name"], []))
        out.append((l["config"]["name"], l["class_name"], x))
    return out


def _forward_batch(cfg, weights, x, logits, output=None, idp=(None, None)):
    cls = cfg["class_name"]
    layers = _layers(cfg)
    profile, percent = idp
    if cls == "Sequential":
        n = len(layers)
        seen = 0          # Dense / Conv2D layers so far
        channels = x.shape[-1]
        for i, l in enumerate(layers):
            skip = logits and i == n - 1 and l["config"].get("activation") == "softmax"
            if profile is not None and l["class_name"] in ("Dense", "Conv2D"):
                if seen > 0:
                    x = _idp_input(x, channels, profile, percent)
                seen += 1
            x = _apply(l, [x], weights.get(l["config"]["name"], []), skip)
            if x.ndim == 4 or l["class_name"] == "Dense":   # Flatten and Dropout keep the channels
                channels = x.shape[-1]
        return x
    if profile is not None:
        raise NotImplementedError("snn_idp_profile: Sequential models only")
    if cls not in ("Functional", "Model"):
        raise NotImplementedError("model class %s" % cls)
    c = cfg["config"]
    out_names = [o[0] for o in c["output_layers"]]
    in_names = [i[0] for i in c["input_layers"]]
    if output is not None:
        if output not in out_names:
            raise ValueError("%s is not an output of the model" % output)
        out_names = [output]
    if len(out_names) != 1 or len(in_names) != 1:
        raise NotImplementedError("single-input, single-output models only (or name one output)")
    values = {}
    pending = list(layers)
    while pending:
        progressed = False
        for l in list(pending):
            name = l["config"]["name"]
            inb = _inbound_names(l)
            if l["class_name"] == "InputLayer":
                values[name] = x
            elif all(n in values for n in inb):
                skip = logits and name == out_names[0] and \
                    l["config"].get("activation") == "softmax"
                values[name] = _apply(l, [values[n] for n in inb], weights.get(name, []), skip)
            else:
                continue
            pending.remove(l)
            progressed = True
        if not progressed:
            raise ValueError("cycle or dangling input in functional graph")
    return values[out_names[0]]


def input_shape(cfg):
    """The model's input shape without the batch axis, from its InputLayer or first layer."""
    for l in _layers(cfg):
        c = l["config"]
        shape = c.get("batch_input_shape") or c.get("batch_shape")
        if shape:
            return tuple(int(d) for d in shape[1:])
    raise ValueError("the model states no input shape")


def write_reference(model, out, n=4, seed=1):
    """Writes to ``out`` a data file for ``model`` in the model's own layout:
    x (n, *input shape) uniform in [0, 1), y (n,) the reference's class, and
    y_dnn the reference's pre-softmax outputs."""
    cfg, _ = load(model)
    x = np.random.default_rng(seed).uniform(0, 1, (n,) + input_shape(cfg)).astype(np.float32)
    y = forward(model, x, logits=True)
    with h5py.File(out, "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y.reshape(n, -1).argmax(axis=1).astype(np.int64))
        f.create_dataset("y_dnn", data=y)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(
        description="Write the numpy reference outputs of a Keras .h5 model on random inputs "
                    "(x, y, y_dnn; x in the model's own layout).")
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    write_reference(a.model, a.out, a.n, a.seed)
