#!/usr/bin/env python3
"""Train the reference DNNs (PyTorch, CPU) and export them as Keras legacy .h5.

    /usr/bin/python3 tools/train_reference.py [--out data/models] [--epochs N] [--only NAME]

Models (see data/models/README.md): mnist_mlp, mnist_cnn, mnist_cnn_bn_maxpool,
fashion_cnn, mnist_bcnn (binary weights, written as Larq QuantConv2D / QuantDense),
mnist_mobilenet (DepthwiseConv2D + pointwise 1x1 Conv2D blocks, GlobalAveragePooling2D),
mnist_mobilenet_relu6 (the same with ReLU(max_value=6) layers, as Keras' MobileNet),
mnist_cs_mlp (an MLP on rd = --cs-rd Rademacher measurements of the image, 002's DR;
the stage is recorded as root attributes snn_input_stage*, docs/compressive-sensing.md;
with --cs-prune R its two hidden layers are trained with the random connectivity that
`snn convert --prune dense=random:R,dense_1=random:R --prune-seed --cs-prune-seed` keeps),
mnist_dr_mlp (the same topology on the raw 784 pixels: 002's unconstrained network),
mnist_idp_mlp / mnist_idp_mlp_std (003's incomplete dot products with the linear and the
all-one profile, root attribute snn_idp_profile, docs/dynamic-cost.md), mnist_idp_cnn
(the shipped CNN's topology with the linear profile), mnist_idp_mlp_2p (the linear MLP with
003's two profiles, 0-30 % and 30-100 %, root attribute snn_idp_ranges and groups
snn_idp_variants), mnist_cnn_joint_exit (mnist_cnn
with an exit head on pool1, trained jointly with 001's exit weight 0.6; Functional) and
mnist_cnn_holdout (its twin without the head), both on mnist:train[0:55000] only.
Each is built so that it maps 1:1 onto Keras layers (channels-last
flatten, Keras weight layouts, BN eps 1e-3); after export the .h5 is re-read and
run through the independent numpy forward pass in tools/keras_h5.py on the full
10k test set, which must agree with torch on >= 99.9 % of the argmaxes.

Inputs are uint8/255 pixels in [0, 1], shape (N, 28, 28, 1); no other normalisation.
"""

import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_h5 as kh  # noqa: E402
import rademacher_reference as rr  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 1234
BATCH = 128
BN_EPS = 1e-3
BN_TORCH_MOMENTUM = 0.1          # Keras momentum = 1 - torch momentum


# ----------------------------------------------------------------- data


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path = path + ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    if (magic >> 8) != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_dataset(name):
    d = os.path.join(ROOT, "data", "datasets", name)

    def part(prefix):
        x = read_idx(os.path.join(d, prefix + "-images-idx3-ubyte"))
        y = read_idx(os.path.join(d, prefix + "-labels-idx1-ubyte"))
        return (x.astype(np.float32) / 255.0)[..., None], y.astype(np.int64)
    return part("train"), part("t10k")


# ----------------------------------------------------------------- models


class NHWCFlatten(nn.Module):
    """Flatten in Keras channels-last order: NCHW -> NHWC -> (N, H*W*C)."""

    def forward(self, x):
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return x.reshape(x.shape[0], -1)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = NHWCFlatten()
        self.dense = nn.Linear(784, 512)
        self.dropout = nn.Dropout(0.2)
        self.dense_1 = nn.Linear(512, 10)

    def forward(self, x):
        return self.dense_1(self.dropout(F.relu(self.dense(self.flatten(x)))))

    def keras_layers(self):
        return [kh.input_layer("input_1", (28, 28, 1)),
                kh.flatten("flatten"),
                linear_to_dense("dense", self.dense, "relu"),
                kh.dropout("dropout", 0.2),
                linear_to_dense("dense_1", self.dense_1, "softmax")]


