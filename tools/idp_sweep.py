#!/usr/bin/env python3
"""Accuracy and synaptic operations of networks at several IDP percentages
(docs/dynamic-cost.md), from `snn run --idp P --report`.

    /usr/bin/python3 tools/idp_sweep.py SNN OUT_DIR NET.snn.h5 [NET.snn.h5 ...]
        [--data mnist:test] [--steps 64] [--percents 100,80,60,50] [--limit N] [--threads N]

Prints one markdown row per network and percentage: SNN accuracy, the DNN
accuracy of the same network at that setting, synaptic operations per input,
their ratio to the 100 % run of the same network, and (P/100)^2 beside it.
The reports are kept in OUT_DIR as NET-P.json.
"""

import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("snn")
    ap.add_argument("out_dir")
    ap.add_argument("nets", nargs="+")
    ap.add_argument("--data", default="mnist:test")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--percents", default="100,80,60,50")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    percents = [float(p) for p in args.percents.split(",")]
    os.makedirs(args.out_dir, exist_ok=True)
    print("| network | IDP % | SNN acc | DNN acc | synaptic ops/input | ops / ops at 100 % | (P/100)^2 |")
    print("|---|---|---|---|---|---|---|")
    for net in args.nets:
        full_ops = None
        for p in percents:
            report = os.path.join(args.out_dir, "%s-%g.json" % (os.path.basename(net).replace(".snn.h5", ""), p))
            cmd = [args.snn, "run", net, "--data", args.data, "--steps", str(args.steps), "--encode", "current",
                   "--idp", "%g" % p, "--threads", str(args.threads), "-q", "--report", report]
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            subprocess.run(cmd, check=True)
            with open(report) as f:
                j = json.load(f)
            ops = j["synaptic_ops_per_sample"]
            if p == 100:
                full_ops = ops
            ratio = "%.3f" % (ops / full_ops) if full_ops else "-"
            print("| %s | %g | %.2f %% | %.2f %% | %.0f | %s | %.3f |"
                  % (os.path.basename(net), p, 100 * j["accuracy"], 100 * j["dnn_accuracy"], ops, ratio,
                     (p / 100) ** 2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
