#!/usr/bin/env python3
"""Write small ONNX models and their reference outputs for the ONNX importer's tests.

    /usr/bin/python3 tools/make_onnx_fixtures.py [OUT_DIR]     (default data/fixtures/onnx)

Debian's python3-onnx (onnx.helper) and numpy only; nothing here reads or runs
snn. Each model NAME.onnx comes with NAME.ref.h5 holding `x` (N, C, H, W) or
(N, F), the model's own input layout, and `y` the model's output for x
computed by the plain numpy NCHW forward pass below (softmax left out: the
converter keeps the logits). Where PyTorch is installed, every output is also
checked against torch.nn.functional.

  cnn_opset17    input (2,6,6): Conv 3x3 pads 1 → BatchNormalization → Relu →
                 MaxPool 2 → depthwise Conv 3x3 (group 4, stride 2, SAME_UPPER) + Relu →
                 x.view(x.size(0), -1) as PyTorch writes it (Shape, Gather,
                 Unsqueeze, Concat, Reshape) → Gemm (transB 1) → Softmax.
                 Initializers as raw_data.
  mlp_opset9     input (12): MatMul + Add (bias) → Clip(min 0) as attributes →
                 Gemm (transB 0, alpha 0.5, beta 2) → Identity. Initializers as float_data.
  residual_opset11  input (3,5,5): Conv 1x1 → Relu → Conv 3x3 pads 1 → BatchNormalization →
                 Add (residual with the Relu) → Clip(0, 6) (inputs, a bounded ReLU) →
                 AveragePool 2 (pads 0, 3x3 of 5x5 → 2x2) → Flatten → Gemm with a
                 Constant node's bias → GlobalAveragePool-free head; plus Dropout.
  gap_opset13    input (2,4,4): Conv 3x3 valid → Relu → GlobalAveragePool → Reshape to
                 a Constant node's (0, -1) → Gemm.
  unsupported_op input (4): Gemm → Sigmoid (node "head/act") → Gemm: refused by name.
  concat_op      input (2,3,3): two Conv + Relu branches → Concat (node "merge") along
                 axis 2 (height) → refused, naming the axis.
  concat_bn      input (2,3,3): two Conv + Relu branches → Concat axis 1 (node "merge")
                 → BatchNormalization (node "/bn/BatchNormalization"), which cannot
                 read a Concat (no population to fold into) → refused by name.
  concat_torch   a PyTorch module with torch.cat, exported by torch.onnx.export
                 (opset 13): input (2,6,6) → a = relu(Conv 3x3 pad 1) (3 channels),
                 b = relu(Conv 1x1) (2) → cat([a, b]) → relu(Conv 3x3 pad 1) (4) = d →
                 cat([d, b]) → MaxPool 2 (6,3,3) → flatten → h1 = relu(Linear 54→4),
                 h2 = relu(Linear 54→3) → cat([h1, h2]) (7) → Linear 7→3. Its y is
                 PyTorch's own output (this one needs PyTorch).
"""

import os
import sys

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(20)


# ------------------------------------------------------------------ numpy reference (NCHW)


