#!/usr/bin/env python3
"""Write a Keras legacy ``.h5`` model as a Keras 3 native ``.keras`` archive,
with h5py and zipfile only (no Keras).

    /usr/bin/python3 tools/export_keras3.py MODEL.h5 OUT.keras

The layout follows Keras 3's own writer, read from its source
(keras-team/keras, keras/src/saving/saving_lib.py):

* ``_save_model_to_fileobj``: a zip archive holding ``metadata.json``
  (``keras_version``, ``date_saved``), ``config.json`` (the model as
  ``serialize_keras_object`` writes it) and ``model.weights.h5``
  (``H5IOStore``), written in that order.
* ``_save_state`` / ``_save_container_state``: every saveable that has
  ``save_own_variables`` gets a group ``<inner path>/vars`` (``H5Entry``), the
  model's own at ``/vars``; ``model.layers`` is a list, so each layer's inner
  path is ``layers/<key>`` where key is the layer's class name in snake case
  (keras/src/utils/naming.py ``to_snake_case``), then ``<key>_1``, ``<key>_2``
  for later layers of the same class. Layers without variables still get
  their (empty) ``vars`` group. A Sequential's ``layers`` leaves out its
  InputLayer; a Functional's keeps it.
* ``Layer.save_own_variables`` (keras/src/layers/layer.py) stores the
  variables as datasets ``"0"``, ``"1"``, ... in the order trainable then
  non-trainable, each in creation order; Dense and the convolutions override
  it with the same order (kernel, then bias). Per class (``VARIABLES`` below):
  Dense / Conv2D kernel, bias; DepthwiseConv2D depthwise kernel, bias;
  SeparableConv2D depthwise kernel, pointwise kernel, bias;
  BatchNormalization gamma, beta, moving_mean, moving_variance.

config.json is the ``.h5`` file's model_config put in Keras 3's envelope
(``module``, ``class_name``, ``config``, ``registered_name``,
``build_config``): InputLayer's ``batch_input_shape`` becomes ``batch_shape``,
and a Functional model's inbound nodes become Keras 3 call records
``{"args": [...], "kwargs": {}}`` of ``__keras_tensor__`` objects with their
``keras_history`` and shape (shapes computed by the numpy reference,
tools/keras_h5.py, on one zero sample). Layer configs are otherwise copied
as they are; the weights are looked up in the ``.h5`` file by their own
names (``kernel:0``, ``gamma:0``, ...), not by their position there.

``write(path, config, variables, ...)`` is also used by
tools/make_malformed.py to write broken archives.
"""

import io
import json
import os
import re
import sys
import zipfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_h5 as kh  # noqa: E402

KERAS_VERSION = "3.3.3"

# save_own_variables order per class, by the variable names of a Keras 2 file.
VARIABLES = {
    "Dense": ["kernel", "bias"],
    "Conv2D": ["kernel", "bias"],
    "DepthwiseConv2D": ["depthwise_kernel", "bias"],
    "SeparableConv2D": ["depthwise_kernel", "pointwise_kernel", "bias"],
    "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"],
    "QuantDense": ["kernel", "bias"],
    "QuantConv2D": ["kernel", "bias"],
}


def snake_case(name):
    """keras/src/utils/naming.py, to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def variable_groups(class_names):
    """The group of model.weights.h5 for each layer of ``model.layers`` (class names in order)."""
    used = {}
    groups = []
    for cls in class_names:
        key = snake_case(cls)
        if key in used:
            used[key] += 1
            key = "%s_%d" % (key, used[key])
        else:
            used[key] = 0
        groups.append("layers/%s/vars" % key)
    return groups


def write(path, config, variables, metadata=None, members=("metadata.json", "config.json", "model.weights.h5"),
          weights_image=None, compression=zipfile.ZIP_STORED):
    """Write a .keras archive. ``variables``: [(group, [arrays in order])] for
    model.weights.h5 (plus the model's own empty /vars). ``members`` chooses
    which of the three files go in (a broken archive leaves one out);
    ``weights_image`` replaces model.weights.h5's bytes. Keras stores the
    members uncompressed (zipfile's default, ZIP_STORED)."""
    if metadata is None:
        metadata = {"keras_version": KERAS_VERSION, "date_saved": "2024-05-01@12:00:00"}
    if weights_image is None:
        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            f.create_group("vars")
            for group, arrays in variables:
                g = f.require_group(group)
                for i, a in enumerate(arrays):
                    g[str(i)] = np.asarray(a)
        weights_image = buf.getvalue()
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for m in members:
            if m == "metadata.json":
                zf.writestr(m, json.dumps(metadata))
            elif m == "config.json":
                zf.writestr(m, config if isinstance(config, str) else json.dumps(config))
            elif m == "model.weights.h5":
                zf.writestr(m, weights_image)
            else:
                raise ValueError("unknown member %s" % m)


def _batch_shape(a):
    return [None] + [int(d) for d in a.shape[1:]]


def _shapes(cfg, weights):
    """Output shape (with the batch axis as None) of every layer, from the numpy reference on one zero sample."""
    layers = kh._layers(cfg)
    x = np.zeros((1,) + kh.input_shape(cfg), np.float32)
    values = {}
    for i, l in enumerate(layers):
        name = l["config"]["name"]
        if l["class_name"] == "InputLayer":
            values[name] = x
            continue
        if cfg["class_name"] == "Sequential":
            prev = [values[layers[i - 1]["config"]["name"]]] if i else [x]
        else:
            prev = [values[n] for n in kh._inbound_names(l)]
        values[name] = kh._apply(l, prev, weights.get(name, []))
    return {n: _batch_shape(v) for n, v in values.items()}


def _tensor(name, shape):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [name, 0, 0]}}


