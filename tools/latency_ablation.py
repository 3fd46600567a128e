#!/usr/bin/python3
"""Accuracy against time steps for every conversion option that matters (issue 8).

For each shipped model and each conversion variant, runs `snn convert` then
`snn run --steps 64` on the full test set (`current` encoding); the run's
checkpoints give the accuracy at 1, 2, 4, ..., 64 steps in one pass. The plain
and the default conversions also run 256 steps, to check that nothing is lost
on long runs. Writes OUT/latency.json, OUT/latency.md and OUT/latency.png.

An experiment, not a test: about 35 minutes on 2 cores.

    /usr/bin/python3 tools/latency_ablation.py [--snn build/snn] [--out out/latency]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = [  # name, file, data set
    ("mnist_mlp", "data/models/mnist_mlp.h5", "mnist"),
    ("mnist_cnn", "data/models/mnist_cnn.h5", "mnist"),
    ("mnist_cnn_bn_maxpool", "data/models/mnist_cnn_bn_maxpool.h5", "mnist"),
    ("fashion_cnn", "data/models/fashion_cnn.h5", "fashion-mnist"),
]

PLAIN = ["--norm-granularity", "layer", "--v-init", "0", "--readout", "spikes"]
VARIANTS = [  # name, convert flags, long run
    ("plain", PLAIN, True),
    ("membrane", ["--norm-granularity", "layer", "--v-init", "0", "--readout", "membrane"], False),
    ("v-init 0.5", ["--norm-granularity", "layer", "--v-init", "0.5", "--readout", "spikes"], False),
    ("channel", ["--norm-granularity", "channel", "--v-init", "0", "--readout", "spikes"], False),
    ("v-init 0.5 + channel", ["--norm-granularity", "channel", "--v-init", "0.5", "--readout", "spikes"], False),
    ("default (v-init 0.5 + channel + membrane)", [], True),
    ("default, max norm", ["--norm", "max"], False),
    ("default, percentile 99.99", ["--norm", "percentile:99.99"], False),
    ("default + calibrate-steps 4", ["--calibrate-steps", "4"], False),
    ("default + calibrate-steps 8", ["--calibrate-steps", "8"], False),
]
STEPS = [4, 8, 16, 32, 64]
LONG_STEPS = 256


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return r.stdout


def accuracy_by_step(report):
    return {int(a["step"]): a["accuracy"] for a in report["accuracy_by_step"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snn", default=os.path.join(ROOT, "build", "snn"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "latency"))
    ap.add_argument("--calib-samples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--models", default=",".join(m[0] for m in MODELS))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    snn = os.path.join(args.out, "snn")  # a copy: a rebuild during the run changes nothing
    shutil.copy(args.snn, snn)
    wanted = args.models.split(",")

    results = []
    for name, path, ds in MODELS:
        if name not in wanted:
            continue
        for k, (vname, flags, long_run) in enumerate(VARIANTS):
            net = os.path.join(args.out, "%s.%d.snn.h5" % (name, k))
            run([snn, "convert", os.path.join(ROOT, path), "-o", net, "--calib", ds + ":train",
                 "--calib-samples", str(args.calib_samples), "--threads", str(args.threads)] + flags)
            steps = LONG_STEPS if long_run else max(STEPS)
            rep = os.path.join(args.out, "report.json")
            run([snn, "run", net, "--data", ds + ":test", "--steps", str(steps), "--threads", str(args.threads),
                 "-q", "--report", rep])
            report = json.load(open(rep))
            acc = accuracy_by_step(report)
            row = {"model": name, "variant": vname, "convert_flags": flags, "readout": report["readout"],
                   "samples": report["samples"], "dnn_accuracy": report["dnn_accuracy"],
                   "steps": steps, "dnn_agreement": report["dnn_agreement"],
                   "accuracy": {str(k): v for k, v in sorted(acc.items())}}
            results.append(row)
            print("%-22s %-44s %s" % (name, vname, " ".join("%d:%.2f" % (k, 100 * v) for k, v in sorted(acc.items())
                                                            if k >= 4)), flush=True)
            os.remove(net)

    with open(os.path.join(args.out, "latency.json"), "w") as f:
        json.dump({"steps_reported": STEPS + [128, LONG_STEPS], "encode": "current",
                   "calib_samples": args.calib_samples, "results": results}, f, indent=1)
    write_markdown(results, os.path.join(args.out, "latency.md"))
    plot(results, os.path.join(args.out, "latency.png"))


def write_markdown(results, path):
    cols = STEPS + [128, LONG_STEPS]
    lines = []
    for model in dict.fromkeys(r["model"] for r in results):
        rows = [r for r in results if r["model"] == model]
        dnn = rows[0]["dnn_accuracy"]
        lines.append("### %s (DNN %.2f %%, %d test images)\n" % (model, 100 * dnn, rows[0]["samples"]))
        lines.append("| conversion | " + " | ".join("T=%d" % t for t in cols) + " | agreement with DNN at last T |")
        lines.append("|---|" + "---:|" * (len(cols) + 1))
        for r in rows:
            cells = []
            for t in cols:
                a = r["accuracy"].get(str(t))
                cells.append("" if a is None else "%.2f" % (100 * a))
            lines.append("| %s | %s | %.2f (T=%d) |" % (r["variant"], " | ".join(cells), 100 * r["dnn_agreement"],
                                                        r["steps"]))
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = list(dict.fromkeys(r["model"] for r in results))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        rows = [r for r in results if r["model"] == model]
        for r in rows:
            ts = [t for t in STEPS if str(t) in r["accuracy"]]
            ax.plot(ts, [100 * r["accuracy"][str(t)] for t in ts], marker="o", ms=3,
                    lw=2.2 if r["variant"].startswith("default (") else 1, label=r["variant"])
        dnn = 100 * rows[0]["dnn_accuracy"]
        ax.axhline(dnn, color="k", ls="--", lw=0.8, label="DNN")
        ax.set_xscale("log", base=2)
        ax.set_xticks(STEPS)
        ax.set_xticklabels([str(t) for t in STEPS])
        ax.set_ylim(dnn - 6, dnn + 1)
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("time steps")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
