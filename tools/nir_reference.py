#!/usr/bin/python3
"""An independent numpy simulation of a NIR graph file, read with h5py alone.

It shares no code with snn: it reads the HDF5 layout of NIR_FORMAT.md, orders
the nodes by their edges, and runs the graph step by step on a constant input
(the Input node emits the same tensor at every step), in float64, with the
semantics docs/nir.md states:

  IF:  v <- v + r*I;                                   spike where v > v_threshold
  LIF: v <- v*exp(-dt/tau) + r*(1 - exp(-dt/tau))*I    (v_leak = 0), same spike rule
  CubaLIF: first the synaptic current, S the node's summed input,
       J <- J*exp(-dt/tau_syn) + (1 - exp(-dt/tau_syn))*w_in*S   (w_in 1 if absent, J = 0 at the start),
       then the LIF step above on J with tau = tau_mem, same spike rule
  LI, CubaLI: the LIF and CubaLIF membranes without spikes (only as the output,
       read by the membrane); I: v <- v + r*I, without spikes (the same)
  Threshold: no membrane, spike where I > threshold
  reset "subtract": v <- v - v_threshold; "value": v <- v_reset (0 if absent)
  default reset: "subtract" before NIR 1.0.6 (or no version), "value" after.

Several edges into one node are summed. A spike is the value 1 for the nodes
after it, in the same step. Used by tools/make_nir_fixtures.py to write the
expected spike counts the tests compare with snn's engine.

With --snn-metadata, what `snn export` writes into the graph's metadata (which
a NIR reader otherwise ignores) is honoured: per population the reset
(subtract or zero), the start v = v_init*v_threshold and v >= v_threshold
where the threshold is not strict; and the readout: "membrane" makes the
output neurons non-spiking integrators, the class the largest membrane;
"spikes" takes the most spikes, ties broken by the membrane.

  /usr/bin/python3 tools/nir_reference.py FILE.nir --steps T [--dt DT] [--reset subtract|value] [--seed S --samples N]
prints the total spikes of every neuron node (random 0/1 inputs from the seed);
with --data FILE.h5 (its x, as stored, [--limit N]) it also writes the class of
every sample, one per line, to --predictions OUT. With --frames, that x holds
one input per step, (N, T, *input shape) in the graph's own (channels-first)
order, and the Input node emits frame t at step t (steps: at most T).
"""
import argparse
import json
import sys

import h5py
import numpy as np


def _read(obj):
    if isinstance(obj, h5py.Group):
        return {k: _read(obj[k]) for k in obj.keys()}
    v = obj[()]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind == "O":
        return np.vectorize(lambda s: s.decode() if isinstance(s, bytes) else s)(v)
    return v


def _version_at_least(version, want):
    parts = []
    for p in version.split(".")[:3]:
        digits = ""
        for ch in p:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if digits != p:
            break
    parts += [0] * (3 - len(parts))
    return tuple(parts) >= want


class Graph:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.version = _read(f["version"]) if "version" in f else ""
            top = _read(f["node"])
        self.nodes = {}
        self.ports = {}
        self.edges = []
        self._add(top, "")
        preds = {n: [] for n in self.nodes}
        succs = {n: [] for n in self.nodes}
        for s, t in self.edges:
            s, t = self._resolve(s, False), self._resolve(t, True)
            preds[t].append(s)
            succs[s].append(t)
        self.preds = preds
        indeg = {n: len(p) for n, p in preds.items()}
        ready = sorted(n for n, d in indeg.items() if d == 0)
        order = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for t in succs[n]:
                indeg[t] -= 1
                if indeg[t] == 0:
                    ready.append(t)
                    ready.sort()
        if len(order) != len(self.nodes):
            raise ValueError("cycle")
        self.order = order

    def _add(self, graph, prefix):
        for name, node in graph["nodes"].items():
            full = prefix + name
            if node["type"] == "NIRGraph":
                self._add(node, full + ".")
                ins = [k for k, v in node["nodes"].items() if v["type"] == "Input"]
                outs = [k for k, v in node["nodes"].items() if v["type"] == "Output"]
                self.ports[full] = (full + "." + ins[0], full + "." + outs[0])
            else:
                node = dict(node)
                node["port"] = prefix != "" and node["type"] in ("Input", "Output")
                self.nodes[full] = node
        e = graph["edges"]
        if getattr(e, "size", 0) and e.dtype.kind in "OUS":
            for s, t in e:
                self.edges.append((prefix + s, prefix + t))

    def _resolve(self, name, as_target):
        if name in self.nodes:
            return name
        if name in self.ports:
            return self.ports[name][0 if as_target else 1]
        raise KeyError(name)


def _pair(v, default):
    if v is None:
        return (default, default)
    a = np.atleast_1d(np.asarray(v)).astype(np.int64)
    return (int(a[0]), int(a[-1]))


def _pad(x, ph, pw):
    return np.pad(x, ((0, 0), (ph, ph), (pw, pw)))