def _layer_entry(l, functional, shapes, input_name):
    cfg = dict(l["config"])
    cls = l["class_name"]
    if cls == "InputLayer":
        cfg = {"batch_shape": cfg.get("batch_input_shape", cfg.get("batch_shape")), "dtype": cfg.get("dtype", "float32"),
               "sparse": cfg.get("sparse", False), "name": cfg["name"]}
    e = {"module": l.get("module", "keras.layers"), "class_name": cls, "config": cfg,
         "registered_name": l.get("registered_name")}
    name = cfg["name"]
    if functional:
        inbound = kh._inbound_names(l)
        if cls != "InputLayer":
            e["build_config"] = {"input_shape": shapes[inbound[0]] if len(inbound) == 1
                                 else [shapes[n] for n in inbound]}
        e["name"] = name
        args = [_tensor(n, shapes[n]) for n in inbound]
        # A layer called on a list (Add) gets the list as its one argument.
        e["inbound_nodes"] = [] if not inbound else [{"args": [args] if len(args) > 1 else args, "kwargs": {}}]
    elif cls != "InputLayer":
        e["build_config"] = {"input_shape": shapes[input_name]}
    return e


def convert(h5_path):
    """(config.json dict, [(group, arrays)]) for the Keras .h5 model at ``h5_path``."""
    cfg, _ = kh.load(h5_path)
    weights = {}
    with h5py.File(h5_path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for lname in kh._load_attr(root, "layer_names"):
            g = root[lname]
            by_var = {}
            for wn in kh._load_attr(g, "weight_names"):
                var = wn.split("/")[-1].split(":")[0]
                by_var[var] = np.array(g[wn])
            weights[lname] = by_var
        backend = f.attrs.get("backend", "tensorflow")
        backend = backend.decode("utf8") if isinstance(backend, bytes) else str(backend)
    if backend == "theano":
        raise SystemExit("export_keras3: %s: a Theano file's kernels would have to be flipped first" % h5_path)
    cls = cfg["class_name"]
    if cls not in ("Sequential", "Functional", "Model"):
        raise SystemExit("export_keras3: %s: model class %s" % (h5_path, cls))
    functional = cls != "Sequential"
    layers = kh._layers(cfg)
    ordered = {}
    for l in layers:
        name = l["config"]["name"]
        stored = weights.get(name, {})
        if not stored:
            ordered[name] = []
            continue
        if l["class_name"] not in VARIABLES:
            raise SystemExit("export_keras3: %s: no Keras 3 variable order known for %s" % (h5_path, l["class_name"]))
        order = [v for v in VARIABLES[l["class_name"]] if v in stored]
        if sorted(order) != sorted(stored):
            raise SystemExit("export_keras3: %s: layer %s has variables %s" % (h5_path, name, sorted(stored)))
        ordered[name] = [stored[v] for v in order]
    # The numpy reference wants the arrays in weight_names order; kh.load gives that.
    _, ref_weights = kh.load(h5_path)
    shapes = _shapes(cfg, ref_weights)
    input_name = next(l["config"]["name"] for l in layers if l["class_name"] == "InputLayer") \
        if layers[0]["class_name"] == "InputLayer" else None
    if input_name is None:
        raise SystemExit("export_keras3: %s: the model has no InputLayer" % h5_path)
    entries = []
    for i, l in enumerate(layers):
        prev = layers[i - 1]["config"]["name"] if i else input_name
        entries.append(_layer_entry(l, functional, shapes, prev))
    c = cfg["config"]
    model_cfg = {"name": c.get("name", "model" if functional else "sequential"), "trainable": True,
                 "dtype": "float32", "layers": entries}
    if functional:
        def tensors(refs):
            refs = [[r[0], r[1], r[2]] for r in refs]
            return refs[0] if len(refs) == 1 else refs
        model_cfg["input_layers"] = tensors(c["input_layers"])
        model_cfg["output_layers"] = tensors(c["output_layers"])
    top = {"module": "keras.src.models.functional" if functional else "keras", "class_name": cls,
           "config": model_cfg, "registered_name": "Functional" if functional else None,
           "build_config": {"input_shape": shapes[input_name]}, "compile_config": None}
    # model.layers: a Sequential's without its InputLayer.
    weight_layers = layers if functional else [l for l in layers if l["class_name"] != "InputLayer"]
    groups = variable_groups([l["class_name"] for l in weight_layers])
    variables = [(g, ordered[l["config"]["name"]]) for g, l in zip(groups, weight_layers)]
    return top, variables


def main():
    if len(sys.argv) != 3 or not sys.argv[2].endswith(".keras"):
        raise SystemExit("usage: export_keras3.py MODEL.h5 OUT.keras")
    config, variables = convert(sys.argv[1])
    write(sys.argv[2], config, variables)


if __name__ == "__main__":
    main()