class CSMLP(nn.Module):
    """002's DR topology on compressive-sensing measurements (docs/compressive-sensing.md):
    y = Phi x (Phi: rd x 784 Rademacher, +-1/sqrt(rd), drawn from the seed by
    tools/rademacher_reference.py, fixed) -> Dense rd relu -> Dense 32 relu -> Dense 10.
    002 uses softsign after the 32-unit layer; relu here, which converts to an SNN.
    The .h5 holds the MLP only (input (rd,)) and the stage as root attributes."""

    def __init__(self, rd, seed, cp=0.0, cp_seed=1):
        super().__init__()
        self.rd, self.seed = rd, seed
        self.flatten = NHWCFlatten()
        self.register_buffer("phi", torch.from_numpy(rr.phi(seed, rd, 784).astype(np.float32)))
        self.dense = nn.Linear(rd, rd)
        self.dense_1 = nn.Linear(rd, 32)
        self.dense_2 = nn.Linear(32, 10)
        # --cs-prune R: 002's CP, the two hidden layers trained with a fixed random
        # connectivity. The removed weights are the ones `snn convert --prune
        # dense=random:R,dense_1=random:R --prune-seed cp_seed` removes (the
        # selection of tools/prune_reference.py for populations 1 and 2 of the
        # converted network, projection 0, over the (in, out) kernel), so that
        # pruning the converted network removes only weights that are 0 already.
        self.masks = []
        if cp > 0:
            import prune_reference as pr
            for pop, lin in ((1, self.dense), (2, self.dense_1)):
                n_out, n_in = lin.weight.shape
                n = n_in * n_out
                keep = np.ones(n, dtype=np.float32)
                keep[pr.random_removed(n, int(np.floor(cp * n + 0.5)), pr.stream(cp_seed, pop, 0))] = 0
                mask = torch.from_numpy(np.ascontiguousarray(keep.reshape(n_in, n_out).T))
                self.register_buffer("mask_%d" % pop, mask)
                self.masks.append((lin, mask))
            self.after_step()

    def after_step(self):
        """Keeps the pruned weights at exactly 0 after every optimizer step."""
        with torch.no_grad():
            for lin, mask in self.masks:
                lin.weight.mul_(mask)

    def forward(self, x):
        y = self.flatten(x) @ self.phi.t()
        return self.dense_2(F.relu(self.dense_1(F.relu(self.dense(y)))))

    def reference_input(self, x_nhwc):
        """The measurements the numpy check feeds the .h5's MLP: Phi x in float64."""
        return x_nhwc.reshape(x_nhwc.shape[0], -1).astype(np.float64) @ rr.phi(self.seed, self.rd, 784).T

    def h5_attrs(self):
        return {"snn_input_stage": "rademacher", "snn_input_stage_seed": np.int64(self.seed),
                "snn_input_stage_rd": np.int64(self.rd),
                "snn_input_stage_raw_shape": np.array([28, 28, 1], dtype=np.int64)}

    def keras_layers(self):
        return [kh.input_layer("input_1", (self.rd,)),
                linear_to_dense("dense", self.dense, "relu"),
                linear_to_dense("dense_1", self.dense_1, "relu"),
                linear_to_dense("dense_2", self.dense_2, "softmax")]


class DRMLP(nn.Module):
    """002's topology without the DR stage (its "original" network, the reference of
    Fig. 2): the raw 784 pixels -> Dense 784 relu -> Dense 32 relu -> Dense 10, the
    same layers as CSMLP with rd = 784 and no projection (relu for softsign, as there)."""

    def __init__(self):
        super().__init__()
        self.flatten = NHWCFlatten()
        self.dense = nn.Linear(784, 784)
        self.dense_1 = nn.Linear(784, 32)
        self.dense_2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.dense_2(F.relu(self.dense_1(F.relu(self.dense(self.flatten(x))))))

    def keras_layers(self):
        return mlp3_keras_layers(self)


class IDPMLP(nn.Module):
    """003's incomplete-dot-product MLP (docs/dynamic-cost.md): Dense 256 relu ->
    Dense 256 relu -> Dense 10. The two layers after the first are IDP layers: their
    input channels are multiplied by the profile's gamma (tools/keras_h5.py:
    idp_coefficients, 003 section II-B), and with a profile other than all-one
    every training batch keeps only the first ceil(P*N/100) of them, P drawn per
    batch from 10, 20, ..., 100 %. The all-one model trains as a standard network
    (no channels dropped), 003's baseline. The .h5 holds the trained w (not
    gamma*w) and names the profile in the root attribute snn_idp_profile, which
    snn convert folds into the weights."""

    def __init__(self, profile, width=256):
        super().__init__()
        self.profile = profile
        self.flatten = NHWCFlatten()
        self.dense = nn.Linear(784, width)
        self.dense_1 = nn.Linear(width, width)
        self.dense_2 = nn.Linear(width, 10)
        self.register_buffer("gamma", torch.from_numpy(kh.idp_coefficients(profile, width)))
        self.percent = None            # evaluation: keep every channel unless set
        self.gen = torch.Generator().manual_seed(SEED + 1)

    def _profiled(self, h, percent):
        g = self.gamma
        if percent is not None:
            k = max(1, min(g.numel(), int(np.ceil(percent * g.numel() / 100.0))))
            g = g.clone()
            g[k:] = 0
        return h * g

    def forward(self, x):
        percent = self.percent
        if self.training and self.profile != "all-one":
            percent = 10 * int(torch.randint(1, 11, (1,), generator=self.gen))
        h = self._profiled(F.relu(self.dense(self.flatten(x))), percent)
        h = self._profiled(F.relu(self.dense_1(h)), percent)
        return self.dense_2(h)

    def h5_attrs(self):
        return {"snn_idp_profile": self.profile}

    def keras_layers(self):
        return mlp3_keras_layers(self)


