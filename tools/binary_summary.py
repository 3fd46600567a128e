#!/usr/bin/env python3
"""Summarizes tools/binary_experiment.sh's output directory as markdown.

    /usr/bin/python3 tools/binary_summary.py out/binary > out/binary/summary.md
"""
import json
import os
import sys


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def main():
    d = sys.argv[1]
    ib, fl = load(d, "inspect_binary.json"), load(d, "inspect_float.json")
    print("## Binary layers: measured\n")
    bb, fb = ib["totals"]["bytes"], fl["totals"]["bytes"]
    print("Weight bytes by `snn inspect` (all layers, biases included): binary SNN %d, float SNN of the same shape %d: "
          "**%.1fx fewer**.\n" % (bb, fb, fb / bb))
    print("| network | accuracy at 64 steps | DNN accuracy | images/s, 1 thread | binary ops/image | float adds/image | energy µJ/image |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for net, label in [("bcnn", "mnist_bcnn, binary SNN"), ("bcnn_float", "mnist_bcnn, float SNN (--no-binary)"),
                       ("cnn_conv2_binary", "mnist_cnn, --binarize conv2")]:
        r = load(d, "run_%s.json" % net)
        part = r["partitions"][0]
        print("| %s | %.2f %% | %.2f %% | %.1f | %.0f | %.0f | %.3f |" % (
            label, 100 * r["accuracy"], 100 * r["dnn_accuracy"], r["samples_per_second"], part["binary_ops"],
            part["synaptic_adds"], r["energy_pj_per_sample"] * 1e-6))
    r = load(d, "run_bcnn.json")
    print("\nBinary SNN against the binary DNN (XNOR-Net: ±1 activations, every connection once per image), "
          "per image, MNIST test set, 64 steps:\n")
    print("| layer | SNN binary ops | XNOR-DNN binary ops | SNN input bits, bitmap per step | SNN input bits, addresses | XNOR-DNN input bits |")
    print("|---|---:|---:|---:|---:|---:|")
    for l in r["layers"]:
        if not l.get("binary"):
            continue
        print("| %s | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
            l["name"], l["binary_ops_per_sample"], l["xnor_dnn"]["binary_ops"], l["snn_input_bits_bitmap"],
            l["snn_input_bits_aer"], l["xnor_dnn"]["input_bits"]))
    k = load(d, "kernels.json")
    print("\nKernel micro-benchmark (`build/snn_bench_kernels`, one thread). Popcount ceiling, words/s: " +
          ", ".join("%s %.2f G" % (isa, w / 1e9) for isa, w in k["popcount_ceiling_words_per_second"].items()) + ".\n")
    print("| kernel | isa | spike rate | G events/s | vs float event kernel | G words/s | of the popcount ceiling |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for b in k["binary"]:
        if "spike_rate" not in b:
            continue
        print("| %s | %s | %.0f %% | %.1f | %.1fx | %s | %s |" % (
            b["kernel"], b["isa"], 100 * b["spike_rate"], b["events_per_second"] / 1e9, b["vs_float_event"],
            "%.2f" % (b["words_per_second"] / 1e9) if "words_per_second" in b else "",
            "%.0f %%" % (100 * b["of_ceiling"]) if "of_ceiling" in b else ""))
    for b in k["binary"]:
        if b["kernel"].startswith("xnor"):
            print("\nXNOR baseline %s: %.1f G binary ops/s." % (b["isa"], b["binary_ops_per_second"] / 1e9))


if __name__ == "__main__":
    main()
