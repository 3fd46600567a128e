#!/usr/bin/env python3
"""Prints a markdown table of accuracy against time steps from `snn run --report` files.

usage: /usr/bin/python3 tools/summarize_reports.py run1.json [run2.json ...]
"""
import json
import os
import sys


def main(paths):
    reports = []
    for p in paths:
        with open(p) as f:
            reports.append((os.path.splitext(os.path.basename(p))[0], json.load(f)))
    steps = sorted({a["step"] for _, r in reports for a in r["accuracy_by_step"]})
    head = ["run", "samples", "readout", "DNN %"] + [f"T={t}" for t in steps] + ["agree % (last T)", "synops/sample", "samples/s"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, r in reports:
        by = {a["step"]: a["accuracy"] for a in r["accuracy_by_step"]}
        dnn = r.get("dnn_accuracy")
        agree = r.get("dnn_agreement")
        row = [name, str(r["samples"]), r.get("readout", "spikes"), "-" if dnn is None else f"{100 * dnn:.2f}"]
        row += [f"{100 * by[t]:.2f}" if t in by else "" for t in steps]
        row += ["-" if agree is None else f"{100 * agree:.2f}", f"{r['synaptic_ops_per_sample']:.3g}",
                f"{r['samples_per_second']:.1f}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