class IDPMLP2P(IDPMLP):
    """003 section III's multiple profiles on the linear-profile IDP MLP: profile 1 covers
    0-SPLIT % IDP, profile 2 SPLIT-100 %. Each has its own first layer (784 -> 256) and last
    layer (256 -> 10); dense_1, the IDP layer between them, is shared. Training runs in two
    stages of half the steps each: profile 1 alone (P drawn from 10, 20, 30 % per batch),
    then profile 2 (P from 40 ... 100 %) with every weight profile 1 uses held fixed (dense_1's
    first ceil(SPLIT*256/100) rows and columns and their biases, profile 1's own layers), so
    that a single set of weights serves both. The .h5 holds profile 2 as the model's own
    weights, profile 1's first and last layer under snn_idp_variants/0/, and the ranges
    [SPLIT, 100] in the root attribute snn_idp_ranges."""

    SPLIT = 30

    def __init__(self, width=256):
        super().__init__("linear", width)
        self.dense_p1 = nn.Linear(784, width)
        self.dense_2_p1 = nn.Linear(width, 10)
        self.total_steps = None
        self.step = 0
        self.frozen = None
        self.k1 = int(np.ceil(self.SPLIT * width / 100.0))

    def set_schedule(self, total_steps):
        self.total_steps = total_steps

    def stage(self):
        return 1 if self.total_steps is None or self.step < self.total_steps // 2 else 2

    def forward(self, x):
        percent = self.percent
        if self.training:
            if self.stage() == 2 and self.frozen is None:
                self.snapshot()    # stage 2's first batch: hold what profile 1 learned from here on
            lo, hi = (1, self.SPLIT // 10) if self.stage() == 1 else (self.SPLIT // 10 + 1, 10)
            percent = 10 * int(torch.randint(lo, hi + 1, (1,), generator=self.gen))
        first_profile = percent is not None and percent <= self.SPLIT
        first, last = (self.dense_p1, self.dense_2_p1) if first_profile else (self.dense, self.dense_2)
        h = self._profiled(F.relu(first(self.flatten(x))), percent)
        h = self._profiled(F.relu(self.dense_1(h)), percent)
        return last(h)

    def after_step(self):
        """Restores profile 1's weights after every stage-2 step: Adam's momentum would move them."""
        self.step += 1
        if self.frozen is None:
            return
        k = self.k1
        with torch.no_grad():
            self.dense_1.weight[:k, :k] = self.frozen["w"]
            self.dense_1.bias[:k] = self.frozen["b"]
            for name in ("dense_p1", "dense_2_p1"):
                for pn, pv in getattr(self, name).named_parameters():
                    pv.copy_(self.frozen[name + "." + pn])

    def snapshot(self):
        """Called once when stage 2 begins (before its first step)."""
        k = self.k1
        self.frozen = {"w": self.dense_1.weight[:k, :k].detach().clone(), "b": self.dense_1.bias[:k].detach().clone()}
        for name in ("dense_p1", "dense_2_p1"):
            for pn, pv in getattr(self, name).named_parameters():
                self.frozen[name + "." + pn] = pv.detach().clone()

    def h5_attrs(self):
        return {"snn_idp_profile": self.profile, "snn_idp_ranges": np.array([self.SPLIT, 100], dtype=np.int64)}

    def h5_extra(self, f):
        g = f.create_group("snn_idp_variants/0")
        for keras_name, lin in (("dense", self.dense_p1), ("dense_2", self.dense_2_p1)):
            lg = g.create_group(keras_name)
            lg["kernel"] = _np(lin.weight).T          # (in, out), as the model's own Dense kernels
            lg["bias"] = _np(lin.bias)


class IDPCNN(nn.Module):
    """003's incomplete dot products on the shipped CNN's topology (AvgCNN): conv2 and
    dense are the IDP layers, their input channels (conv1's 16, conv2's 32; for the
    dense after the channels-last flatten, channel = unit mod 32) multiplied by the
    profile's gamma, and, with a profile other than all-one, only the first
    ceil(P*C/100) kept per training batch, P drawn from 10, 20, ..., 100 %, as for
    IDPMLP. The .h5 holds the trained w and the root attribute snn_idp_profile."""

    def __init__(self, profile):
        super().__init__()
        self.profile = profile
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.flatten = NHWCFlatten()
        self.dense = nn.Linear(5 * 5 * 32, 10)
        self.register_buffer("g1", torch.from_numpy(kh.idp_coefficients(profile, 16)).view(1, 16, 1, 1))
        self.register_buffer("g2", torch.from_numpy(kh.idp_coefficients(profile, 32)).view(1, 32, 1, 1))
        self.percent = None            # evaluation: keep every channel unless set
        self.gen = torch.Generator().manual_seed(SEED + 1)

    @staticmethod
    def _profiled(h, g, percent):
        if percent is not None:
            k = max(1, min(g.numel(), int(np.ceil(percent * g.numel() / 100.0))))
            g = g.clone()
            g[:, k:] = 0
        return h * g

    def forward(self, x):
        percent = self.percent
        if self.training and self.profile != "all-one":
            percent = 10 * int(torch.randint(1, 11, (1,), generator=self.gen))
        x = self._profiled(F.avg_pool2d(F.relu(self.conv1(x)), 2), self.g1, percent)
        x = self._profiled(F.avg_pool2d(F.relu(self.conv2(x)), 2), self.g2, percent)
        return self.dense(self.flatten(x))

    def h5_attrs(self):
        return {"snn_idp_profile": self.profile}

    def keras_layers(self):
        return [kh.input_layer("input_1", (28, 28, 1)),
                conv_to_keras("conv1", self.conv1, "valid", "relu"),
                kh.pool2d("AveragePooling2D", "pool1", 2),
                conv_to_keras("conv2", self.conv2, "valid", "relu"),
                kh.pool2d("AveragePooling2D", "pool2", 2),
                kh.flatten("flatten"),
                linear_to_dense("dense", self.dense, "softmax")]


class AvgCNN(nn.Module):
    """conv1 16@5x5 valid -> avgpool -> conv2 32@3x3 valid -> avgpool -> dense 10."""

    def __init__(self, drop=0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.flatten = NHWCFlatten()
        self.drop = drop
        self.dropout = nn.Dropout(drop)
        self.dense = nn.Linear(5 * 5 * 32, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.conv1(x)), 2)
        x = F.avg_pool2d(F.relu(self.conv2(x)), 2)
        return self.dense(self.dropout(self.flatten(x)))

    def keras_layers(self):
        layers = [kh.input_layer("input_1", (28, 28, 1)),
                  conv_to_keras("conv1", self.conv1, "valid", "relu"),
                  kh.pool2d("AveragePooling2D", "pool1", 2),
                  conv_to_keras("conv2", self.conv2, "valid", "relu"),
                  kh.pool2d("AveragePooling2D", "pool2", 2),
                  kh.flatten("flatten")]
        if self.drop > 0:
            layers.append(kh.dropout("dropout", self.drop))
        layers.append(linear_to_dense("dense", self.dense, "softmax"))
        return layers


class JointExitCNN(AvgCNN):
    """AvgCNN with an early exit on pool1 (Flatten -> Dense 10), trained jointly as in
    001 section II-B-2: loss = 0.6 * CE(exit) + 0.4 * CE(final), the exit's weight the
    paper's lambda for an early exit. Exported as a Keras Functional model with two
    outputs; snn convert imports the head as an exit at pool1 (docs/exits.md). Its
    separately optimized twin is mnist_cnn (the same topology and recipe, no head)
    with `snn exits train --at pool1`."""

    EXIT_WEIGHT = 0.6

    def __init__(self):
        super().__init__()
        self.exit1 = nn.Linear(12 * 12 * 16, 10)
        self.exit_logits = None

    def forward(self, x):
        p1 = F.avg_pool2d(F.relu(self.conv1(x)), 2)
        self.exit_logits = self.exit1(self.flatten(p1))
        x = F.avg_pool2d(F.relu(self.conv2(p1)), 2)
        return self.dense(self.flatten(x))

    def loss(self, x, y):
        final = F.cross_entropy(self(x), y)
        return self.EXIT_WEIGHT * F.cross_entropy(self.exit_logits, y) + (1 - self.EXIT_WEIGHT) * final

    def functional(self):
        return True

    def keras_layers(self):
        w = kh.with_inbound
        return [kh.input_layer("input_1", (28, 28, 1)),
                w(conv_to_keras("conv1", self.conv1, "valid", "relu"), "input_1"),
                w(kh.pool2d("AveragePooling2D", "pool1", 2), "conv1"),
                w(conv_to_keras("conv2", self.conv2, "valid", "relu"), "pool1"),
                w(kh.pool2d("AveragePooling2D", "pool2", 2), "conv2"),
                w(kh.flatten("flatten"), "pool2"),
                w(linear_to_dense("dense", self.dense, "softmax"), "flatten"),
                w(kh.flatten("exit1_flatten"), "pool1"),
                w(linear_to_dense("exit1", self.exit1, "softmax"), "exit1_flatten")]


class BNCNN(nn.Module):
    def __init__(self, drop=0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16, eps=BN_EPS, momentum=BN_TORCH_MOMENTUM)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32, eps=BN_EPS, momentum=BN_TORCH_MOMENTUM)
        self.flatten = NHWCFlatten()
        self.fc1 = nn.Linear(7 * 7 * 32, 128)
        self.drop = drop
        self.dropout = nn.Dropout(drop)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.dropout(F.relu(self.fc1(self.flatten(x))))
        return self.out(x)

    def keras_layers(self):
        return [kh.input_layer("input_1", (28, 28, 1)),
                conv_to_keras("conv1", self.conv1, "same", "linear"),
                bn_to_keras("bn1", self.bn1),
                kh.activation("relu1", "relu"),
                kh.pool2d("MaxPooling2D", "pool1", 2),
                conv_to_keras("conv2", self.conv2, "same", "linear"),
                bn_to_keras("bn2", self.bn2),
                kh.activation("relu2", "relu"),
                kh.pool2d("MaxPooling2D", "pool2", 2),
                kh.flatten("flatten"),
                linear_to_dense("fc1", self.fc1, "relu"),
                kh.dropout("dropout", self.drop),
                linear_to_dense("out", self.out, "softmax")]