def conv2d(node, x):
    w = np.asarray(node["weight"], dtype=np.float64)
    co, ci, kh, kw = w.shape
    sh, sw = _pair(node.get("stride"), 1)
    groups = int(np.asarray(node.get("groups", 1)))
    pad = node.get("padding", 0)
    if isinstance(pad, str):
        ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if pad == "same" else (0, 0)
        same = pad == "same"
    else:
        ph, pw = _pair(pad, 0)
        same = False
    C, H, W = x.shape
    xp = _pad(x, ph, pw)
    if same:  # PyTorch: the odd padding pixel at the bottom/right
        xp = np.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw)))
    oh = (xp.shape[1] - kh) // sh + 1
    ow = (xp.shape[2] - kw) // sw + 1
    y = np.zeros((co, oh, ow))
    per = co // groups
    for o in range(co):
        g = o // per
        for c in range(ci):
            cin = g * ci + c
            for ky in range(kh):
                for kx in range(kw):
                    y[o] += w[o, c, ky, kx] * xp[cin, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
    if "bias" in node:
        y += np.asarray(node["bias"], dtype=np.float64).reshape(-1, 1, 1)
    return y


def conv1d(node, x):
    """PyTorch Conv1d on (C, L): weight (C_out, C_in, K), stride, padding (a number, 'same' or 'valid')."""
    w = np.asarray(node["weight"], dtype=np.float64)
    co, ci, k = w.shape
    s = int(np.atleast_1d(np.asarray(node.get("stride", 1)))[0])
    pad = node.get("padding", 0)
    if isinstance(pad, str):
        left = (k - 1) // 2 if pad == "same" else 0
        right = k - 1 - left if pad == "same" else 0
    else:
        left = right = int(np.atleast_1d(np.asarray(pad))[0])
    if int(np.atleast_1d(np.asarray(node.get("dilation", 1)))[0]) != 1 or int(np.asarray(node.get("groups", 1))) != 1:
        raise ValueError("Conv1d with dilation or groups is not simulated here")
    xp = np.pad(x, ((0, 0), (left, right)))
    n = (xp.shape[1] - k) // s + 1
    y = np.zeros((co, n))
    for o in range(co):
        for c in range(ci):
            for t in range(k):
                y[o] += w[o, c, t] * xp[c, t:t + s * (n - 1) + 1:s]
    if "bias" in node:
        y += np.asarray(node["bias"], dtype=np.float64).reshape(-1, 1)
    return y


def pool(node, x, average):
    kh, kw = _pair(node["kernel_size"], 1)
    sh, sw = _pair(node.get("stride"), kh)
    ph, pw = _pair(node.get("padding"), 0)
    xp = _pad(x, ph, pw)
    oh = (xp.shape[1] - kh) // sh + 1
    ow = (xp.shape[2] - kw) // sw + 1
    y = np.zeros((x.shape[0], oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            y += xp[:, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
    return y / (kh * kw) if average else y


def flatten(node, x):
    rank = x.ndim
    start = int(np.asarray(node.get("start_dim", 1)))
    end = int(np.asarray(node.get("end_dim", -1)))
    start, end = start % rank, end % rank
    shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
    return x.reshape(shape)


def _snn_metadata(path):
    with h5py.File(path, "r") as f:
        if "node/metadata/snn" not in f:
            raise ValueError("%s has no metadata written by snn export" % path)
        m = json.loads(_read(f["node/metadata/snn"]))
    return {p["node"]: p for p in m["populations"]}, m["readout"]


def _synapse(node, name, s, syn, dt):
    """A CubaLIF/CubaLI node's synaptic current after this step's input s."""
    a = np.exp(-dt / np.asarray(node["tau_syn"], np.float64))
    w_in = np.asarray(node.get("w_in", 1.0), np.float64)
    j = syn.get(name, np.zeros(s.shape)) * a + (1 - a) * w_in * s
    syn[name] = j
    return j


def simulate(path, xs, steps, dt=1.0, reset=None, snn_metadata=False, predictions=None, frames=False):
    """xs: (N, *input shape) constant inputs, or with frames (N, T, *input shape)
    one input per step. Returns {neuron node: total spikes}; appends each
    sample's class to `predictions` if it is a list."""
    g = Graph(path)
    if reset is None:
        reset = "value" if g.version and _version_at_least(g.version, (1, 0, 6)) else "subtract"
    meta, readout = _snn_metadata(path) if snn_metadata else ({}, "spikes")
    neurons = [n for n in g.order if g.nodes[n]["type"] in ("IF", "LIF", "LI", "CubaLIF", "CubaLI", "I", "Threshold")]
    output = neurons[-1]
    if g.nodes[output]["type"] in ("LI", "CubaLI", "I"):
        readout = "membrane"  # a leaky integrator never fires: its membrane is the readout
    totals = {n: 0 for n in neurons}
    for x in xs:
        v = {}
        syn = {}
        counts = {}
        for n in neurons:
            if n in meta and meta[n]["v_init"]:
                th = np.asarray(g.nodes[n]["v_threshold"], np.float64)
                v[n] = meta[n]["v_init"] * th
        for step in range(steps):
            out = {}
            for name in g.order:
                node = g.nodes[name]
                ins = [out[p] for p in g.preds[name]]
                t = node["type"]
                if t == "Input" and not node["port"]:
                    y = np.asarray(x[step] if frames else x, dtype=np.float64)
                elif t in ("Input", "Output"):
                    y = ins[0]
                elif t == "Affine":
                    y = np.asarray(node["weight"], np.float64) @ ins[0] + np.asarray(node["bias"], np.float64)
                elif t == "Linear":
                    y = np.asarray(node["weight"], np.float64) @ ins[0]
                elif t == "Scale":
                    y = np.asarray(node["scale"], np.float64) * ins[0]
                elif t == "Conv2d":
                    y = conv2d(node, ins[0])
                elif t == "Conv1d":
                    y = conv1d(node, ins[0])
                elif t in ("LI", "CubaLI"):
                    # tau v' = (v_leak - v) + R I, I held over the step (v_leak 0 here).
                    if np.any(np.asarray(node.get("v_leak", 0.0)) != 0):
                        raise ValueError("LI with v_leak is not simulated here")
                    current = _synapse(node, name, sum(ins), syn, dt) if t == "CubaLI" else sum(ins)
                    a = np.exp(-dt / np.asarray(node["tau_mem" if t == "CubaLI" else "tau"], np.float64))
                    vm = v.get(name, np.zeros(current.shape)) * a + np.asarray(node["r"], np.float64) * (1 - a) * current
                    v[name] = vm
                    y = vm
                elif t == "I":
                    vm = v.get(name, np.zeros(sum(ins).shape)) + np.asarray(node["r"], np.float64) * sum(ins)
                    v[name] = vm
                    y = vm
                elif t == "Threshold":
                    z = sum(ins) > np.asarray(node["threshold"], np.float64)
                    v[name] = sum(ins)  # what the class tie-break reads: this step's input
                    counts[name] = counts.get(name, 0) + z
                    totals[name] += int(z.sum())
                    y = z.astype(np.float64)
                elif t in ("SumPool2d", "AvgPool2d"):
                    y = pool(node, ins[0], t == "AvgPool2d")
                elif t == "Flatten":
                    y = flatten(node, ins[0])
                elif t in ("IF", "LIF", "CubaLIF"):
                    current = _synapse(node, name, sum(ins), syn, dt) if t == "CubaLIF" else sum(ins)
                    r = np.asarray(node["r"], np.float64)
                    th = np.asarray(node["v_threshold"], np.float64)
                    vm = v.get(name, np.zeros(current.shape))
                    if t == "IF":
                        vm = vm + r * current
                    else:
                        a = np.exp(-dt / np.asarray(node["tau_mem" if t == "CubaLIF" else "tau"], np.float64))
                        vm = vm * a + r * (1 - a) * current
                    m = meta.get(name)
                    z = vm >= th if m is not None and not m["strict_threshold"] else vm > th
                    if name == output and readout == "membrane":
                        z = np.zeros(vm.shape, dtype=bool)
                    mode = reset if m is None else ("subtract" if m["reset"] == "subtract" else "value")
                    if mode == "subtract":
                        vm = np.where(z, vm - th, vm)
                    else:
                        vr = np.asarray(node.get("v_reset", 0.0), np.float64)
                        vm = np.where(z, vr, vm)
                    v[name] = vm
                    counts[name] = counts.get(name, 0) + z
                    totals[name] += int(z.sum())
                    y = z.astype(np.float64)
                else:
                    raise ValueError("node type %s is not simulated here" % t)
                out[name] = y
        if predictions is not None:
            vm = v[output].reshape(-1)
            if readout == "membrane":
                predictions.append(int(np.argmax(vm)))
            else:
                c = np.asarray(counts.get(output, np.zeros(vm.shape))).reshape(-1)
                best = np.flatnonzero(c == c.max())
                predictions.append(int(best[np.argmax(vm[best])]))
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("nir")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--dt", type=float, default=1.0)
    ap.add_argument("--reset", choices=["subtract", "value"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--snn-metadata", action="store_true")
    ap.add_argument("--data")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--predictions")
    ap.add_argument("--frames", action="store_true")
    a = ap.parse_args()
    if a.data:
        with h5py.File(a.data, "r") as f:
            xs = np.asarray(f["x"][: a.limit], dtype=np.float64)
        preds = []
        if a.frames and a.steps > xs.shape[1]:
            sys.exit("nir_reference: --steps %d > the %d frames of %s" % (a.steps, xs.shape[1], a.data))
        totals = simulate(a.nir, xs, a.steps, a.dt, a.reset, a.snn_metadata, preds, a.frames)
        if a.predictions:
            with open(a.predictions, "w") as f:
                f.write("".join("%d\n" % p for p in preds))
        json.dump(totals, sys.stdout, indent=1)
        print()
        return
    g = Graph(a.nir)
    shape = [int(s) for s in np.atleast_1d(g.nodes[[n for n in g.order if g.nodes[n]["type"] == "Input"][0]]["shape"])]
    xs = np.random.default_rng(a.seed).integers(0, 2, size=[a.samples] + shape).astype(np.float64)
    json.dump(simulate(a.nir, xs, a.steps, a.dt, a.reset), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
