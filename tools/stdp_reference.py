#!/usr/bin/python3
"""Independent reference for the deterministic STDP rules of sim/plasticity.cpp.

Written the way NEST's stdp_synapse computes a weight (event by event, lazily),
not the way the C++ code does (traces decayed step by step): every pairing
term is summed directly from the spike times, e.g. the all-to-all pre trace
seen by a post spike at t is sum_k exp(-(t - t_k)/tau_plus) over the pre
spikes t_k < t. The tests of tests/sim/test_plasticity.cpp compare the C++
rule against this, spike train by spike train.

Usage: stdp_reference.py IN.json OUT.json
IN:  {"rule": {...RuleSpec fields...}, "w0": float, "pre": [steps], "post": [steps]}
     rule: {"kind": "pair", "a_plus", "a_minus", "tau_plus", "tau_minus",
            "w_min", "w_max", "form": "additive"|"multiplicative",
            "pairing": "all-to-all"|"nearest"}
        or {"kind": "diehl-cook", "nu_pre", "nu_post", "tau_pre", "tau_post1",
            "tau_post2", "w_max", "mu"}
OUT: {"pre": [the pre spike steps, sorted], "w": [weight at the end of each of those steps]}

Semantics (from NEST, and from Diehl & Cook's Brian code; see the comments in
sim/plasticity.cpp for why):
  pair: coincident pre and post spikes do not pair; in a step, the post spike
        is handled before the pre spike; w is clipped to [w_min, w_max] after
        every change.
  diehl-cook: in a step the pre spike is handled before the post spike (Brian2
        runs on_pre before on_post), so a post spike sees the trace of a pre
        spike in the same step; w is clipped to [0, w_max].
"""
import json
import sys

import numpy as np


def pair_reference(r, pre, post, w0):
    a_plus, a_minus = r["a_plus"], r["a_minus"]
    tau_plus, tau_minus = r["tau_plus"], r["tau_minus"]
    w_min, w_max = r["w_min"], r["w_max"]
    multiplicative = r["form"] == "multiplicative"
    nearest = r["pairing"] == "nearest"

    def kernel(t, earlier, tau):
        # Sum over the earlier spikes of the other side (all-to-all), or only the latest (nearest).
        if earlier.size == 0:
            return 0.0
        if nearest:
            return float(np.exp(-(t - earlier.max()) / tau))
        return float(np.exp(-(t - earlier) / tau).sum())

    # (step, order, kind): at equal steps the post spike (order 0) comes first.
    events = sorted([(t, 0, "post") for t in post] + [(t, 1, "pre") for t in pre])
    w, out = float(w0), []
    for t, _, kind in events:
        if kind == "post":
            k = kernel(t, pre[pre < t], tau_plus)
            f = (w_max - w) / (w_max - w_min) if multiplicative else 1.0
            w = min(max(w + a_plus * f * k, w_min), w_max)
        else:
            k = kernel(t, post[post < t], tau_minus)
            f = (w - w_min) / (w_max - w_min) if multiplicative else 1.0
            w = min(max(w - a_minus * f * k, w_min), w_max)
            out.append(w)
    return out


def diehl_cook_reference(r, pre, post, w0):
    nu_pre, nu_post, w_max, mu = r["nu_pre"], r["nu_post"], r["w_max"], r["mu"]

    def latest(t, spikes, tau, inclusive):
        # Traces are set to 1 at a spike, so a trace is exp(-(t - t_latest)/tau).
        earlier = spikes[spikes <= t] if inclusive else spikes[spikes < t]
        return 0.0 if earlier.size == 0 else float(np.exp(-(t - earlier.max()) / tau))

    w, out = float(w0), []
    for t in sorted(set(pre.tolist()) | set(post.tolist())):
        if t in pre:
            post1 = latest(t, post, r["tau_post1"], inclusive=False)
            w = min(max(w - nu_pre * post1 * w**mu, 0.0), w_max)
        if t in post:
            pre_trace = latest(t, pre, r["tau_pre"], inclusive=True)
            post2_before = latest(t, post, r["tau_post2"], inclusive=False)
            w = min(max(w + nu_post * pre_trace * post2_before * (w_max - w) ** mu, 0.0), w_max)
        if t in pre:
            out.append(w)  # the weight at the end of the step, a post spike of the same step included
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: stdp_reference.py IN.json OUT.json")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    pre = np.array(sorted(spec["pre"]), dtype=np.float64)
    post = np.array(sorted(spec["post"]), dtype=np.float64)
    rule = spec["rule"]
    if rule["kind"] == "pair":
        w = pair_reference(rule, pre, post, spec["w0"])
    elif rule["kind"] == "diehl-cook":
        w = diehl_cook_reference(rule, pre, post, spec["w0"])
    else:
        sys.exit("stdp_reference.py: unknown rule kind %r" % rule["kind"])
    with open(sys.argv[2], "w") as f:
        json.dump({"pre": [int(t) for t in pre], "w": w}, f)


if __name__ == "__main__":
    main()