def tf_same_pad(x, k, s):
    """Zero-pad an NCHW tensor as TensorFlow's padding="same" does for a k x k window
    at stride s: total max((ceil(H/s) - 1) * s + k - H, 0), the odd pixel at the
    bottom / right (torch's symmetric padding= differs at stride 2)."""
    def pads(size):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    top, bottom = pads(x.shape[2])
    left, right = pads(x.shape[3])
    return F.pad(x, (left, right, top, bottom))


class SameConv2d(nn.Conv2d):
    """Conv2d with Keras padding="same" (TF-style, see tf_same_pad); no bias by default
    (it is followed by BN, as in Keras' MobileNet). ``groups=in_channels`` makes it a
    depthwise conv (Keras DepthwiseConv2D, depth_multiplier out_channels / in_channels)."""

    def __init__(self, cin, cout, k, stride=1, groups=1, bias=False):
        super().__init__(cin, cout, k, stride=stride, padding=0, groups=groups, bias=bias)

    def forward(self, x):
        return super().forward(tf_same_pad(x, self.kernel_size[0], self.stride[0]))


class MobileNet(nn.Module):
    """MobileNet-style CNN: conv1 Conv2D 16@3x3 stride 2 same -> BN -> relu, then three
    depthwise-separable blocks (DepthwiseConv2D 3x3 same, no bias -> BN -> relu ->
    Conv2D 1x1 no bias -> BN -> relu), widths 32, 64, 64, strides 1, 2, 1
    (28 -> 14 -> 14 -> 7 -> 7), then GlobalAveragePooling2D -> Dense 10 softmax.
    Written as Keras layers named as Keras' MobileNet names them (conv1, conv1_bn,
    conv1_relu, conv_dw_N, conv_dw_N_bn, conv_dw_N_relu, conv_pw_N, ...)."""

    BLOCKS = ((32, 1), (64, 2), (64, 1))      # (pointwise width, depthwise stride)

    def __init__(self, width=16, relu6=False):
        super().__init__()
        self.relu6 = relu6            # ReLU(max_value=6) layers, as Keras' MobileNet has
        self.conv1 = SameConv2d(1, width, 3, stride=2)
        self.conv1_bn = nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_TORCH_MOMENTUM)
        self.dw, self.dw_bn, self.pw, self.pw_bn = (nn.ModuleList() for _ in range(4))
        cin = width
        for cout, stride in self.BLOCKS:
            self.dw.append(SameConv2d(cin, cin, 3, stride=stride, groups=cin))
            self.dw_bn.append(nn.BatchNorm2d(cin, eps=BN_EPS, momentum=BN_TORCH_MOMENTUM))
            self.pw.append(nn.Conv2d(cin, cout, 1, bias=False))
            self.pw_bn.append(nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_TORCH_MOMENTUM))
            cin = cout
        self.out = nn.Linear(cin, 10)

    def forward(self, x):
        act = F.relu6 if self.relu6 else F.relu
        x = act(self.conv1_bn(self.conv1(x)))
        for dw, dw_bn, pw, pw_bn in zip(self.dw, self.dw_bn, self.pw, self.pw_bn):
            x = act(dw_bn(dw(x)))
            x = act(pw_bn(pw(x)))
        return self.out(x.mean(dim=(2, 3)))

    def _act(self, name):
        return kh.relu(name, max_value=6) if self.relu6 else kh.activation(name, "relu")

    def keras_layers(self):
        layers = [kh.input_layer("input_1", (28, 28, 1)),
                  conv_to_keras("conv1", self.conv1, "same", "linear"),
                  bn_to_keras("conv1_bn", self.conv1_bn),
                  self._act("conv1_relu")]
        for i, (dw, dw_bn, pw, pw_bn) in enumerate(zip(self.dw, self.dw_bn, self.pw, self.pw_bn)):
            n = i + 1
            layers += [depthwise_to_keras("conv_dw_%d" % n, dw, "same", "linear"),
                       bn_to_keras("conv_dw_%d_bn" % n, dw_bn),
                       self._act("conv_dw_%d_relu" % n),
                       conv_to_keras("conv_pw_%d" % n, pw, "valid", "linear"),
                       bn_to_keras("conv_pw_%d_bn" % n, pw_bn),
                       self._act("conv_pw_%d_relu" % n)]
        layers += [kh.global_average_pooling("gap"),
                   linear_to_dense("out", self.out, "softmax")]
        return layers


