#!/usr/bin/env bash
# Regenerates docs/results.md: every measured figure the docs refer to, with
# the machine, the build and the date of the run in its header.
#
#   tools/results.sh [--quick] [--no-peers] [--no-learn] [--latency] [-o FILE]
#
# Full (default; about 2 hours on 2 cores, more with --latency):
#   accuracy against steps   tools/acceptance.sh (plain conversion, full test
#                            sets) and the default conversion of the shipped
#                            models, full test sets, 256 steps
#   VWW probes               tools/vww_experiment.sh (10 minutes; both modes)
#   exits and partitions     tools/exits_experiment.sh
#   binary layers            tools/binary_experiment.sh (with the kernel
#                            micro-benchmark)
#   STDP learning            tools/learn_experiment.sh (--no-learn skips it)
#   peers                    tools/bench/bench.py --models cnn --steps 64
#                            (PyTorch, Brian2; --no-peers skips it; needs
#                            tools/bench/setup.sh's packages)
#   --latency                also tools/latency_ablation.py (35 minutes)
# --quick (about 15 minutes): the same commands on fewer samples (first 1,000
#   test images, 200 for ResNet-8; exits on T=32 only, fitted on 2,000 and
#   chosen on 1,000 training images; STDP on 6,000 training images; peers on
#   1,000 images, Brian2 on 50); tools/binary_experiment.sh as in full.
#
# Raw outputs go to out/results/ (and the experiment scripts' own out/
# folders). Needs tools/setup.sh; builds with tools/build.sh if build/snn is
# missing. The machine may be shared: run it under `nice`, and read images/s
# as this run's, not as the program's speed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0 peers=1 learn=1 latency=0 dest="$root/docs/results.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --no-peers) peers=0 ;;
        --no-learn) learn=0 ;;
        --latency) latency=1 ;;
        -o) dest="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "results: unknown argument $1 (see --help)" >&2; exit 1 ;;
    esac
    shift
done
[ -x "$root/build/snn" ] || "$root/tools/build.sh"
out="$root/out/results"
rm -rf "$out"
mkdir -p "$out"
snn="$out/snn" # a copy: a rebuild during the run changes nothing
cp "$root/build/snn" "$snn"
threads="$(nproc)"
shared="${SNN_SHARED_DIR:-$root/../shared}/data/keras-real"
py=/usr/bin/python3
started="$(date +%s)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
if [ $quick = 1 ]; then limit=(--limit 1000); rlimit=(--limit 200); else limit=(); rlimit=(); fi
log() { echo "== results: $*" >&2; }

# --- accuracy against time steps -------------------------------------------
acc="$out/accuracy"
mkdir -p "$acc"
convert_and_run() { # name model calib data steps limit-array-name convert-flags... -- run-flags...
    local name=$1 model=$2 calib=$3 data=$4 steps=$5 lim=$6
    shift 6
    local conv=() run=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do conv+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    run=("$@")
    local -n l="$lim"
    log "accuracy: $name"
    "$snn" convert "$model" -o "$acc/$name.snn.h5" --calib "$calib" --calib-samples 1000 "${conv[@]}" >/dev/null
    "$snn" run "$acc/$name.snn.h5" --data "$data" --steps "$steps" --threads "$threads" -q \
        --report "$acc/$name.json" "${l[@]}" "${run[@]}"
}
plain=(--norm percentile:99.9 --norm-granularity layer --v-init 0 --readout spikes)
models=("mnist_mlp mnist" "mnist_cnn mnist" "mnist_cnn_bn_maxpool mnist" "fashion_cnn fashion-mnist")
if [ $quick = 1 ]; then
    for m in "${models[@]}"; do
        set -- $m
        convert_and_run "$1" "$root/data/models/$1.h5" "$2:train" "$2:test" 256 limit "${plain[@]}"
    done
    if [ -d "$shared" ]; then
        convert_and_run real_mnist_dnn "$shared/mnist_dnn_model.h5" mnist:train mnist:test 128 limit "${plain[@]}"
        convert_and_run real_mnist_cnn "$shared/mnist_cnn_model.h5" mnist:train mnist:test 128 limit "${plain[@]}"
        $py "$root/tools/make_rgb_digits.py" --split train --count 1000 --scale 255 -o "$acc/rgb_train.h5" >/dev/null
        $py "$root/tools/make_rgb_digits.py" --split test --count 1000 --scale 255 -o "$acc/rgb_test.h5" >/dev/null
        r8="$shared/cifar10_resnet8_pretrainedResnet.h5"
        convert_and_run resnet8 "$r8" "$acc/rgb_train.h5" "$acc/rgb_test.h5" 256 rlimit "${plain[@]}"
        convert_and_run resnet8_vinit_membrane "$r8" "$acc/rgb_train.h5" "$acc/rgb_test.h5" 256 rlimit \
            --norm percentile:99.9 --v-init 0.5 --norm-granularity layer --readout spikes -- --readout membrane
        convert_and_run resnet8_signed_max_membrane "$r8" "$acc/rgb_train.h5" "$acc/rgb_test.h5" 256 rlimit \
            --norm max --v-init 0.5 --signed-spikes --norm-granularity layer --readout spikes -- --readout membrane
    fi
