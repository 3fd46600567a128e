#!/usr/bin/python3
"""Summarizes tools/exits_experiment.sh's reports (out/exits/*.json) as markdown."""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "out/exits"


def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


def ops(r):
    return r["synaptic_ops_per_sample"] + sum(p["exit_adds"] + p["exit_macs"] for p in r["partitions"])


def exits_cell(r):
    parts = []
    for x in r["exits"]:
        if x["name"] == "output":
            continue
        parts.append("%s: %.1f%% left (acc %s), mean step %s" % (
            x["at"], 100 * x["taken"], "-" if x["accuracy"] is None else "%.2f%%" % (100 * x["accuracy"]),
            "-" if x["mean_step"] is None else "%.1f" % x["mean_step"]))
    return "; ".join(parts) or "none"


print("| run | T | accuracy % | Δ vs no exits (points) | ops/input | ops ratio | steps/input | exits taken | "
      "bytes/input edge→cloud (best; AER, bitmap, delta) | DNN fp32 / int8 bytes | energy µJ (DNN µJ) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name, T in [("none_16", 16), ("edge_16", 16), ("none_32", 32), ("edge_32", 32), ("any_32", 32), ("time_32", 32),
                ("none_64", 64), ("edge_64", 64)]:
    r = load(name)
    base = load("none_%d" % T)
    if r is None or base is None:
        continue
    cut = r["cuts"][0] if r["cuts"] else None
    cut_cell = "-" if cut is None else "%.1f (%.1f, %.1f, %.1f)" % (cut["bytes"], cut["bytes_aer"], cut["bytes_bitmap"],
                                                                     cut["bytes_delta"])
    dnn_cell = "-" if cut is None else "%.0f / %.0f" % (cut["dnn_bytes_fp32"], cut["dnn_bytes_int8"])
    print("| %s | %d | %.2f | %+.2f | %.0f | %.2fx | %.1f | %s | %s | %s | %.2f (%.2f) |" % (
        name, T, 100 * r["accuracy"], 100 * (r["accuracy"] - base["accuracy"]), ops(r), ops(base) / ops(r),
        r["steps_per_sample"], exits_cell(r), cut_cell, dnn_cell, r["energy_pj_per_sample"] * 1e-6,
        r["dnn_energy_pj_per_sample"] * 1e-6))
