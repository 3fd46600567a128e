#!/usr/bin/python3
"""Draw STDP windows written by `snn stdp-curve --json`.

    snn stdp-curve --rule pair --json > pair.json
    snn stdp-curve --rule stochastic --trials 20000 --json > stochastic.json
    /usr/bin/python3 tools/plot_stdp.py pair.json [stochastic.json ...] -o stdp.png [--label NAME ...]

Each file is a list of {"dt", "dw"} (dt = t_post - t_pre in steps); stochastic
curves also carry "p_up" and "p_down", drawn as the probability of switching
up (dt >= 0 side) and, negated, of switching down. One line per file; the PNG is
written to a temporary name and renamed into place. Runs on Debian's
/usr/bin/python3 with python3-matplotlib.
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("curves", nargs="+", help="JSON files from snn stdp-curve --json")
    ap.add_argument("-o", "--output", default="stdp.png", help="PNG to write")
    ap.add_argument("--label", action="append", default=[], help="legend entry per file, in order")
    a = ap.parse_args()
    if a.label and len(a.label) != len(a.curves):
        sys.exit("plot_stdp.py: give one --label per curve file (%d files, %d labels)" % (len(a.curves), len(a.label)))

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    stochastic = False
    for k, path in enumerate(a.curves):
        try:
            with open(path) as f:
                points = json.load(f)
            dt = [int(p["dt"]) for p in points]
            dw = [float(p["dw"]) for p in points]
        except (OSError, ValueError, KeyError, TypeError) as e:
            sys.exit("plot_stdp.py: %s: not an snn stdp-curve JSON list (%s)" % (path, e))
        label = a.label[k] if a.label else os.path.basename(path)
        if points and "p_up" in points[0]:
            stochastic = True
            up = [p["p_up"] for p in points]
            down = [-p["p_down"] for p in points]
            line, = ax.plot(dt, up, ".-", ms=3, label=label + ": P(switch up)")
            ax.plot(dt, down, ".--", ms=3, color=line.get_color(), label=label + ": -P(switch down)")
        else:
            ax.plot(dt, dw, ".-", ms=3, label=label)
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlabel("Δt = t_post − t_pre (steps)")
    ax.set_ylabel("switch probability (signed)" if stochastic else "Δw")
    ax.set_title("STDP window")
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = a.output + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, a.output)
    print("wrote", a.output)


if __name__ == "__main__":
    main()
