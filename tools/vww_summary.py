#!/usr/bin/env python3
"""Agreement of VWW SNN runs with the DNN on probe images, as a markdown table.

usage: /usr/bin/python3 tools/vww_summary.py PROBE.h5 RUN [RUN...]
Each RUN names RUN.json (snn run --report) and RUN.pred (--predictions). The
probe labels are the independent numpy pass's argmax (tools/make_vww_probe.py);
the margin bands are fractions of the median |logit1 - logit0| of kinds 1-2.
"""
import json
import os
import sys

import h5py
import numpy as np


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with h5py.File(sys.argv[1], "r") as f:
        y, kind, margin = f["y"][:], f["kind"][:], f["margin"][:]
        median = float(f.attrs["median_margin_kinds12"])
    rel = margin / median
    cols = [("all", np.ones_like(y, dtype=bool))]
    cols += [(name, kind == k) for k, name in ((1, "smooth"), (2, "structured"), (3, "near boundary"))]
    bands = [(0, 0.01), (0.01, 0.02), (0.02, 0.05), (0.05, np.inf)]
    cols += [("margin %s" % ("≥ 5 %" if hi == np.inf else "%g–%g %%" % (100 * lo, 100 * hi)), (rel >= lo) & (rel < hi))
             for lo, hi in bands]
    print("| run | steps | DNN vs numpy | " + " | ".join("%s (%d)" % (c, m.sum()) for c, m in cols) + " |")
    print("|---|---:|---:|" + "---:|" * len(cols))
    for run in sys.argv[2:]:
        r = json.load(open(run + ".json"))
        pred = np.loadtxt(run + ".pred", dtype=int)
        if pred.shape != y.shape:
            sys.exit("%s.pred: %d predictions for %d probes" % (run, pred.size, y.size))
        agree = pred == y
        print("| %s | %d | %.1f %% | " % (os.path.basename(run), r["steps"], 100 * r["dnn_accuracy"]) +
              " | ".join("%.1f %%" % (100 * agree[m].mean()) for _, m in cols) + " |")


if __name__ == "__main__":
    main()
