#!/usr/bin/env python3
"""Rebuild a shipped reference model in PyTorch from its .h5 weights and export it to ONNX.

    /usr/bin/python3 tools/export_onnx.py data/models/mnist_cnn.h5 -o mnist_cnn.onnx [--opset 13]
    snn convert mnist_cnn.onnx -o net.snn.h5 --calib mnist:train

Debian's python3-torch and python3-onnx; the weights are read with h5py
(tools/keras_h5.py's reader). The PyTorch model is what a PyTorch user would
write: NCHW tensors, nn.Conv2d / nn.Linear / nn.BatchNorm2d / pooling modules
named as the Keras layers (so the converted populations keep their names),
nn.Flatten in PyTorch's (c, h, w) order (the Dense rows are permuted to match),
Keras 'same' padding as Conv2d padding (or an nn.ZeroPad2d where TensorFlow pads
one more at the end), dropout left out (inference), softmax kept at the output.
Before writing, the PyTorch model is run on random inputs and compared with the
independent numpy forward pass of the .h5 (tools/keras_h5.py); they must agree.

Supported Keras layers: InputLayer, Conv2D, DepthwiseConv2D, Dense, BatchNormalization,
Activation / ReLU (relu, softmax at the output), AveragePooling2D, MaxPooling2D,
GlobalAveragePooling2D, Flatten, Dropout. Binary (Larq) layers are refused: ONNX has
no binary weights, and their float export would convert to a different network.
"""

