#!/usr/bin/python3
"""Cost grows with spikes, not with size (issue 3, part 4).

  /usr/bin/python3 tools/bench/scaling.py [--images 1000] [--steps 64] [--repeats 5] [--out out/scaling]

Two sweeps, each point one `snn run` (current encoding, one thread, --no-dnn),
reporting time per image against synaptic operations per image (with
`current` encoding these include the one-off projection of the analog input,
784 multiply-adds per unit of the first layer, which grows with its width):

  intensity  the shipped MNIST CNN (default conversion) on the first --images
             test images multiplied by α ∈ {0.125, 0.25, 0.5, 1, 2}: the same
             network and size, fewer or more spikes;
  width      the shipped MLP's hidden layer (512 units) grown to W ∈ {512,
             1024, 2048, 4096, 8192} units by adding silent units (zero input
             weights, bias −1: they never fire): more neurons, the same
             spikes, the same classifications; and, for contrast, by copying
             every hidden unit W/512 times with its output weights divided by
             W/512 (the same function, W/512 times the spikes).

Every point runs --repeats times, in rounds over all points (so that a
machine whose speed drifts moves every point alike); its time is the median.

Fits time per image = a·(synaptic operations) + b·(neuron updates) + c by
least squares over all points, prints the fit and the table, and writes
OUT/scaling.{json,md,png}. Needs tools/setup.sh and tools/build.sh.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def fail(msg):
    print(f"scaling: error: {msg}", file=sys.stderr)
    sys.exit(1)


def run(exe, net, data, steps, out, tag):
    rep = os.path.join(out, tag + ".json")
    p = subprocess.run([exe, "run", net, "--data", data, "--steps", str(steps), "--threads", "1", "--no-dnn",
                        "--encode", "current", "-q", "--report", rep], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"snn run {net}: {p.stderr.strip()}")
    r = json.load(open(rep))
    n = r["samples"]
    # With current encoding the report lists the spiking populations only.
    neurons = sum(l["neurons"] for l in r["layers"] if l["kind"] != "input")
    return {"tag": tag, "images": n, "us_per_image": 1e6 / r["samples_per_second"],
            "synaptic_ops": r["synaptic_ops_per_sample"], "neurons": neurons,
            "neuron_updates": neurons * steps, "spikes": r["spikes_per_sample"],
            "accuracy": r["accuracy"]}


def mnist_test(images):
    sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
    import peers
    return peers.load_data("mnist:test", images)


def write_dataset(path, x, y):
    with h5py.File(path + ".tmp", "w") as f:
        f["x"] = x.astype(np.float32)
        f["y"] = y.astype(np.int64)
    os.replace(path + ".tmp", path)


def widened(src, dst, width, mode):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        hid, out = f["populations/001"], f["populations/002"]
        n = int(hid.attrs["shape"][2])
        w_in = hid["projections/000/weights"][()]
        b = hid["bias"][()]
        w_out = out["projections/000/weights"][()]
        if mode == "silent":
            extra = width - n
            w_in = np.concatenate([w_in, np.zeros((w_in.shape[0], extra), np.float32)], 1)
            b = np.concatenate([b, -np.ones(extra, np.float32)])
            w_out = np.concatenate([w_out, np.zeros((extra, w_out.shape[1]), np.float32)], 0)
        else:
            k = width // n
            w_in, b = np.tile(w_in, (1, k)), np.tile(b, k)
            w_out = (np.tile(w_out, (k, 1)) / np.float32(k)).astype(np.float32)
        for g, name, v in ((hid, "projections/000/weights", w_in), (hid, "bias", b), (out, "projections/000/weights", w_out)):
            del g[name]
            g.create_dataset(name, data=v.astype(np.float32))
        hid.attrs["shape"] = np.array([1, 1, width], np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5, help="runs of each point, in rounds; the median counts")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "scaling"))
    a = ap.parse_args()
    if a.images < 1 or a.steps < 1 or a.repeats < 1:
        fail("--images, --steps and --repeats must be positive")
    snn = os.path.join(ROOT, "build", "snn")
    if not os.access(snn, os.X_OK):
        fail(f"{snn}: not built (run tools/build.sh)")
    os.makedirs(a.out, exist_ok=True)
    exe = os.path.join(a.out, "snn")
    shutil.copy2(snn, exe)
    models = os.path.join(ROOT, "data", "models")
    cnn, mlp = os.path.join(a.out, "cnn.snn.h5"), os.path.join(a.out, "mlp.snn.h5")
    for m, net in (("mnist_cnn.h5", cnn), ("mnist_mlp.h5", mlp)):
        subprocess.run([exe, "convert", os.path.join(models, m), "-o", net, "--calib", "mnist:train"], check=True,
                       capture_output=True)
    x, y = mnist_test(a.images)
    configs = []  # (sweep, x, network, data set, tag)
    for alpha in (0.125, 0.25, 0.5, 1.0, 2.0):
        data = os.path.join(a.out, f"mnist_x{alpha}.h5")
        write_dataset(data, x * np.float32(alpha), y)
        configs.append(("intensity (CNN)", alpha, cnn, data, f"intensity_{alpha}"))
    plain = os.path.join(a.out, "mnist_x1.0.h5")
    for mode in ("silent", "copies"):
        for width in (512, 1024, 2048, 4096, 8192):
            net = os.path.join(a.out, f"mlp_{mode}_{width}.snn.h5")
            widened(mlp, net, width, mode)
            configs.append((f"width, {'silent units' if mode == 'silent' else 'copied units'} (MLP)", width, net, plain,
                            f"width_{mode}_{width}"))
    runs = [[] for _ in configs]
    for k in range(a.repeats):
        for i, (sweep, xv, net, data, tag) in enumerate(configs):
            runs[i].append(run(exe, net, data, a.steps, a.out, tag))
        print(f"round {k + 1}/{a.repeats} done", flush=True)
    points = []
    for (sweep, xv, net, data, tag), rs in zip(configs, runs):
        p = dict(rs[0])
        times = [r["us_per_image"] for r in rs]
        p.update(sweep=sweep, x=xv, us_per_image=float(np.median(times)), us_per_image_runs=times)
        points.append(p)
        print(f"{sweep} {xv}: {p['us_per_image']:.0f} µs/image (median of {len(times)}: "
              f"{min(times):.0f}–{max(times):.0f}), {p['synaptic_ops']:.0f} ops/image, "
              f"accuracy {100 * p['accuracy']:.2f} %", flush=True)

    A = np.array([[p["synaptic_ops"], p["neuron_updates"], 1.0] for p in points])
    t = np.array([p["us_per_image"] for p in points])
    coef, *_ = np.linalg.lstsq(A, t, rcond=None)
    pred = A @ coef
    r2 = 1 - ((t - pred) ** 2).sum() / ((t - t.mean()) ** 2).sum()
    fit = {"ns_per_synaptic_op": coef[0] * 1e3, "ns_per_neuron_update": coef[1] * 1e3, "us_per_image": coef[2],
           "r2": r2}
    for p, q in zip(points, pred):
        p["us_fit"] = q
    lines = [f"time per image = {fit['ns_per_synaptic_op']:.3f} ns × synaptic ops + "
             f"{fit['ns_per_neuron_update']:.3f} ns × neuron updates + {fit['us_per_image']:.1f} µs "
             f"(least squares over all points, R² = {r2:.4f}); {a.images} MNIST test images, {a.steps} steps, 1 thread; "
             f"each point the median of {a.repeats} runs (range beside it).",
             "", "| sweep | x | neurons | spikes/image | synaptic ops/image | µs/image | range µs | fit µs | accuracy % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        rs = p["us_per_image_runs"]
        lines.append(f"| {p['sweep']} | {p['x']} | {p['neurons']} | {p['spikes']:.0f} | {p['synaptic_ops']:.0f} | "
                     f"{p['us_per_image']:.0f} | {min(rs):.0f}–{max(rs):.0f} | {p['us_fit']:.0f} | "
                     f"{100 * p['accuracy']:.2f} |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "scaling.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "scaling.json"), "w") as f:
        json.dump({"fit": fit, "points": points, "images": a.images, "steps": a.steps}, f, indent=2)
    plot(points, os.path.join(a.out, "scaling.png"))
    print(md)


def plot(points, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for sweep, marker in (("intensity (CNN)", "o"), ("width, silent units (MLP)", "s"), ("width, copied units (MLP)", "^")):
        ps = [p for p in points if p["sweep"] == sweep]
        ax.plot([p["synaptic_ops"] / 1e6 for p in ps], [p["us_per_image"] for p in ps], marker=marker, label=sweep)
    ax.set_xlabel("synaptic operations per image (millions)")
    ax.set_ylabel("µs per image (1 thread)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path + ".tmp.png", dpi=120)
    os.replace(path + ".tmp.png", path)


if __name__ == "__main__":
    main()