class SteSign(torch.autograd.Function):
    """Larq's ste_sign: forward sign(w) with sign(0) = +1; backward straight
    through, zeroed where |w| > clip_value (Larq's default clip_value 1.0)."""

    @staticmethod
    def forward(ctx, w, clip_value=1.0):
        ctx.save_for_backward(w)
        ctx.clip_value = clip_value
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= ctx.clip_value).to(grad.dtype), None


class BinaryConv2d(nn.Conv2d):
    """Larq QuantConv2D(kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
    input_quantizer=None, use_bias=False): the latent weight is a float in [-1, 1]."""

    def __init__(self, cin, cout, k):
        super().__init__(cin, cout, k, bias=False)

    def forward(self, x):
        return F.conv2d(x, SteSign.apply(self.weight), None, self.stride, self.padding)


class BinaryLinear(nn.Linear):
    """Larq QuantDense(kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
    input_quantizer=None, use_bias=False)."""

    def __init__(self, fin, fout):
        super().__init__(fin, fout, bias=False)

    def forward(self, x):
        return F.linear(x, SteSign.apply(self.weight))


class BCNN(nn.Module):
    """Binary-weight CNN (weights of conv2 and fc1 in {-1, +1}; activations float):
    conv1 16@5x5 relu -> avgpool -> QuantConv2D 64@3x3 -> BN -> relu -> avgpool ->
    QuantDense 256 -> BN -> relu -> dropout -> dense 10 softmax."""

    def __init__(self, drop=0.2, float_lr=2e-3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.conv2 = BinaryConv2d(16, 64, 3)
        self.bn2 = nn.BatchNorm2d(64, eps=BN_EPS, momentum=BN_TORCH_MOMENTUM)
        self.flatten = NHWCFlatten()
        self.fc1 = BinaryLinear(5 * 5 * 64, 256)
        self.bn3 = nn.BatchNorm1d(256, eps=BN_EPS, momentum=BN_TORCH_MOMENTUM)
        self.drop = drop
        self.dropout = nn.Dropout(drop)
        self.out = nn.Linear(256, 10)
        self.float_lr = float_lr
        # Keras/Larq initialise the latent kernels glorot-uniform.
        for m in (self.conv2, self.fc1):
            nn.init.xavier_uniform_(m.weight)

    def binary_params(self):
        return [self.conv2.weight, self.fc1.weight]

    def param_groups(self):
        """Latent binary weights at the optimizer's lr (SPECS), the rest at float_lr."""
        ids = {id(p) for p in self.binary_params()}
        return [{"params": self.binary_params()},
                {"params": [p for p in self.parameters() if id(p) not in ids], "lr": self.float_lr}]

    def after_step(self):
        with torch.no_grad():                       # Larq's weight_clip constraint
            for p in self.binary_params():
                p.clamp_(-1.0, 1.0)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.conv1(x)), 2)
        x = F.avg_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.dropout(F.relu(self.bn3(self.fc1(self.flatten(x)))))
        return self.out(x)

    def keras_layers(self):
        conv2_kernel = _np(self.conv2.weight).transpose(2, 3, 1, 0)              # (kh, kw, in, out)
        fc1_kernel = _np(self.fc1.weight).T                                       # (in, out)
        return [kh.input_layer("input_1", (28, 28, 1)),
                conv_to_keras("conv1", self.conv1, "valid", "relu"),
                kh.pool2d("AveragePooling2D", "pool1", 2),
                kh.quant_conv2d("conv2", conv2_kernel, None, padding="valid", activation="linear",
                                quantizer_name="ste_sign"),
                bn_to_keras("bn2", self.bn2),
                kh.activation("relu2", "relu"),
                kh.pool2d("AveragePooling2D", "pool2", 2),
                kh.flatten("flatten"),
                kh.quant_dense("fc1", fc1_kernel, None, activation="linear",
                               quantizer_name="ste_sign_1"),
                bn_to_keras("bn3", self.bn3, axis=1),
                kh.activation("relu3", "relu"),
                kh.dropout("dropout", self.drop),
                linear_to_dense("out", self.out, "softmax")]