def conv2d(x, w, b, stride=(1, 1), pads=(0, 0, 0, 0), group=1):
    """x (N,C,H,W), w (M, C/group, kh, kw), pads (top, left, bottom, right)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]), np.float64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (xp.shape[2] - kh) // stride[0] + 1
    ow = (xp.shape[3] - kw) // stride[1] + 1
    y = np.zeros((n, m, oh, ow))
    per = m // group
    for o in range(m):
        g = o // per
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
                y[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    return y + (0 if b is None else b[None, :, None, None])


def pool(x, k, s, kind):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * s:i * s + k, j * s:j * s + k]
            y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return y


def batchnorm(x, g, b, mean, var, eps):
    sh = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    return (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * g.reshape(sh) + b.reshape(sh)


def relu(x):
    return np.maximum(x, 0)


# ------------------------------------------------------------------ helpers


def init(name, a, raw):
    a = np.asarray(a, np.float32)
    if raw:
        return numpy_helper.from_array(a, name)
    return helper.make_tensor(name, TensorProto.FLOAT, a.shape, a.flatten().tolist())


def int_init(name, values):
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def rand(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def bn_params(c):
    return (RNG.uniform(0.5, 1.5, c).astype(np.float32), rand(c, scale=0.2),
            rand(c, scale=0.2), RNG.uniform(0.5, 2.0, c).astype(np.float32))


def save(out, name, graph, opset, x, y):
    model = helper.make_model(graph, producer_name="make_onnx_fixtures.py",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset >= 12 else 4 if opset <= 9 else 6
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name + ".onnx"))
    if x is None:
        return  # refused by the converter: no reference output
    with h5py.File(os.path.join(out, name + ".ref.h5"), "w") as f:
        f["x"] = x.astype(np.float32)
        f["y"] = y.astype(np.float32)
        f.attrs["note"] = "y = numpy forward pass of %s.onnx on x (tools/make_onnx_fixtures.py)" % name


def torch_check(name, y, fn):
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    t = fn()
    if not np.allclose(t, y, rtol=1e-4, atol=1e-5):
        sys.exit("%s: numpy and torch disagree (max diff %g)" % (name, np.abs(t - y).max()))


# ------------------------------------------------------------------ models


def cnn_opset17(out):
    x = RNG.uniform(0, 1, (3, 2, 6, 6)).astype(np.float32)
    w1, b1 = rand(4, 2, 3, 3), rand(4, scale=0.1)
    g, be, mu, var = bn_params(4)
    wd, bd = rand(4, 1, 3, 3), rand(4, scale=0.1)
    wf, bf = rand(3, 4 * 2 * 2), rand(3, scale=0.1)   # (out, in): transB = 1, as PyTorch writes nn.Linear
    eps = 1e-3
    h = relu(batchnorm(conv2d(x, w1, b1, pads=(1, 1, 1, 1)), g, be, mu, var, eps))
    h = pool(h, 2, 2, "max")                                         # (3,4,3,3)
    # SAME_UPPER, stride 2 on 3x3: output 2x2, total padding (2-1)*2+3-3 = 2 → 1 before, 1 after.
    h = relu(conv2d(h, wd, bd, stride=(2, 2), pads=(1, 1, 1, 1), group=4))  # (3,4,2,2)
    flat = h.reshape(h.shape[0], -1)                                 # (c, h, w) order
    y = flat @ wf.T + bf

    def t():
        import torch
        import torch.nn.functional as F
        T = torch.from_numpy
        a = F.relu(F.batch_norm(F.conv2d(T(x), T(w1), T(b1), padding=1), T(mu), T(var), T(g), T(be), eps=eps))
        a = F.max_pool2d(a, 2)
        a = F.relu(F.conv2d(a, T(wd), T(bd), stride=2, padding=1, groups=4))
        return (a.reshape(a.shape[0], -1) @ T(wf).T + T(bf)).numpy()
    torch_check("cnn_opset17", y, t)

    nodes = [
        helper.make_node("Conv", ["input", "c1.w", "c1.b"], ["c1"], name="/conv1/Conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn.g", "bn.b", "bn.m", "bn.v"], ["bn"], name="/bn1/BatchNormalization",
                         epsilon=eps),
        helper.make_node("Relu", ["bn"], ["r1"], name="/relu1/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="/pool1/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "dw.w", "dw.b"], ["dw"], name="/dw/Conv", kernel_shape=[3, 3], strides=[2, 2],
                         group=4, auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["dw"], ["r2"], name="/relu2/Relu"),
        helper.make_node("Shape", ["r2"], ["shape"], name="/Shape"),
        helper.make_node("Constant", [], ["zero"], name="/Constant", value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["shape", "zero"], ["n"], name="/Gather", axis=0),
        helper.make_node("Constant", [], ["axes"], name="/Constant_1", value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="/Unsqueeze"),
        helper.make_node("Constant", [], ["minus1"], name="/Constant_2", value=numpy_helper.from_array(np.array([-1], np.int64))),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["r2", "target"], ["flat"], name="/Reshape"),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="/fc/Gemm", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="/Softmax", axis=1),
    ]
    inits = [init("c1.w", w1, True), init("c1.b", b1, True), init("bn.g", g, True), init("bn.b", be, True),
             init("bn.m", mu, True), init("bn.v", var, True), init("dw.w", wd, True), init("dw.b", bd, True),
             init("fc.w", wf, True), init("fc.b", bf, True)]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 6, 6])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])], inits)
    save(out, "cnn_opset17", graph, 17, x, y)


def mlp_opset9(out):
    x = RNG.uniform(-1, 1, (4, 12)).astype(np.float32)
    w1, b1 = rand(12, 6), rand(6, scale=0.2)
    w2, b2 = rand(6, 3), rand(3, scale=0.2)
    y = 0.5 * (relu(x @ w1 + b1) @ w2) + 2.0 * b2
    nodes = [
        helper.make_node("MatMul", ["input", "w1"], ["mm"], name="dense/MatMul"),
        helper.make_node("Add", ["mm", "b1"], ["a1"], name="dense/Add"),
        helper.make_node("Clip", ["a1"], ["r1"], name="dense/Clip", min=0.0),
        helper.make_node("Gemm", ["r1", "w2", "b2"], ["g"], name="out/Gemm", alpha=0.5, beta=2.0),
        helper.make_node("Identity", ["g"], ["logits"], name="out/Identity"),
    ]
    inits = [init("w1", w1, False), init("b1", b1, False), init("w2", w2, False), init("b2", b2, False)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 12])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])], inits)
    save(out, "mlp_opset9", graph, 9, x, y)


def residual_opset11(out):
    x = RNG.uniform(0, 3, (3, 3, 5, 5)).astype(np.float32)
    wa, ba = rand(4, 3, 1, 1, scale=1.0), rand(4, scale=0.3)
    wb, bb = rand(4, 4, 3, 3, scale=1.0), rand(4, scale=0.3)
    g, be, mu, var = bn_params(4)
    wf, bf = rand(2, 4 * 2 * 2), rand(2, scale=0.1)
    eps = 1e-5
    a = relu(conv2d(x, wa, ba))
    s = batchnorm(conv2d(a, wb, bb, pads=(1, 1, 1, 1)), g, be, mu, var, eps) + a
    c = np.clip(s, 0, 6)
    assert (s > 6).any() and ((s > 0) & (s < 6)).any(), "the fixture must exercise the cap and the linear part"
    p = pool(c, 2, 2, "avg")                       # 5x5 → 2x2 (the last row and column are not read)
    y = p.reshape(p.shape[0], -1) @ wf.T + bf
    nodes = [
        helper.make_node("Conv", ["input", "a.w", "a.b"], ["ca"], name="/stem/Conv", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["ca"], ["ra"], name="/stem/Relu"),
        helper.make_node("Conv", ["ra", "b.w", "b.b"], ["cb"], name="/block/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["cb", "g", "be", "mu", "var"], ["nb"], name="/block/bn/BatchNormalization",
                         epsilon=eps),
        helper.make_node("Add", ["nb", "ra"], ["sum"], name="/block/Add"),
        helper.make_node("Constant", [], ["lo"], name="/block/lo", value=numpy_helper.from_array(np.array(0, np.float32))),
        helper.make_node("Constant", [], ["hi"], name="/block/hi", value=numpy_helper.from_array(np.array(6, np.float32))),
        helper.make_node("Clip", ["sum", "lo", "hi"], ["r6"], name="/block/Clip"),
        helper.make_node("Dropout", ["r6"], ["d"], name="/drop/Dropout"),
        helper.make_node("AveragePool", ["d"], ["p"], name="/pool/AveragePool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="/Flatten", axis=1),
        helper.make_node("Constant", [], ["fb"], name="/fc/bias", value=numpy_helper.from_array(bf)),
        helper.make_node("Gemm", ["f", "fc.w", "fb"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    inits = [init("a.w", wa, True), init("a.b", ba, True), init("b.w", wb, False), init("b.b", bb, False),
             init("g", g, True), init("be", be, True), init("mu", mu, True), init("var", var, True),
             init("fc.w", wf, True)]
    graph = helper.make_graph(nodes, "residual", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 5, 5])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])], inits)
    save(out, "residual_opset11", graph, 11, x, y)


def gap_opset13(out):
    x = RNG.uniform(0, 1, (2, 2, 4, 4)).astype(np.float32)
    w, b = rand(5, 2, 3, 3), rand(5, scale=0.1)
    wf, bf = rand(3, 5), rand(3, scale=0.1)
    h = relu(conv2d(x, w, b)).mean(axis=(2, 3))
    y = h @ wf.T + bf
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["c"], name="/conv/Conv", kernel_shape=[3, 3], auto_pad="VALID"),
        helper.make_node("Relu", ["c"], ["r"], name="/relu/Relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="/gap/GlobalAveragePool"),
        helper.make_node("Constant", [], ["shape"], name="/Constant", value=numpy_helper.from_array(np.array([0, -1], np.int64))),
        helper.make_node("Reshape", ["g", "shape"], ["f"], name="/Reshape"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    inits = [init("w", w, True), init("b", b, True), init("fc.w", wf, True), init("fc.b", bf, True)]
    graph = helper.make_graph(nodes, "gap", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 4, 4])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], inits)
    save(out, "gap_opset13", graph, 13, x, y)


def unsupported_op(out):
    nodes = [
        helper.make_node("Gemm", ["input", "w1", "b1"], ["h"], name="/head/fc/Gemm", transB=1),
        helper.make_node("Sigmoid", ["h"], ["s"], name="head/act"),
        helper.make_node("Gemm", ["s", "w2", "b2"], ["logits"], name="/out/Gemm", transB=1),
    ]
    inits = [init("w1", rand(3, 4), True), init("b1", rand(3), True), init("w2", rand(2, 3), True), init("b2", rand(2), True)]
    graph = helper.make_graph(nodes, "unsupported", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])], inits)
    save(out, "unsupported_op", graph, 13, None, None)


def concat_op(out):
    nodes = [
        helper.make_node("Conv", ["input", "wa"], ["a"], name="/a/Conv", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["a"], ["ra"], name="/a/Relu"),
        helper.make_node("Conv", ["input", "wb"], ["b"], name="/b/Conv", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["b"], ["rb"], name="/b/Relu"),
        helper.make_node("Concat", ["ra", "rb"], ["c"], name="merge", axis=2),
        helper.make_node("GlobalAveragePool", ["c"], ["g"], name="/gap/GlobalAveragePool"),
        helper.make_node("Flatten", ["g"], ["f"], name="/Flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    inits = [init("wa", rand(2, 2, 1, 1), True), init("wb", rand(2, 2, 1, 1), True), init("fc.w", rand(2, 2), True),
             init("fc.b", rand(2), True)]
    graph = helper.make_graph(nodes, "concat", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 3, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])], inits)
    save(out, "concat_op", graph, 13, None, None)


def concat_bn(out):
    g, be, mu, var = bn_params(4)
    nodes = [
        helper.make_node("Conv", ["input", "wa"], ["a"], name="/a/Conv", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["a"], ["ra"], name="/a/Relu"),
        helper.make_node("Conv", ["input", "wb"], ["b"], name="/b/Conv", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["b"], ["rb"], name="/b/Relu"),
        helper.make_node("Concat", ["ra", "rb"], ["c"], name="merge", axis=1),
        helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["n"], name="/bn/BatchNormalization"),
        helper.make_node("GlobalAveragePool", ["n"], ["p"], name="/gap/GlobalAveragePool"),
        helper.make_node("Flatten", ["p"], ["f"], name="/Flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    inits = [init("wa", rand(2, 2, 1, 1), True), init("wb", rand(2, 2, 1, 1), True), init("g", g, True),
             init("be", be, True), init("mu", mu, True), init("var", var, True), init("fc.w", rand(2, 4), True),
             init("fc.b", rand(2), True)]
    graph = helper.make_graph(nodes, "concat_bn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 3, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])], inits)
    save(out, "concat_bn", graph, 13, None, None)


def concat_torch(out):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_a = nn.Conv2d(2, 3, 3, padding=1)
            self.conv_b = nn.Conv2d(2, 2, 1)
            self.conv_c = nn.Conv2d(5, 4, 3, padding=1)
            self.fc1 = nn.Linear(54, 4)
            self.fc2 = nn.Linear(54, 3)
            self.out = nn.Linear(7, 3)

        def forward(self, x):
            a = F.relu(self.conv_a(x))
            b = F.relu(self.conv_b(x))
            d = F.relu(self.conv_c(torch.cat([a, b], dim=1)))
            p = F.max_pool2d(torch.cat([d, b], dim=1), 2)
            f = torch.flatten(p, 1)
            return self.out(torch.cat([F.relu(self.fc1(f)), F.relu(self.fc2(f))], dim=1))

    torch.manual_seed(20)
    net = Net().eval()
    with torch.no_grad():
        for m in (net.conv_a, net.conv_b, net.conv_c):  # biases up, so that most units fire
            m.bias.uniform_(0.0, 0.2)
    x = RNG.uniform(0, 1, (8, 2, 6, 6)).astype(np.float32)
    with torch.no_grad():
        # Logits centred on x: random weights otherwise put every sample in one class.
        net.out.bias -= net(torch.from_numpy(x)).mean(dim=0)
        y = net(torch.from_numpy(x)).numpy()
    path = os.path.join(out, "concat_torch.onnx")
    torch.onnx.export(net, torch.from_numpy(x[:1]), path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert ops.count("Concat") == 3, ops
    assert len(set(y.argmax(axis=1))) > 1, "the reference's classes must differ"
    with h5py.File(os.path.join(out, "concat_torch.ref.h5"), "w") as f:
        f["x"] = x
        f["y"] = y.astype(np.float32)
        f.attrs["note"] = "y = PyTorch's output of the module exported to concat_torch.onnx (tools/make_onnx_fixtures.py)"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data", "fixtures", "onnx")
    os.makedirs(out, exist_ok=True)
    for make in (cnn_opset17, mlp_opset9, residual_opset11, gap_opset13, unsupported_op, concat_op, concat_bn, concat_torch):
        make(out)
    print("wrote ONNX fixtures to %s" % out)


if __name__ == "__main__":
    main()