import argparse
import collections
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_h5 as kh  # noqa: E402


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def same_pads(size, k, s):
    """TensorFlow 'same': output ceil(size/s), the odd padding unit at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def build(path):
    cfg, weights = kh.load(path)
    c = cfg["config"]
    layers = c if isinstance(c, list) else c["layers"]
    mods = collections.OrderedDict()
    shape = None            # (C, H, W) or (F,)
    flattened_from = None   # (C, H, W) of the tensor a Flatten flattened, for the next Dense
    input_name = "input"
    for i, l in enumerate(layers):
        cls, lc = l["class_name"], l["config"]
        name = lc["name"]
        last = i == len(layers) - 1
        w = weights.get(name, [])
        if cls == "InputLayer" or shape is None:
            bs = lc.get("batch_input_shape") or lc.get("batch_shape")
            dims = [int(d) for d in bs[1:]]
            shape = (dims[2], dims[0], dims[1]) if len(dims) == 3 else tuple(dims)
            if cls == "InputLayer":
                input_name = name
                continue
        act = lc.get("activation", "linear")
        if cls in ("Conv2D", "DepthwiseConv2D"):
            if lc.get("data_format", "channels_last") != "channels_last" or _pair(lc.get("dilation_rate", 1)) != (1, 1):
                sys.exit("%s: layer %s: only channels_last, undilated convolutions are exported" % (path, name))
            k, st = _pair(lc["kernel_size"]), _pair(lc.get("strides", 1))
            cin, h, wd = shape
            if cls == "Conv2D":
                kernel = w[0]                                                    # (kh, kw, cin, cout)
                weight, groups, cout = kernel.transpose(3, 2, 0, 1), 1, kernel.shape[3]
            else:
                m = int(lc.get("depth_multiplier", 1))
                kernel = w[0]                                                    # (kh, kw, cin, m)
                # Output o = c·m + j reads channel c: PyTorch's grouped layout (cin·m, 1, kh, kw).
                weight = kernel.transpose(2, 3, 0, 1).reshape(cin * m, 1, k[0], k[1])
                groups, cout = cin, cin * m
            pad = ((0, 0), (0, 0))
            if lc.get("padding", "valid") == "same":
                pad = (same_pads(h, k[0], st[0]), same_pads(wd, k[1], st[1]))
            sym = pad[0][0] == pad[0][1] and pad[1][0] == pad[1][1]
            if not sym:
                mods[name + "_pad"] = nn.ZeroPad2d((pad[1][0], pad[1][1], pad[0][0], pad[0][1]))
            conv = nn.Conv2d(cin, cout, k, st, padding=(pad[0][0], pad[1][0]) if sym else 0, groups=groups,
                             bias=lc.get("use_bias", True))
            conv.weight.data = torch.from_numpy(np.ascontiguousarray(weight))
            if conv.bias is not None:
                conv.bias.data = torch.from_numpy(w[1])
            mods[name] = conv
            oh = (h + pad[0][0] + pad[0][1] - k[0]) // st[0] + 1
            ow = (wd + pad[1][0] + pad[1][1] - k[1]) // st[1] + 1
            shape = (cout, oh, ow)
        elif cls == "Dense":
            kernel = w[0]                                                        # (in, out), Keras (h, w, c) order
            if flattened_from is not None:
                ch, hh, ww = flattened_from
                # PyTorch's row c·H·W + y·W + x is Keras's row (y·W + x)·C + c.
                kernel = kernel.reshape(hh, ww, ch, -1).transpose(2, 0, 1, 3).reshape(ch * hh * ww, -1)
                flattened_from = None
            lin = nn.Linear(kernel.shape[0], kernel.shape[1], bias=lc.get("use_bias", True))
            lin.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))
            if lin.bias is not None:
                lin.bias.data = torch.from_numpy(w[1])
            mods[name] = lin
            shape = (kernel.shape[1],)
        elif cls == "BatchNormalization":
            ch = shape[0]
            scale, center = lc.get("scale", True), lc.get("center", True)
            it = iter(w)
            gamma = next(it) if scale else np.ones(ch, np.float32)
            beta = next(it) if center else np.zeros(ch, np.float32)
            mean, var = next(it), next(it)
            bn = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(ch, eps=float(lc.get("epsilon", 1e-3)))
            bn.weight.data, bn.bias.data = torch.from_numpy(gamma), torch.from_numpy(beta)
            bn.running_mean.data, bn.running_var.data = torch.from_numpy(mean), torch.from_numpy(var)
            mods[name] = bn
        elif cls in ("AveragePooling2D", "MaxPooling2D"):
            if lc.get("padding", "valid") != "valid":
                sys.exit("%s: layer %s: only 'valid' pooling is exported" % (path, name))
            k = _pair(lc.get("pool_size", 2))
            st = _pair(lc.get("strides") or k)
            mods[name] = (nn.AvgPool2d if cls == "AveragePooling2D" else nn.MaxPool2d)(k, st)
            shape = (shape[0], (shape[1] - k[0]) // st[0] + 1, (shape[2] - k[1]) // st[1] + 1)
        elif cls == "GlobalAveragePooling2D":
            mods[name] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            shape = (shape[0],)
        elif cls == "Flatten":
            if len(shape) == 3:
                flattened_from = shape
                mods[name] = nn.Flatten()
                shape = (int(np.prod(shape)),)
        elif cls == "Dropout":
            continue
        elif cls in ("Activation", "ReLU"):
            if cls == "ReLU" and (lc.get("max_value") is not None or lc.get("negative_slope", 0) or lc.get("threshold", 0)):
                sys.exit("%s: layer %s: only a plain ReLU is exported" % (path, name))
            act = "relu" if cls == "ReLU" else act
        else:
            sys.exit("%s: layer %s (%s) is not exported (ONNX has no binary layers; see --help)" % (path, name, cls))
        if act == "relu":
            mods[name + "_relu"] = nn.ReLU()
        elif act == "softmax":
            if not last:
                sys.exit("%s: layer %s: softmax before the output" % (path, name))
            mods[name + "_softmax"] = nn.Softmax(dim=1)
        elif act != "linear":
            sys.exit("%s: layer %s: activation %s is not exported" % (path, name, act))
    model = nn.Sequential(mods)
    model.eval()
    return model, input_name


def input_shape(path):
    cfg, _ = kh.load(path)
    c = cfg["config"]
    first = (c if isinstance(c, list) else c["layers"])[0]["config"]
    dims = [int(d) for d in (first.get("batch_input_shape") or first.get("batch_shape"))[1:]]
    return (dims[2], dims[0], dims[1]) if len(dims) == 3 else tuple(dims)


def merge_pads(path, model):
    """Fold each nn.ZeroPad2d into the Conv after it, as ONNX Conv pads.

    torch.onnx.export writes F.pad as a Pad whose pads come out of a chain of
    ConstantOfShape / Concat / Reshape / Slice / Transpose nodes; an ONNX Conv
    pads asymmetrically by itself, which is what TensorFlow 'same' needs.
    """
    import onnx
    from onnx import helper
    m = onnx.load(path)
    g = m.graph
    pads = {name[:-len("_pad")]: mod.padding for name, mod in model.named_children() if isinstance(mod, nn.ZeroPad2d)}
    producer = {o: n for n in g.node for o in n.output}
    for n in g.node:
        scope = n.name.split("/")[1] if n.name.startswith("/") else ""
        if n.op_type != "Conv" or scope not in pads:
            continue
        pad = producer[n.input[0]]
        if pad.op_type != "Pad":
            sys.exit("%s: expected a Pad before %s" % (path, n.name))
        left, right, top, bottom = pads[scope]
        n.input[0] = pad.input[0]
        for a in list(n.attribute):
            if a.name == "pads":
                n.attribute.remove(a)
        n.attribute.append(helper.make_attribute("pads", [top, left, bottom, right]))
    # Drop what no longer feeds the output.
    used = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in used for o in n.output):
            keep.append(n)
            used.update(n.input)
    del g.node[:]
    g.node.extend(reversed(keep))
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="Keras .h5 reference model (data/models/*.h5)")
    ap.add_argument("-o", "--output", required=True, help="ONNX file to write")
    ap.add_argument("--opset", type=int, default=13, help="ONNX opset (9 to 17; default 13)")
    a = ap.parse_args()
    torch.manual_seed(0)
    model, input_name = build(a.model)
    shape = input_shape(a.model)

    # The rebuilt model must compute what the .h5 computes (independent numpy pass).
    x = np.random.default_rng(0).uniform(0, 1, (16,) + shape).astype(np.float32)
    with torch.no_grad():
        y_torch = model(torch.from_numpy(x)).numpy()
    x_keras = x.transpose(0, 2, 3, 1) if len(shape) == 3 else x
    y_keras = kh.forward(a.model, x_keras)
    if not np.allclose(y_torch, y_keras, rtol=1e-4, atol=1e-6):
        sys.exit("%s: the PyTorch rebuild disagrees with the .h5 (max diff %g)" % (a.model, np.abs(y_torch - y_keras).max()))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros((1,) + shape), a.output, opset_version=a.opset,
                          input_names=[input_name], output_names=["output"],
                          dynamic_axes={input_name: {0: "N"}, "output": {0: "N"}})
    if any(isinstance(m, nn.ZeroPad2d) for m in model.modules()):
        merge_pads(a.output, model)
    print("wrote %s (opset %d, input %s (N,%s)); the PyTorch rebuild matches %s on 16 random inputs"
          % (a.output, a.opset, input_name, ",".join(map(str, shape)), a.model))


if __name__ == "__main__":
    main()