# ----------------------------------------------------------------- torch -> keras


def _np(t):
    return t.detach().cpu().numpy().astype(np.float32)


def mlp3_keras_layers(m):
    """Flatten -> dense relu -> dense_1 relu -> dense_2 softmax (DRMLP, IDPMLP)."""
    return [kh.input_layer("input_1", (28, 28, 1)),
            kh.flatten("flatten"),
            linear_to_dense("dense", m.dense, "relu"),
            linear_to_dense("dense_1", m.dense_1, "relu"),
            linear_to_dense("dense_2", m.dense_2, "softmax")]


def linear_to_dense(name, lin, act):
    return kh.dense(name, _np(lin.weight).T, _np(lin.bias), activation=act)      # (in, out)


def _check_padding(conv, padding):
    k = conv.kernel_size
    if isinstance(conv, SameConv2d):                # pads TF-style itself: any stride
        assert padding == "same" and conv.padding == (0, 0)
    elif padding == "same":
        assert conv.stride == (1, 1) and k[0] % 2 == 1 and conv.padding == (k[0] // 2, k[1] // 2)
    else:
        assert conv.padding == (0, 0)


def conv_to_keras(name, conv, padding, act):
    _check_padding(conv, padding)
    assert conv.groups == 1
    kernel = _np(conv.weight).transpose(2, 3, 1, 0)                              # (kh, kw, in, out)
    bias = None if conv.bias is None else _np(conv.bias)
    return kh.conv2d(name, kernel, bias, strides=conv.stride, padding=padding, activation=act)


def depthwise_to_keras(name, conv, padding, act):
    """torch conv with groups=in_channels -> Keras DepthwiseConv2D. torch's weight is
    (in * dm, 1, kh, kw) with output channel c * dm + m reading input channel c, which is
    Keras' channel order; the Keras depthwise_kernel is (kh, kw, in, dm)."""
    _check_padding(conv, padding)
    cin = conv.in_channels
    assert conv.groups == cin and conv.out_channels % cin == 0
    dm = conv.out_channels // cin
    kh_, kw_ = conv.kernel_size
    kernel = _np(conv.weight).reshape(cin, dm, kh_, kw_).transpose(2, 3, 0, 1)   # (kh, kw, in, dm)
    bias = None if conv.bias is None else _np(conv.bias)
    return kh.depthwise_conv2d(name, kernel, bias, strides=conv.stride, padding=padding,
                               activation=act)


def bn_to_keras(name, bn, axis=3):
    return kh.batch_norm(name, _np(bn.weight), _np(bn.bias), _np(bn.running_mean),
                         _np(bn.running_var), epsilon=bn.eps, momentum=1.0 - bn.momentum,
                         axis=axis)


# ----------------------------------------------------------------- training


SPECS = {
    # name: (dataset, model factory, default epochs, Adam peak learning rate)
    # The tiny average-pooling CNNs underfit at 1e-3 within a few epochs.
    "mnist_mlp": ("mnist", lambda: MLP(), 10, 1e-3),
    "mnist_cnn": ("mnist", lambda: AvgCNN(), 10, 4e-3),
    "mnist_cnn_bn_maxpool": ("mnist", lambda: BNCNN(drop=0.3), 6, 1e-3),
    "fashion_cnn": ("fashion-mnist", lambda: AvgCNN(), 12, 4e-3),
    # Binary-weight (Larq-style) CNN: lr here is the latent binary weights' peak lr;
    # the full-precision layers and BN use BCNN.float_lr.
    "mnist_bcnn": ("mnist", lambda: BCNN(), 4, 1e-2),
    # MobileNet-style (DepthwiseConv2D + 1x1 Conv2D blocks, BN, GlobalAveragePooling2D).
    "mnist_mobilenet": ("mnist", lambda: MobileNet(), 4, 4e-3),
    # The same with ReLU(max_value=6) layers, as Keras' MobileNet has them.
    "mnist_mobilenet_relu6": ("mnist", lambda: MobileNet(relu6=True), 4, 4e-3),
    # 002's DR: an MLP on rd Rademacher measurements (--cs-rd, --cs-seed).
    "mnist_cs_mlp": ("mnist", lambda: CSMLP(CS["rd"], CS["seed"], CS["cp"], CS["cp_seed"]), 4, 2e-3),
    # The same topology on the raw pixels (no DR): 002's unconstrained network.
    "mnist_dr_mlp": ("mnist", lambda: DRMLP(), 4, 2e-3),
    # 003's IDP: the same MLP with the linear profile (P drawn per batch) and as a
    # standard network (all-one profile), docs/dynamic-cost.md.
    "mnist_idp_mlp": ("mnist", lambda: IDPMLP("linear"), 4, 2e-3),
    "mnist_idp_mlp_std": ("mnist", lambda: IDPMLP("all-one"), 4, 2e-3),
    # 003 section III: the linear-profile MLP with two profiles (0-30 %, 30-100 %), each with
    # its own first and last layer, trained in two stages (docs/dynamic-cost.md).
    "mnist_idp_mlp_2p": ("mnist", lambda: IDPMLP2P(), 8, 2e-3),
    # The shipped CNN's topology with the linear profile (its standard twin: mnist_cnn).
    "mnist_idp_cnn": ("mnist", lambda: IDPCNN("linear"), 10, 4e-3),
    # 001's joint optimization: mnist_cnn with an exit head on pool1, loss weighted 0.6 / 0.4,
    # and its twin without the head (exits fitted separately); both held out from the last
    # HOLDOUT training images, their validation split.
    "mnist_cnn_joint_exit": ("mnist", lambda: JointExitCNN(), 10, 4e-3),
    "mnist_cnn_holdout": ("mnist", lambda: AvgCNN(), 10, 4e-3),
}
# Models trained on mnist:train[0:60000-N] only, so that mnist:train[60000-N:60000] is a
# validation split they never saw (snn sweep's exit thresholds are chosen there).
HOLDOUT = {"mnist_cnn_joint_exit": 5000, "mnist_cnn_holdout": 5000}
CS = {"rd": 200, "seed": 1, "cp": 0.0, "cp_seed": 1}      # set by --cs-rd / --cs-seed / --cs-prune / --cs-prune-seed


def to_nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def predict(model, x_nchw):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, x_nchw.shape[0], 1000):
            out.append(model(x_nchw[i:i + 1000]))
    return torch.cat(out).numpy()