else
    log "tools/acceptance.sh"
    "$root/tools/acceptance.sh" >/dev/null
    cp "$root"/out/acceptance/*.json "$acc/"
fi
plain_reports=("$acc"/*.json)
for m in "${models[@]}" "mnist_mobilenet mnist"; do
    set -- $m
    convert_and_run "${1}_default" "$root/data/models/$1.h5" "$2:train" "$2:test" 256 limit
done
$py "$root/tools/summarize_reports.py" "${plain_reports[@]}" >"$out/accuracy_plain.md"
$py "$root/tools/summarize_reports.py" "$acc"/*_default.json >"$out/accuracy_default.md"
$py - "$acc"/*_default.json >"$out/spikes_default.md" <<'PY'
import json, os, sys
print("| model | T | spikes/sample | spike rate | synaptic ops/sample | SNN energy µJ/sample | DNN energy µJ/sample | layers: spikes/sample |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for p in sys.argv[1:]:
    r = json.load(open(p))
    neurons = sum(l["neurons"] for l in r["layers"])
    print("| %s | %d | %.0f | %.4f | %.3g | %.2f | %.2f | %s |" % (
        os.path.basename(p)[:-len("_default.json")], r["steps"], r["spikes_per_sample"],
        r["spikes_per_sample"] / (neurons * r["steps"]), r["synaptic_ops_per_sample"],
        r["energy_pj_per_sample"] * 1e-6, r["dnn_energy_pj_per_sample"] * 1e-6,
        ", ".join("%s %.0f" % (l["name"], l["spikes_per_sample"]) for l in r["layers"])))
PY
$py - "$acc"/*_default.json >"$out/operating_default.md" <<'PY'
import json, os, sys
print("| model | DNN % | step | SNN % at step | synaptic ops/sample | SNN energy µJ/sample | DNN energy µJ/sample | SNN energy over all T steps µJ |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for p in sys.argv[1:]:
    r = json.load(open(p))
    o = r.get("operating_point")
    name = os.path.basename(p)[:-len("_default.json")]
    if not o:
        print("| %s | %.2f | not reached | | | | | %.2f |" % (name, 100 * r["dnn_accuracy"], r["energy_pj_per_sample"] * 1e-6))
        continue
    print("| %s | %.2f | %d | %.2f | %.3g | %.2f | %.2f | %.2f |" % (
        name, 100 * o["dnn_accuracy"], o["step"], 100 * o["accuracy"], o["synaptic_ops_per_sample"],
        o["energy_pj_per_sample"] * 1e-6, o["dnn_energy_pj_per_sample"] * 1e-6, r["energy_pj_per_sample"] * 1e-6))
PY

# --- visual wake words probes ------------------------------------------------
if [ -f "$shared/tiny_vww_96_mobilenet.h5" ]; then
    log "tools/vww_experiment.sh"
    SNN="$snn" "$root/tools/vww_experiment.sh" "$out/vww" >/dev/null
    cp "$out/vww/summary.md" "$out/vww.md"
else
    echo "Skipped: \`../shared/data/keras-real/tiny_vww_96_mobilenet.h5\` is not here." >"$out/vww.md"
fi

# --- exits, partitions, cut traffic, energy --------------------------------
if [ $quick = 1 ]; then
    ex="$out/exits"
    mkdir -p "$ex"
    place() { "$snn" exits place "$@" --data mnist:train --train-samples 2000 --val-samples 1000 --threads "$threads" >/dev/null; }
    run() { "$snn" run "$@" --data mnist:test --threads "$threads" -q "${limit[@]}"; }
    log "exits (quick)"
    "$snn" convert "$root/data/models/mnist_cnn.h5" -o "$ex/cnn.snn.h5" --calib mnist:train >/dev/null
    "$snn" partition "$ex/cnn.snn.h5" edge:conv1-pool1,cloud:conv2-dense >/dev/null
    run "$ex/cnn.snn.h5" --steps 32 --report "$ex/none_32.json"
    place "$ex/cnn.snn.h5" -o "$ex/edge_32.snn.h5" --steps 32 --candidates pool1 --no-temporal
    run "$ex/edge_32.snn.h5" --steps 32 --report "$ex/edge_32.json"
    place "$ex/cnn.snn.h5" -o "$ex/any_32.snn.h5" --steps 32
    run "$ex/any_32.snn.h5" --steps 32 --report "$ex/any_32.json"
    place "$ex/cnn.snn.h5" -o "$ex/time_32.snn.h5" --steps 32 --candidates none --max-accuracy-drop 0.3
    run "$ex/time_32.snn.h5" --steps 32 --report "$ex/time_32.json"
else
    log "tools/exits_experiment.sh"
    "$root/tools/exits_experiment.sh" >/dev/null
    ex="$root/out/exits"
fi
$py "$root/tools/exits_summary.py" "$ex" >"$out/exits.md"

# --- lossy links across the cut ------------------------------------------------
log "tools/cut_loss_sweep.py"
"$snn" convert "$root/data/models/mnist_cnn.h5" -o "$out/cnn_loss.snn.h5" --calib mnist:train >/dev/null
for burst in 0 4; do
    if [ $burst = 0 ]; then losses=0,0.1,0.3,0.5,0.7,0.9; else losses=0.2,0.4,0.6,0.8; fi
    $py "$root/tools/cut_loss_sweep.py" "$out/cnn_loss.snn.h5" --partition edge:conv1-pool1,cloud:conv2-dense \
        --snn "$snn" --steps 32 --limit "$([ $quick = 1 ] && echo 1000 || echo 10000)" --losses "$losses" \
        --burst "$burst" --out "$out/cut_loss_$burst" >/dev/null
    sed '1,2d' "$out/cut_loss_$burst/sweep.md" >"$out/cut_loss_$burst.md"
done

# --- binary layers ---------------------------------------------------------
log "tools/binary_experiment.sh"
"$root/tools/binary_experiment.sh" >/dev/null
sed '1,2d' "$root/out/binary/summary.md" >"$out/binary.md" # drop its own heading

# --- STDP learning -----------------------------------------------------------
if [ $learn = 1 ]; then
    if [ $quick = 1 ]; then
        ln_="$out/learn"
        mkdir -p "$ln_"
        for rule in diehl-cook stochastic; do
            log "learn (quick): $rule"
            /usr/bin/time -f "%e s, %M KiB" -o "$ln_/${rule}_100.time" \
                "$snn" learn --neurons 100 --rule "$rule" --limit 6000 --test-limit 1000 --threads 1 --seed 1 -q \
                --report "$ln_/${rule}_100.json" -o "$ln_/${rule}_100.snn.h5"
            "$snn" run "$ln_/${rule}_100.snn.h5" --data mnist:test --encode poisson --threads "$threads" -q \
                --limit 1000 --report "$ln_/${rule}_100_run.json"
        done
    else
        log "tools/learn_experiment.sh"
        "$root/tools/learn_experiment.sh" >/dev/null
        ln_="$root/out/learn"
    fi
    $py - "$ln_" >"$out/learn.md" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
print("| rule | neurons | weights | weight bytes | training images | test accuracy % (snn learn) | snn run on the file % | train accuracy % | learn + label + test time, peak memory |")
print("|---|---:|---|---:|---:|---:|---:|---:|---|")
rows = []
for path in sorted(glob.glob(os.path.join(d, "*_[0-9]*.json"))):
    if path.endswith("_run.json"):
        continue
    name = os.path.basename(path)[:-5]
    j = json.load(open(path))
    run = json.load(open(os.path.join(d, name + "_run.json")))
    t = open(os.path.join(d, name + ".time")).read().strip().splitlines()[-1]
    rows.append((j["neurons"], j["binary"], "| %s | %d | %s | %d | %s | %.2f | %.2f | %.2f | %s |" % (
        j["rule"].split(":")[0], j["neurons"], "binary {0,1}" if j["binary"] else "float32", j["weight_bytes"],
        j.get("train_samples", j.get("samples", "")), 100 * j["accuracy"], 100 * run["accuracy"],
        100 * j["train_accuracy"], t)))
for r in sorted(rows):
    print(r[2])
PY
fi

# --- peers -----------------------------------------------------------------
if [ $peers = 1 ]; then
    if $py -c "import torch, brian2" 2>/dev/null; then
        log "peers: tools/bench/bench.py"
        if [ $quick = 1 ]; then bl=(--limit 1000 --brian-limit 50); else bl=(--brian-limit 200); fi
        $py "$root/tools/bench/bench.py" --models cnn --steps 64 --threads 1,2 "${bl[@]}" --out "$out/bench" >/dev/null
        cp "$out/bench/bench.md" "$out/peers.md"
    else
        echo "Skipped: PyTorch or Brian2 is not installed (\`tools/bench/setup.sh\` installs them)." >"$out/peers.md"
    fi
fi

# --- latency ablation (optional) -----------------------------------------------
if [ $latency = 1 ]; then
    log "tools/latency_ablation.py"
    $py "$root/tools/latency_ablation.py" --snn "$snn" --out "$out/latency" >/dev/null
    sed -e 's/^# /### /' "$out/latency/latency.md" >"$out/latency.md"
fi

# --- docs/results.md ---------------------------------------------------------
minutes=$(( ($(date +%s) - started + 59) / 60 ))
cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$root/build/CMakeCache.txt" 2>/dev/null || true)"
native="$(sed -n 's/^SNN_NATIVE:BOOL=//p' "$root/build/CMakeCache.txt" 2>/dev/null || true)"
isa="$($py -c 'import json,sys; e=json.load(open(sys.argv[1]))["execution"]; print(e.get("float_isa","?"), e.get("popcount","?"))' \
    "$acc/mnist_cnn_default.json" 2>/dev/null || echo "? ?")"
mode="full"; [ $quick = 1 ] && mode="quick (\`--quick\`: fewer samples, see each section)"
cmd="tools/results.sh"; [ $quick = 1 ] && cmd="tools/results.sh --quick"
tmp="$dest.tmp.$$"
{
cat <<EOF
# Results

Every measured figure the docs refer to, written by one command:
\`$cmd\` (\`tools/results.sh --help\` for what each mode runs). Rerun it to
replace this page; figures of past runs are kept in [CHANGELOG.md](../CHANGELOG.md).

| run | |
|---|---|
| date | $(date -u +%Y-%m-%d) (UTC), $minutes minutes |
| mode | $mode |
| CPU | $cpu, $(nproc) cores ($(nproc --all) online) |
| build | ${build_type:-?}, SNN_NATIVE=${native:-?}; \`$("$snn" --version)\`; kernels: float ${isa% *}, popcount ${isa#* } |
| load average (1, 5, 15 min) | $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end |

Timings (images/s, seconds) are this run's on this machine. It may have been
shared with other jobs (the load averages above say how busy it was; above
$(nproc) the run competed for its $(nproc) cores), and a small virtual machine's speed can move by ±20 % from one
run to the next: compare figures within one table, not across runs.
Accuracies, spike and operation counts do not depend on the machine or the
thread count.

## Accuracy against time steps

The plain conversion (calibration on the first 1,000 training images,
percentile 99.9, one λ per layer, IF, reset by subtraction, \`--v-init 0\`,
spike-count readout; the commands of \`tools/acceptance.sh\`), \`current\`
encoding, $([ $quick = 1 ] && echo "the first 1,000 test images (ResNet-8: 200)" || echo "the full test sets (ResNet-8: 1,000 images)").
Accuracy in % at T steps; "DNN" is the same network with ReLU in place of
spikes on the same samples; "agree" the fraction of samples where the SNN's
class equals the DNN's. \`real_*\`: third-party MNIST models
(\`../shared/data/keras-real/\`), 128 steps. \`resnet8*\`: the MLPerf-Tiny
ResNet-8 on MNIST digits padded to 32×32×3 (\`tools/make_rgb_digits.py\`; its DNN
is near chance on them, so agreement is what counts); the suffixes name the
conversion and readout ([conversion.md](conversion.md)).

$(cat "$out/accuracy_plain.md")

The default conversion (\`snn convert MODEL --calib D\`: one λ per channel,
\`--v-init 0.5\`, membrane readout; [latency.md](latency.md)), same samples,
and the depthwise-separable \`mnist_mobilenet\`:

$(cat "$out/accuracy_default.md")

Spikes, synaptic operations and energy per sample of the default conversion
over the whole run (T steps), with the energy of the DNN's multiply-adds for
the same network by the default cost table ([exits.md](exits.md#energy)):

$(cat "$out/spikes_default.md")

The operating point of each ([running.md](running.md#operating-point)): the
first checkpoint step whose accuracy is within 0.3 points of the DNN's, with
the operations and energy per input counted up to that step:

$(cat "$out/operating_default.md")

## Visual wake words probes

The MLPerf Tiny VWW MobileNetV1 against its own DNN on 200 probe images
(\`tools/vww_experiment.sh\`; [conversion.md](conversion.md)): agreement of
the SNN's class with the DNN's at 256 steps, by probe kind and by the DNN's
logit margin as a fraction of the median margin; the conversion recipe
(\`layer_p9999_signed\`: \`--norm-granularity layer --norm percentile:99.99
--signed-spikes\`) was chosen on another seed's probes.

$(cat "$out/vww.md")

## Exits, partitions and cut traffic

The shipped MNIST CNN, default conversion, split \`edge:conv1-pool1,cloud:conv2-dense\`
([exits.md](exits.md)); exits fitted and placed on training images
($([ $quick = 1 ] && echo "2,000 and the next 1,000; T = 32 only; the first 1,000 test images" || echo "5,000 and the next 2,000 (\`tools/exits_experiment.sh\`); the full test set")).
\`none\`: no exits; \`edge\`: one exit at pool1 (end of the edge), within 0.5
points; \`any\`: exits anywhere, in depth and in time; \`time\`: an exit in time
on the output, within 0.3 points. "ops" are synaptic operations plus the exit
classifiers' work per input; bytes per test input across the cut.

$(cat "$out/exits.md")

### Lossy links

The same split under \`snn run --cut-loss\` ([exits.md](exits.md#lossy-links)),
$([ $quick = 1 ] && echo "the first 1,000 test images" || echo "the full test set"), 32 steps, by
\`tools/cut_loss_sweep.py\`: each spike lost on its own with probability P,
and the DNN with each activation crossing the cut lost alike:

$(cat "$out/cut_loss_0.md")

Whole steps' messages lost in bursts of 4 steps on average (P of the steps);
the DNN sends one message per input, lost with probability P:

$(cat "$out/cut_loss_4.md")

## Binary layers

\`tools/binary_experiment.sh\`: the shipped binary-weight CNN
(\`data/models/mnist_bcnn.h5\`) as a binary SNN and as the float SNN of the
same shape, and the float CNN with \`--binarize conv2\`; one λ per layer on
1,000 training images; full MNIST test set, 64 steps, one thread
([binary.md](binary.md)).

$(cat "$out/binary.md")

## Kernel micro-benchmark

\`build/snn_bench_kernels --seconds 1\` (run by \`tools/binary_experiment.sh\`),
one thread: synaptic events per second of each float and binary kernel, neuron
updates per second, and the memory bandwidth and popcount ceiling measured on
the spot ([performance.md](performance.md#kernels)).

\`\`\`
$(cat "$root/out/binary/kernels.txt")
\`\`\`
EOF
if [ $learn = 1 ]; then
cat <<EOF

## STDP learning

One excitatory layer learned without labels ([learning.md](learning.md)),
$([ $quick = 1 ] && echo "100 units on the first 6,000 training images (one pass), labels assigned on them, tested on the first 1,000 test images" || echo "one pass over the 60,000 training images (\`tools/learn_experiment.sh\`), labels assigned on them, tested on the 10,000 test images"); learning on one
thread, seed 1. "snn run on the file" reruns the written network with \`snn run --encode poisson\`.

$(cat "$out/learn.md")
EOF
fi
if [ $peers = 1 ]; then
cat <<EOF

## Against PyTorch and Brian2

\`tools/bench/bench.py --models cnn --steps 64 --threads 1,2$([ $quick = 1 ] && echo " --limit 1000 --brian-limit 50" || echo " --brian-limit 200")\`:
the same converted IF network (the MNIST CNN, default conversion, \`current\`
encoding) in \`snn run\`, in PyTorch (dense tensors per step, batch 256) and in
Brian2, on the same images ([performance.md](performance.md#benchmarks)).

$(cat "$out/peers.md")
EOF
fi
if [ $latency = 1 ]; then
cat <<EOF

## Every conversion option, 4 to 256 steps

\`tools/latency_ablation.py\` ([latency.md](latency.md)), full test sets.

$(cat "$out/latency.md")
EOF
fi
} >"$tmp"
mv "$tmp" "$dest"
log "wrote $dest ($minutes minutes)"
