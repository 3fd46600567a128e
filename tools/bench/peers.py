#!/usr/bin/python3
"""Simulate a converted network (.snn.h5) with the peers snn is measured against.

The same IF network as `snn run --encode current`: every population starts a
sample at v = v_init·v_th; each step it adds its constant current (bias, and
for the populations fed by the input the analog input projected once per
sample) and the weights of the source units that spiked in this same step,
then v ≥ v_th fires and resets (v −= v_th, or v = 0). The output is read as
the network's readout says: "membrane" makes the last population a
non-spiking integrator read by the largest potential; "spikes" takes the most
spikes, ties broken by the larger potential, then by the lower index.

  --peer torch              dense PyTorch tensors per step (NCHW), batch 256,
                            torch.set_num_threads(--threads)
  --peer brian-runtime      Brian2, its default runtime code generation target
  --peer brian-standalone   Brian2 cpp_standalone (OpenMP with --threads), its
                            compile timed apart from its simulation loop

Brian2 has no batch axis: one network runs the samples one after the other
(a TimedArray switches the input current every T steps, a run_regularly
operation resets the membranes, a StateMonitor reads the output at the end of
each sample). Its default schedule delivers a spike to the next layer after
that layer's threshold was checked (a one-step delay per layer), so every
synaptic pathway, threshold and reset is put in one slot, ordered by
population, to deliver spikes within the step as snn does.

Prints one JSON object: images, loop seconds (wall and CPU), images/s,
accuracy, and with --snn-predictions the fraction of images classified as
`snn run --predictions` did.
"""
import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time