def train(name, epochs, out_dir, data_cache):
    dataset, factory, default_epochs, lr = SPECS[name]
    epochs = epochs or default_epochs
    if dataset not in data_cache:
        data_cache[dataset] = load_dataset(dataset)
    (xtr, ytr), (xte, yte) = data_cache[dataset]
    if name in HOLDOUT:
        xtr, ytr = xtr[:-HOLDOUT[name]], ytr[:-HOLDOUT[name]]
        print("  %s: trained on the first %d training images, the last %d held out" % (name, xtr.shape[0], HOLDOUT[name]))
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    model = factory()
    xtr_t, ytr_t, xte_t = to_nchw(xtr), torch.from_numpy(ytr), to_nchw(xte)
    steps_per_epoch = (xtr_t.shape[0] + BATCH - 1) // BATCH
    if hasattr(model, "param_groups"):     # per-group learning rates (mnist_bcnn)
        opt = torch.optim.Adam(model.param_groups(), lr=lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    after_step = getattr(model, "after_step", None)
    if hasattr(model, "set_schedule"):     # staged training (mnist_idp_mlp_2p)
        model.set_schedule(epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(xtr_t.shape[0], generator=gen)
        tot = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * BATCH:(s + 1) * BATCH]
            if hasattr(model, "loss"):     # a joint loss over several outputs (mnist_cnn_joint_exit)
                loss = model.loss(xtr_t[idx], ytr_t[idx])
            else:
                loss = F.cross_entropy(model(xtr_t[idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()
            sched.step()
            tot += loss.item() * idx.shape[0]
        acc = (predict(model, xte_t).argmax(1) == yte).mean()
        print("  %s epoch %d/%d loss %.4f test %.4f (%.0fs)"
              % (name, ep + 1, epochs, tot / xtr_t.shape[0], acc, time.time() - t0), flush=True)
    train_s = time.time() - t0

    torch_pred = predict(model, xte_t).argmax(1)
    torch_acc = float((torch_pred == yte).mean())

    layers = model.keras_layers()
    path = os.path.join(out_dir, name + ".h5")
    functional = hasattr(model, "functional") and model.functional()
    kh.save(path, layers, model_name="model" if functional else "sequential", functional=functional, layout="keras2")
    if hasattr(model, "h5_attrs"):     # the compressive-sensing stage or IDP profile, read by snn convert
        import h5py
        with h5py.File(path, "a") as f:
            for k, v in model.h5_attrs().items():
                f.attrs[k] = v
            if hasattr(model, "h5_extra"):   # datasets beside the Keras ones (snn_idp_variants)
                model.h5_extra(f)

    # Verify the file with the independent numpy forward pass (reads only the .h5).
    t1 = time.time()
    ref_in = model.reference_input(xte) if hasattr(model, "reference_input") else xte
    probs = kh.forward(path, ref_in, output="dense" if functional else None)
    np_pred = probs.argmax(1)
    np_acc = float((np_pred == yte).mean())
    agree = float((np_pred == torch_pred).mean())
    res = {"name": name, "dataset": dataset, "epochs": epochs, "lr": lr, "params": kh.count_params(layers),
           "bytes": os.path.getsize(path), "torch_acc": torch_acc, "numpy_acc": np_acc,
           "agree": agree, "train_s": train_s, "verify_s": time.time() - t1,
           "layers": [l["class_name"] for l in layers]}
    print("%s: torch test acc %.4f | numpy-reference acc %.4f | argmax agreement %.4f | "
          "%d params, %d bytes, train %.0fs" % (name, torch_acc, np_acc, agree, res["params"],
                                                res["bytes"], train_s), flush=True)
    assert agree >= 0.999, "%s: numpy reference disagrees with torch (%.4f)" % (name, agree)
    if isinstance(model, JointExitCNN):   # the exit head alone, torch and numpy
        model.eval()
        with torch.no_grad():
            te = torch.cat([(model(xte_t[i:i + 1000]), model.exit_logits)[1] for i in range(0, xte_t.shape[0], 1000)])
        te = te.numpy().argmax(1)
        ne = kh.forward(path, ref_in, output="exit1").argmax(1)
        res["exit_acc"] = (float((te == yte).mean()), float((ne == yte).mean()), float((te == ne).mean()))
        print("  exit1 head: torch acc %.4f | numpy acc %.4f | agreement %.4f" % res["exit_acc"], flush=True)
        assert res["exit_acc"][2] >= 0.999, "%s: numpy reference disagrees with torch on exit1" % name
    if isinstance(model, (IDPMLP, IDPCNN)):   # the DNN at each IDP percentage, torch and numpy
        res["idp"] = {}
        for p in (100, 80, 60, 50, 40, 30, 20, 10):
            model.percent = p
            tp = predict(model, xte_t).argmax(1)
            npp = kh.forward(path, ref_in, idp=p).argmax(1)
            res["idp"][p] = (float((tp == yte).mean()), float((npp == yte).mean()), float((tp == npp).mean()))
            print("  IDP %3d%%: torch acc %.4f | numpy acc %.4f | agreement %.4f" % ((p,) + res["idp"][p]), flush=True)
        model.percent = None
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "models"))
    ap.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    ap.add_argument("--only", choices=sorted(SPECS), action="append",
                    help="train just this model (repeatable)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--cs-rd", type=int, default=200,
                    help="mnist_cs_mlp: measurements rd of the Rademacher stage (1..784)")
    ap.add_argument("--cs-seed", type=int, default=1, help="mnist_cs_mlp: the stage's seed (0..2^63-1)")
    ap.add_argument("--cs-prune", type=float, default=0.0,
                    help="mnist_cs_mlp: train dense and dense_1 with this fraction of their weights removed at "
                         "random, the ones snn convert --prune dense=random:R,dense_1=random:R removes (0 <= R < 1)")
    ap.add_argument("--cs-prune-seed", type=int, default=1, help="mnist_cs_mlp: the --prune-seed of --cs-prune")
    args = ap.parse_args()
    if not 0 <= args.cs_prune < 1:
        ap.error("--cs-prune %g: must be in [0, 1)" % args.cs_prune)
    if not 1 <= args.cs_rd <= 784:
        ap.error("--cs-rd %d: must be between 1 and the 784 pixels" % args.cs_rd)
    if not 0 <= args.cs_seed < 2 ** 63:
        ap.error("--cs-seed %d: must be in [0, 2^63)" % args.cs_seed)
    CS.update(rd=args.cs_rd, seed=args.cs_seed, cp=args.cs_prune, cp_seed=args.cs_prune_seed)
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    names = args.only or list(SPECS)
    cache, results = {}, []
    for n in names:
        results.append(train(n, args.epochs, args.out, cache))
    print("\n| model | epochs | params | bytes | torch acc | numpy-ref acc | agreement |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print("| %s | %d | %d | %d | %.2f%% | %.2f%% | %.2f%% |"
              % (r["name"], r["epochs"], r["params"], r["bytes"], 100 * r["torch_acc"],
                 100 * r["numpy_acc"], 100 * r["agree"]))


if __name__ == "__main__":
    main()
