#!/usr/bin/python3
"""Accuracy against loss on the link between devices, for the SNN and the DNN.

    tools/cut_loss_sweep.py NET.snn.h5 --partition SPEC [--data mnist:test] [--limit 1000]
        [--steps 32] [--losses 0,0.1,...] [--burst L] [--snn build/snn] [--out out/cut_loss]

Runs `snn run NET --partition SPEC --cut-loss P` (or burst:P:L with --burst)
for every P and writes OUT/sweep.md (a table: P, SNN accuracy, DNN accuracy
under the same loss, spikes sent and lost per input) and OUT/sweep.png. Each
run's report is kept as OUT/report_P.json.
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("network")
    ap.add_argument("--partition", required=True)
    ap.add_argument("--data", default="mnist:test")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--losses", default="0,0.1,0.2,0.3,0.5,0.7,0.9")
    ap.add_argument("--burst", type=float, default=0, help="mean burst length L: losses as burst:P:L")
    ap.add_argument("--snn", default=os.path.join(os.path.dirname(__file__), "..", "build", "snn"))
    ap.add_argument("--out", default="out/cut_loss")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for text in a.losses.split(","):
        p = float(text)
        spec = "none" if p == 0 else (f"burst:{text}:{a.burst:g}" if a.burst else text)
        report = os.path.join(a.out, f"report_{text}.json")
        cmd = [a.snn, "run", a.network, "--data", a.data, "--limit", str(a.limit), "--steps", str(a.steps),
               "--partition", a.partition, "--cut-loss", spec, "--report", report, "--quiet"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"cut_loss_sweep: {' '.join(cmd)} failed: {done.stderr.strip()}")
        with open(report) as f:
            r = json.load(f)
        dnn = r.get("dnn_accuracy_under_loss", r["dnn_accuracy"])
        sent = sum(c["spikes"] for c in r["cuts"])
        lost = sum(c.get("spikes_lost", 0.0) for c in r["cuts"])
        rows.append((p, spec, r["accuracy"], dnn, sent, lost))
    with open(os.path.join(a.out, "sweep.md"), "w") as f:
        f.write(f"`{a.network}`, partition `{a.partition}`, {a.data} (first {a.limit}), {a.steps} steps\n\n")
        f.write("| loss | SNN accuracy | DNN accuracy under the same loss | spikes sent / input | lost / input |\n")
        f.write("|---|---|---|---|---|\n")
        for p, spec, snn, dnn, sent, lost in rows:
            f.write(f"| {spec} | {100 * snn:.2f} % | {100 * dnn:.2f} % | {sent:.1f} | {lost:.1f} |\n")
    print(open(os.path.join(a.out, "sweep.md")).read(), end="")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("cut_loss_sweep: matplotlib is missing; no plot (apt-get install python3-matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([r[0] for r in rows], [100 * r[2] for r in rows], "o-", label=f"SNN, {a.steps} steps")
    ax.plot([r[0] for r in rows], [100 * r[3] for r in rows], "s--", label="DNN")
    ax.set_xlabel("P (burst share of steps lost)" if a.burst else "P (each spike or activation lost)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "sweep.png"), dpi=120)


if __name__ == "__main__":
    main()