import h5py
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def fail(msg):
    print(f"peers: error: {msg}", file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------------- data

def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_data(name, limit):
    """mnist:test etc. from data/datasets (as tools/setup.sh fetched them), or an HDF5 file with x, y."""
    if ":" in name and not os.path.exists(name):
        dset, split = name.split(":", 1)
        prefix = {"train": "train", "test": "t10k"}.get(split)
        if dset not in ("mnist", "fashion-mnist") or prefix is None:
            fail(f"--data '{name}': expected mnist:train|test, fashion-mnist:train|test or an HDF5 file")
        d = os.path.join(ROOT, "data", "datasets", dset)
        def find(stem):
            for p in (os.path.join(d, stem), os.path.join(d, stem + ".gz")):
                if os.path.exists(p):
                    return p
            fail(f"{d}/{stem}: missing (run tools/setup.sh)")
        x = read_idx(find(f"{prefix}-images-idx3-ubyte"))[:limit]
        y = read_idx(find(f"{prefix}-labels-idx1-ubyte"))[:limit]
        # The same float32 as snn's loader: byte / 255 in float32.
        x = (x.astype(np.float32) / np.float32(255.0)).reshape(len(x), 28, 28, 1)
        return x, y.astype(np.int64)
    with h5py.File(name, "r") as f:
        x = np.asarray(f["x"][:limit], np.float32)
        y = np.asarray(f["y"][:limit], np.int64)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim == 2:
        x = x[:, None, None, :]
    return x, y


# ------------------------------------------------------------------------ network

def load_net(path):
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != "snn-network":
            fail(f"{path}: not an snn network file")
        readout = f.attrs.get("readout", "spikes")
        pops = []
        for key in sorted(f["populations"], key=int):
            g = f["populations"][key]
            pop = {"name": g.attrs["name"], "kind": g.attrs["kind"],
                   "shape": tuple(int(v) for v in g.attrs["shape"]),
                   "model": g.attrs["neuron_model"], "reset": g.attrs["reset"],
                   "v_th": np.float32(g.attrs["v_th"]), "tau": np.float32(g.attrs["tau_steps"]),
                   "v_init": np.float32(g.attrs.get("v_init", 0.0)),
                   "signed": int(g.attrs.get("signed_spikes", 0)),
                   "bias": np.asarray(g["bias"][()], np.float32), "projections": []}
            for pkey in sorted(g["projections"], key=int):
                p = g["projections"][pkey]
                pop["projections"].append({"source": int(p.attrs["source"]), "kind": p.attrs["kind"],
                                           "window": tuple(int(v) for v in p.attrs["window"]),
                                           "weights": np.asarray(p["weights"][()], np.float32)})
            if pop["signed"]:
                fail(f"population '{pop['name']}': signed spikes are not simulated by the peers")
            pops.append(pop)
        has_exits = "exits" in f and len(f["exits"]) > 0
    if has_exits:
        fail(f"{path}: has exits; the peers simulate networks without exits")
    return pops, str(readout)


def pads(src, dst, window):
    """(top, bottom, left, right) zero padding so that a plain strided window yields dst."""
    kh, kw, sh, sw, pt, pl = window
    pb = max(0, (dst[0] - 1) * sh + kh - src[0] - pt)
    pr = max(0, (dst[1] - 1) * sw + kw - src[1] - pl)
    return pt, pb, pl, pr


def decay_of(pop):
    return np.float32(np.exp(np.float32(-1.0) / pop["tau"])) if pop["model"] == "lif" else np.float32(1.0)


# -------------------------------------------------------------------------- torch

def run_torch(pops, readout, x, steps, threads, batch):
    """Every population an NCHW tensor in channels_last memory (NHWC, as snn stores it; oneDNN's
    convolution and pooling are 2-3x faster in it here than in plain NCHW); in-place updates, and
    spike counts kept only where something reads them (the output, a max-pooling gate's source)."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    cl = torch.channels_last

    ops = []  # per population: (source, callable(source spikes) -> current, or a max-pool tuple)
    counted = {len(pops) - 1}
    for i, pop in enumerate(pops):
        fns = []
        for p in pop["projections"]:
            src = pops[p["source"]]["shape"]
            dst = pop["shape"]
            w = p["weights"]
            k = p["kind"]
            if k == "dense":
                # channels_last memory is (h, w, c) order: the rows of W as stored.
                W = torch.from_numpy(np.ascontiguousarray(w))
                h, wd, c = dst
                fns.append((p["source"], lambda s, W=W, h=h, wd=wd, c=c:
                            (s.permute(0, 2, 3, 1).reshape(s.shape[0], -1) @ W).view(-1, h, wd, c).permute(0, 3, 1, 2)))
            elif k == "conv2d":
                W = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).contiguous(memory_format=cl)
                pt, pb, pl, pr = pads(src, dst, p["window"])
                stride = (p["window"][2], p["window"][3])
                fns.append((p["source"], lambda s, W=W, pd=(pl, pr, pt, pb), st=stride:
                            F.conv2d(F.pad(s, pd) if any(pd) else s, W, stride=st)))
            elif k == "avgpool":
                kh, kw, sh, sw = p["window"][:4]
                pt, pb, pl, pr = pads(src, dst, p["window"])
                W = torch.from_numpy(w).view(1, -1, 1, 1)
                # A sum over the window (padding adds nothing) times the channel's weight.
                fns.append((p["source"], lambda s, W=W, pd=(pl, pr, pt, pb), k=(kh, kw), st=(sh, sw):
                            F.avg_pool2d(F.pad(s, pd) if any(pd) else s, k, st, divisor_override=1) * W))
            elif k == "identity":
                W = torch.from_numpy(w).view(1, -1, 1, 1)
                fns.append((p["source"], lambda s, W=W: s * W))
            elif k == "maxpool":
                kh, kw, sh, sw = p["window"][:4]
                pt, pb, pl, pr = pads(src, dst, p["window"])
                fns.append((p["source"], ("maxpool", (pl, pr, pt, pb), (kh, kw), (sh, sw))))
                counted.add(p["source"])
            else:
                fail(f"population '{pop['name']}': projection kind '{k}' unknown")
        ops.append(fns)

    def nchw(shape):
        return (shape[2], shape[0], shape[1])

    n = len(x)
    preds = np.empty(n, np.int64)
    P = len(pops)
    out_membrane = readout == "membrane"
    for b0 in range(0, n, batch):
        xb = torch.from_numpy(np.ascontiguousarray(x[b0:b0 + batch])).permute(0, 3, 1, 2)  # NHWC memory
        B = xb.shape[0]
        spikes = [xb] + [None] * (P - 1)
        counts = [None] * P
        v, const, cur, fired = [None] * P, [None] * P, [None] * P, [None] * P
        for i in range(1, P):
            pop = pops[i]
            shape = (B,) + nchw(pop["shape"])
            if i in counted:
                counts[i] = torch.zeros(shape).contiguous(memory_format=cl)
            if pop["kind"] == "maxpool":
                continue
            # Constant current: bias, and the input projected once per sample.
            c = torch.zeros(shape).contiguous(memory_format=cl)
            if len(pop["bias"]):
                c += torch.from_numpy(pop["bias"]).view(1, -1, 1, 1)
            for src, fn in ops[i]:
                if src == 0:
                    c += fn(xb)
            const[i] = c
            cur[i] = torch.empty_like(c)
            fired[i] = torch.empty_like(c, dtype=torch.bool)
            v[i] = torch.full_like(c, float(pop["v_init"] * pop["v_th"]))
        for t in range(steps):
            for i in range(1, P):
                pop = pops[i]
                if pop["kind"] == "maxpool":
                    (src, (_, pd, k, st)), = ops[i]
                    # The gate passes, per window, the spike of the input with the most spikes so
                    # far (this step included; ties to the first in the window). Padding holds -1.
                    cs = counts[src]
                    cp = F.pad(cs, pd, value=-1.0) if any(pd) else cs
                    sp = F.pad(spikes[src], pd) if any(pd) else spikes[src]
                    _, idx = F.max_pool2d(cp.contiguous(), k, st, return_indices=True)
                    s = sp.contiguous().flatten(2).gather(2, idx.flatten(2)).view_as(idx).contiguous(memory_format=cl)
                    spikes[i] = s
                    if counts[i] is not None:
                        counts[i] += s
                    continue
                ci = cur[i]
                ci.copy_(const[i])
                for src, fn in ops[i]:
                    if src != 0:
                        ci += fn(spikes[src])
                vi = v[i]
                d = decay_of(pop)
                if d != 1.0:
                    vi.mul_(float(d))
                vi.add_(ci)
                if i == P - 1 and out_membrane:
                    continue
                th = float(pop["v_th"])
                torch.ge(vi, th, out=fired[i])
                s = fired[i].float()
                if pop["reset"] == "subtract":
                    vi.sub_(s, alpha=th)
                else:
                    vi.masked_fill_(fired[i], 0.0)
                spikes[i] = s
                if counts[i] is not None:
                    counts[i] += s
        vo = v[P - 1].permute(0, 2, 3, 1).reshape(B, -1)
        if out_membrane:
            pred = vo.argmax(1)
        else:
            co = counts[P - 1].permute(0, 2, 3, 1).reshape(B, -1)
            top = co == co.max(1, keepdim=True).values
            pred = torch.where(top, vo, torch.full_like(vo, -float("inf"))).argmax(1)
        preds[b0:b0 + B] = pred.numpy()
    return preds


# -------------------------------------------------------------------------- brian

def window_pairs(src, dst, window, kind, w):
    """(pre, post, weight) of every synapse of a windowed projection, channels-last indices."""
    hs, ws, cs = src
    h, wd, c = dst
    kh, kw, sh, sw, pt, pl = window
    oy, ox = np.meshgrid(np.arange(h), np.arange(wd), indexing="ij")
    pre, post, wt = [], [], []
    for ky in range(kh):
        for kx in range(kw):
            y, xx = oy * sh - pt + ky, ox * sw - pl + kx
            ok = (y >= 0) & (y < hs) & (xx >= 0) & (xx < ws)
            yi, xi, oyi, oxi = y[ok], xx[ok], oy[ok], ox[ok]
            if kind == "conv2d":
                ci, co = np.meshgrid(np.arange(cs), np.arange(c), indexing="ij")
                pre.append(((yi * ws + xi)[:, None, None] * cs + ci[None]).ravel())
                post.append(((oyi * wd + oxi)[:, None, None] * c + co[None]).ravel())
                wt.append(np.broadcast_to(w[ky, kx][None], (len(yi), cs, c)).ravel())
            else:  # avgpool: channel to channel, one weight per channel
                ch = np.arange(c)
                pre.append(((yi * ws + xi)[:, None] * cs + ch[None]).ravel())
                post.append(((oyi * wd + oxi)[:, None] * c + ch[None]).ravel())
                wt.append(np.broadcast_to(w[None], (len(yi), c)).ravel())
    return np.concatenate(pre), np.concatenate(post), np.concatenate(wt).astype(np.float32)


def projected_input(pop, x):
    """Bias plus the input's projections, per sample: (n, neurons) float32 (numpy, once per sample)."""
    n = len(x)
    size = int(np.prod(pop["shape"]))
    c = np.zeros((n, size), np.float32)
    if len(pop["bias"]):
        c += np.tile(pop["bias"], size // len(pop["bias"]))[None]
    for p in pop["projections"]:
        if p["source"] != 0:
            continue
        flat = x.reshape(n, -1)
        if p["kind"] == "dense":
            c += flat @ p["weights"]
        elif p["kind"] in ("conv2d", "avgpool"):
            pre, post, wt = window_pairs(x.shape[1:], pop["shape"], p["window"], p["kind"], p["weights"])
            for k in range(n):
                np.add.at(c[k], post, flat[k, pre] * wt)
        elif p["kind"] == "identity":
            c += flat * np.tile(p["weights"], flat.shape[1] // len(p["weights"]))[None]
        else:
            fail(f"population '{pop['name']}': Brian2 peer cannot read the input through '{p['kind']}'")
    return c


def run_brian(pops, readout, x, steps, threads, standalone):
    import brian2 as b2
    info = {}
    if standalone:
        directory = tempfile.mkdtemp(prefix="snn_brian_")
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    else:
        b2.prefs.codegen.target = "auto"  # Brian2's default: cython if it compiles here, else numpy
    b2.prefs.core.default_float_dtype = np.float32
    b2.defaultclock.dt = 1 * b2.ms
    dt = b2.defaultclock.dt
    n = len(x)
    P = len(pops)
    out_membrane = readout == "membrane"
    t0 = time.perf_counter()
    objs = []
    groups = [None] * P
    for i in range(1, P):
        pop = pops[i]
        if pop["kind"] == "maxpool":
            fail(f"population '{pop['name']}': the Brian2 peer has no max-pooling gate")
        size = int(np.prod(pop["shape"]))
        spiking = not (i == P - 1 and out_membrane)
        eqs = "v : 1\nb : 1 (constant)\nv0 : 1 (constant)\ncount : 1"
        reset = "v -= v_th_" if pop["reset"] == "subtract" else "v = 0"
        reset += "; count += 1"
        ns = {"v_th_": float(pop["v_th"]), "decay_": float(decay_of(pop))}
        if spiking:
            G = b2.NeuronGroup(size, eqs, threshold="v >= v_th_", reset=reset, namespace=ns, name=f"pop{i}")
        else:
            G = b2.NeuronGroup(size, eqs, namespace=ns, name=f"pop{i}")
        G.v0 = float(pop["v_init"] * pop["v_th"])
        reads_input = any(p["source"] == 0 for p in pop["projections"])
        leak = "v = v*decay_ + " if decay_of(pop) != 1.0 else "v += "
        if reads_input:
            # The input current of every sample, switched every T steps.
            ta = b2.TimedArray(projected_input(pop, x), dt=steps * dt, name=f"input{i}")
            ns[f"I{i}"] = ta
            G.run_regularly(leak + f"I{i}(t, i)", when="groups", name=f"integrate{i}")
        else:
            G.b = np.tile(pop["bias"], size // len(pop["bias"])) if len(pop["bias"]) else 0.0
            G.run_regularly(leak + "b", when="groups", name=f"integrate{i}")
        G.run_regularly("v = v0\ncount = 0", dt=steps * dt, when="start", order=0, name=f"rest{i}")
        if spiking:
            # Same step delivery: threshold then reset of population i, after every pathway into it.
            G.thresholder["spike"].when = "thresholds"
            G.thresholder["spike"].order = 3 * i + 1
            G.resetter["spike"].when = "thresholds"
            G.resetter["spike"].order = 3 * i + 2
        groups[i] = G
        objs.append(G)
        for k, p in enumerate(pop["projections"]):
            if p["source"] == 0:
                continue
            src = pops[p["source"]]["shape"]
            if p["kind"] == "dense":
                ns_, nd = int(np.prod(src)), size
                pre = np.repeat(np.arange(ns_), nd)
                post = np.tile(np.arange(nd), ns_)
                wt = p["weights"].ravel()
            elif p["kind"] in ("conv2d", "avgpool"):
                pre, post, wt = window_pairs(src, pop["shape"], p["window"], p["kind"], p["weights"])
            elif p["kind"] == "identity":
                pre = post = np.arange(size)
                wt = np.tile(p["weights"], size // len(p["weights"]))
            else:
                fail(f"population '{pop['name']}': Brian2 peer has no '{p['kind']}' projection")
            S = b2.Synapses(groups[p["source"]], G, "w : 1", on_pre="v_post += w", name=f"syn{i}_{k}")
            S.connect(i=pre.astype(np.int32), j=post.astype(np.int32))
            S.w = wt
            S.pre.when = "thresholds"
            S.pre.order = 3 * i
            objs.append(S)
    out = groups[P - 1]
    # Recorded at the start of steps 0, T, 2T, … before the membranes are reset: the end of each sample.
    mon = b2.StateMonitor(out, ["v", "count"], record=True, dt=steps * dt, when="start", order=-1, name="readout")
    objs.append(mon)
    net = b2.Network(*objs)
    duration = (n * steps + 1) * dt
    info["brian_target"] = "cpp_standalone" if standalone else b2.prefs.codegen.target
    if standalone:
        net.run(duration)
        info["build_seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        b2.device.build(directory=directory, compile=True, run=False, with_output=False)
        info["compile_seconds"] = time.perf_counter() - t1
        c0, t2 = time.process_time(), time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        b2.device.run(directory=directory, with_output=False, run_args=[])
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        info["process_seconds"] = time.perf_counter() - t2
        info["process_cpu_seconds"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        info["child_max_rss_kb"] = ru1.ru_maxrss
        # The simulation loop alone, as Brian2's generated main() timed it.
        loop = float(b2.device._last_run_time)
        cpu = info["process_cpu_seconds"] * loop / max(info["process_seconds"], 1e-9)
        info["cpu_note"] = "CPU of the standalone process, scaled to its loop's share of its wall time"
    else:
        info["build_seconds"] = time.perf_counter() - t0
        # A run of no steps generates and compiles the code objects (Cython,
        # cached by Brian2 on disk across runs), so the loop timed below is
        # the simulation alone, as for cpp_standalone. With a cold cache the
        # compile takes about a minute (54.9 s here on 2 cores), which the
        # timed loop used to include.
        t1 = time.perf_counter()
        net.run(0 * b2.ms)
        info["compile_seconds"] = time.perf_counter() - t1
        c0, t1 = time.process_time(), time.perf_counter()
        net.run(duration)
        loop = time.perf_counter() - t1
        cpu = time.process_time() - c0
    vs = np.asarray(mon.v)[:, 1:n + 1].T
    cs = np.asarray(mon.count)[:, 1:n + 1].T
    if out_membrane:
        preds = vs.argmax(1)
    else:
        top = cs == cs.max(1, keepdims=True)
        preds = np.where(top, vs, -np.inf).argmax(1)
    return preds, loop, cpu, info


# --------------------------------------------------------------------------- main

def matmul_gflops(threads):
    """A 1-thread (or N) 256×784 by 784×512 float32 product: is torch on a fast BLAS?"""
    import torch
    torch.set_num_threads(threads)
    a, b = torch.randn(256, 784), torch.randn(784, 512)
    for _ in range(3):
        a @ b
    reps, t = 50, time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2.0 * 256 * 784 * 512 * reps / (time.perf_counter() - t) / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("network")
    ap.add_argument("--peer", required=True, choices=["torch", "brian-runtime", "brian-standalone"])
    ap.add_argument("--data", default="mnist:test")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--snn-predictions", help="`snn run --predictions` file of the same run (same data, steps)")
    ap.add_argument("--json", help="also write the result here")
    a = ap.parse_args()
    if a.steps < 1 or a.threads < 1 or a.batch < 1 or (a.limit is not None and a.limit < 1):
        fail("--steps, --threads, --batch and --limit must be positive")
    if not os.path.exists(a.network):
        fail(f"{a.network}: no such file")
    pops, readout = load_net(a.network)
    x, y = load_data(a.data, a.limit)
    res = {"peer": a.peer, "network": a.network, "data": a.data, "steps": a.steps, "threads": a.threads,
           "images": int(len(x)), "readout": readout}
    if a.peer == "torch":
        import torch
        res["torch"] = torch.__version__
        res["batch"] = a.batch
        res["matmul_gflops_1thread"] = round(matmul_gflops(1), 2)
        torch.set_num_threads(a.threads)
        c0, t0 = time.process_time(), time.perf_counter()
        preds = run_torch(pops, readout, x, a.steps, a.threads, a.batch)
        loop, cpu = time.perf_counter() - t0, time.process_time() - c0
    else:
        preds, loop, cpu, info = run_brian(pops, readout, x, a.steps, a.threads, a.peer == "brian-standalone")
        import brian2
        res["brian2"] = brian2.__version__
        res.update(info)
    res["loop_seconds"] = loop
    res["loop_cpu_seconds"] = cpu
    res["images_per_second"] = len(x) / loop if loop > 0 else None
    res["accuracy"] = float((preds == y).mean())
    if a.snn_predictions:
        ours = np.loadtxt(a.snn_predictions, dtype=np.int64, ndmin=1)
        if len(ours) < len(preds):
            fail(f"{a.snn_predictions}: {len(ours)} predictions for {len(preds)} images")
        res["agreement"] = float((ours[:len(preds)] == preds).mean())
        res["disagreements"] = int((ours[:len(preds)] != preds).sum())
    res["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text = json.dumps(res)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
