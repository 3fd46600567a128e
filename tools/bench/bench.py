#!/usr/bin/python3
"""snn against its peers on the same converted networks (issue 3's benchmark).

  /usr/bin/python3 tools/bench/bench.py [--models mlp,cnn,cnn_bn_maxpool] [--steps 32,64,128]
                                        [--threads 1,2] [--limit N] [--brian-limit N] [--no-brian]
                                        [--repeats R]

For every shipped MNIST model: converts it with snn's defaults (calibration on
mnist:train), then, for every step count and thread count, runs

  snn run NET --data mnist:test --encode current --steps T --threads N --no-dnn
  tools/bench/peers.py NET --peer torch --steps T --threads N  (batch 256)

and, for the CNN with average pooling at 64 steps on one thread, Brian2's
cpp_standalone and runtime targets on the first --brian-limit images (they
are slow; images/s is a rate, so fewer images compare fairly).

snn runs --repeats times (default 3) per model and step count, its thread
counts taking turns (1, 2, 1, 2, ...): its images/s is the median of its
runs, and `snn 2t/1t` the median of the ratios of runs side by side, so that a
machine whose speed drifts from one minute to the next (a shared VM) moves
both alike. Its range is in the table; every run's figure in the JSON. The
peers run once each (a PyTorch run of the test set takes minutes).

Each process runs alone, under /usr/bin/time for its peak memory (max RSS).
images/s is the simulation loop's: snn's report (`seconds`: the samples run,
after loading), the peers' loop (after loading the data and building the
network; Brian2's compile excluded). Every peer's classifications are compared
with snn's (`snn run --predictions`): the agreement column.

Writes OUT/bench.json and OUT/bench.md (default OUT: out/bench) and prints the
markdown table. Needs tools/setup.sh, tools/build.sh and tools/bench/setup.sh.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = {"mlp": "mnist_mlp.h5", "cnn": "mnist_cnn.h5", "cnn_bn_maxpool": "mnist_cnn_bn_maxpool.h5"}


def fail(msg):
    print(f"bench: error: {msg}", file=sys.stderr)
    sys.exit(1)


def timed(cmd, log):
    """Runs cmd under /usr/bin/time; returns (stdout, max RSS in KiB, wall seconds)."""
    rss_file = log + ".rss"
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n" + p.stdout + p.stderr)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} failed ({p.returncode}); see {log}:\n{p.stderr[-2000:]}")
    with open(rss_file) as f:
        rss = int(f.read().strip().splitlines()[-1])
    return p.stdout, rss, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mlp,cnn,cnn_bn_maxpool")
    ap.add_argument("--steps", default="32,64,128")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--limit", type=int, default=None, help="test images (default: all 10,000)")
    ap.add_argument("--brian-limit", type=int, default=200, help="images for Brian2 (default 200)")
    ap.add_argument("--no-brian", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="snn runs per model, step count and thread count (default 3)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench"))
    a = ap.parse_args()
    models = a.models.split(",")
    for m in models:
        if m not in MODELS:
            fail(f"--models: unknown model '{m}' (expected {', '.join(MODELS)})")
    try:
        steps = [int(s) for s in a.steps.split(",")]
        threads = [int(t) for t in a.threads.split(",")]
    except ValueError:
        fail("--steps and --threads take comma-separated integers")
    if min(steps) < 1 or min(threads) < 1 or (a.limit is not None and a.limit < 1) or a.brian_limit < 1 or a.repeats < 1:
        fail("--steps, --threads, --limit, --brian-limit and --repeats must be positive")
    snn = os.path.join(ROOT, "build", "snn")
    if not os.access(snn, os.X_OK):
        fail(f"{snn}: not built (run tools/build.sh)")
    out = a.out
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "snn")  # a copy: a rebuild during the run changes nothing
    shutil.copy2(snn, exe)
    peers = os.path.join(ROOT, "tools", "bench", "peers.py")
    limit = ["--limit", str(a.limit)] if a.limit else []

    rows = []
    for m in models:
        net = os.path.join(out, m + ".snn.h5")
        subprocess.run([exe, "convert", os.path.join(ROOT, "data", "models", MODELS[m]), "-o", net,
                        "--calib", "mnist:train"], check=True, capture_output=True)
        for T in steps:
            # snn's runs, the thread counts taking turns.
            runs = {th: [] for th in threads}
            for k in range(a.repeats):
                for th in threads:
                    tag = f"{m}_T{T}_t{th}"
                    pred = os.path.join(out, tag + ".pred")
                    rep = os.path.join(out, f"{tag}.{k}.json")
                    _, rss, _ = timed([exe, "run", net, "--data", "mnist:test", "--encode", "current", "--steps", str(T),
                                       "--threads", str(th), "--no-dnn", "-q", "--report", rep, "--predictions",
                                       pred + f".{k}"] + limit, os.path.join(out, f"{tag}.{k}.snn.log"))
                    r = json.load(open(rep))
                    with open(pred + f".{k}") as f:
                        predictions = f.read()
                    if k == 0 and th == threads[0]:
                        first = predictions
                    elif predictions != first:
                        fail(f"snn's predictions differ between runs ({pred}.{k}): they must not depend on threads")
                    runs[th].append({"images_per_s": r["samples_per_second"], "rss_mb": rss / 1024, "report": r})
                    print(f"[{tag}] snn run {k + 1}/{a.repeats}: {r['samples_per_second']:.1f} images/s, "
                          f"{rss / 1024:.0f} MB", flush=True)
            for th in threads:
                tag = f"{m}_T{T}_t{th}"
                pred = os.path.join(out, tag + ".pred")
                shutil.copyfile(pred + ".0", pred)
                r = runs[th][0]["report"]
                ips = [x["images_per_s"] for x in runs[th]]
                row = {"model": m, "steps": T, "threads": th, "images": r["samples"],
                       "snn_images_per_s": statistics.median(ips), "snn_images_per_s_runs": ips,
                       "snn_rss_mb": max(x["rss_mb"] for x in runs[th]),
                       "snn_accuracy": r["accuracy"],
                       "snn_synaptic_ops_per_image": r["synaptic_ops_per_sample"]}
                if th != threads[0]:
                    # Each run against the run just before it with the first thread count.
                    base = [x["images_per_s"] for x in runs[threads[0]]]
                    row["snn_speedup_runs"] = [x / y for x, y in zip(ips, base)]
                print(f"[{tag}] snn {row['snn_images_per_s']:.1f} images/s (median of {a.repeats}), "
                      f"{row['snn_rss_mb']:.0f} MB", flush=True)
                res_json = os.path.join(out, tag + ".torch.json")
                _, rss, _ = timed(["/usr/bin/python3", peers, net, "--peer", "torch", "--steps", str(T), "--threads",
                                   str(th), "--snn-predictions", pred, "--json", res_json] + limit,
                                  os.path.join(out, tag + ".torch.log"))
                t = json.load(open(res_json))
                row.update({"torch_images_per_s": t["images_per_second"], "torch_rss_mb": rss / 1024,
                            "torch_agreement": t["agreement"], "torch_matmul_gflops_1thread": t["matmul_gflops_1thread"],
                            "ratio_vs_torch": row["snn_images_per_s"] / t["images_per_second"]})
                print(f"[{tag}] torch {t['images_per_second']:.1f} images/s, agreement {100 * t['agreement']:.2f} %",
                      flush=True)
                if m == "cnn" and T == 64 and th == 1 and not a.no_brian:
                    for peer in ("brian-standalone", "brian-runtime"):
                        res_json = os.path.join(out, f"{tag}.{peer}.json")
                        _, rss, _ = timed(["/usr/bin/python3", peers, net, "--peer", peer, "--steps", str(T),
                                           "--threads", "1", "--limit", str(a.brian_limit), "--snn-predictions", pred,
                                           "--json", res_json], os.path.join(out, f"{tag}.{peer}.log"))
                        b = json.load(open(res_json))
                        key = peer.replace("-", "_")
                        row.update({f"{key}_images": b["images"], f"{key}_images_per_s": b["images_per_second"],
                                    f"{key}_rss_mb": rss / 1024, f"{key}_agreement": b["agreement"],
                                    f"ratio_vs_{key}": row["snn_images_per_s"] / b["images_per_second"]})
                        if "compile_seconds" in b:
                            row[f"{key}_compile_seconds"] = b["compile_seconds"]
                        print(f"[{tag}] {peer} {b['images_per_second']:.2f} images/s on {b['images']} images",
                              flush=True)
                rows.append(row)

    # More threads against the first thread count, per model and step count:
    # snn's as the median of its side-by-side runs' ratios.
    for row in rows:
        one = [r for r in rows if r["model"] == row["model"] and r["steps"] == row["steps"] and r["threads"] == threads[0]]
        if one and row["threads"] != threads[0]:
            row["snn_speedup_vs_1_thread"] = statistics.median(row["snn_speedup_runs"])
            row["torch_speedup_vs_1_thread"] = row["torch_images_per_s"] / one[0]["torch_images_per_s"]

    with open(os.path.join(out, "bench.json.tmp"), "w") as f:
        json.dump({"rows": rows, "cpu": cpu_name(), "cores": os.cpu_count()}, f, indent=2)
    os.replace(os.path.join(out, "bench.json.tmp"), os.path.join(out, "bench.json"))
    md = table(rows)
    with open(os.path.join(out, "bench.md.tmp"), "w") as f:
        f.write(md)
    os.replace(os.path.join(out, "bench.md.tmp"), os.path.join(out, "bench.md"))
    print(md)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def table(rows):
    n = len(rows[0]["snn_images_per_s_runs"]) if rows else 0
    lines = [f"CPU: {cpu_name()}, {os.cpu_count()} cores. MNIST test set, `current` encoding, default conversion. "
             f"snn: median of {n} runs (thread counts taking turns), its range beside it; "
             "snn 2t/1t: median of the side-by-side runs' ratios. Peers: one run each.", "",
             "| model | T | threads | images | snn images/s | snn range | PyTorch images/s | snn / PyTorch | agreement | "
             "snn 2t/1t | PyTorch 2t/1t | snn max RSS MB | PyTorch max RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        s2 = f"{r['snn_speedup_vs_1_thread']:.2f}" if "snn_speedup_vs_1_thread" in r else ""
        t2 = f"{r['torch_speedup_vs_1_thread']:.2f}" if "torch_speedup_vs_1_thread" in r else ""
        runs = r["snn_images_per_s_runs"]
        lines.append(f"| {r['model']} | {r['steps']} | {r['threads']} | {r['images']} | {r['snn_images_per_s']:.1f} | "
                     f"{min(runs):.1f}–{max(runs):.1f} | "
                     f"{r['torch_images_per_s']:.1f} | {r['ratio_vs_torch']:.2f}x | {100 * r['torch_agreement']:.2f} % | "
                     f"{s2} | {t2} | {r['snn_rss_mb']:.0f} | {r['torch_rss_mb']:.0f} |")
    brian = [r for r in rows if "brian_runtime_images_per_s" in r or "brian_standalone_images_per_s" in r]
    if brian:
        lines += ["", "| model | T | peer | images | peer images/s | snn images/s | snn / peer | agreement | "
                  "compile s | peer max RSS MB |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in brian:
            for key, name in (("brian_standalone", "Brian2 cpp_standalone"), ("brian_runtime", "Brian2 runtime")):
                if f"{key}_images_per_s" not in r:
                    continue
                comp = f"{r[key + '_compile_seconds']:.1f}" if key + "_compile_seconds" in r else ""
                lines.append(f"| {r['model']} | {r['steps']} | {name} | {r[key + '_images']} | "
                             f"{r[key + '_images_per_s']:.2f} | {r['snn_images_per_s']:.1f} | "
                             f"{r['ratio_vs_' + key]:.0f}x | {100 * r[key + '_agreement']:.2f} % | {comp} | "
                             f"{r[key + '_rss_mb']:.0f} |")
    mm = sorted({r["torch_matmul_gflops_1thread"] for r in rows})
    lines += ["", f"PyTorch 1-thread 256×784 by 784×512 product: {', '.join(f'{g:.1f}' for g in mm)} GFLOP/s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
