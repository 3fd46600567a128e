#!/usr/bin/env bash
# Runs across MPI ranks give the single-process report: converts the shipped
# CNN, runs it on the first LIMIT MNIST test images in one process and under
# `mpirun -np K … --distributed data` for K = 2 and 3 (with and without exits,
# with a lossy partition) and `--distributed pipeline` on two and three
# devices (with exits on the edge and at the output, lossy cuts), the
# pipeline also in windows (`--window W`: lock step, a W that does not divide
# the 32 steps, and W = 32), and compares the reports key by key, leaving out only the timings, the
# execution plan (a pipeline's ranks run stage by stage) and what says how the
# run was split (`distributed`, the cuts' message bytes), the predictions
# files, and spike records whose samples come from every rank (h5diff).
# Also: the DNN baseline's int8 pipeline (--dnn-pipeline) across 2 and 3
# ranks predicts what its pass in one process does; the message bytes counted
# by both sides agree; a set-up error on every rank gives one line, not one
# per rank; a pipeline whose rank is killed or stopped ends within
# --timeout + 5 s with one line naming that rank and no report.
#
#   tools/check_distributed.sh SNN [LIMIT]   (LIMIT test images, default 600)
#   tools/check_distributed.sh --without-mpi SNN REASON
#       for an snn built without MPI: checks that it refuses --distributed in
#       one line, then prints REASON and exits 77 (CTest's "skipped")
set -euo pipefail
if [ "${1:-}" = "--without-mpi" ]; then
    set +e
    out="$("$2" run missing.snn.h5 --data mnist:test --distributed data 2>&1)"
    rc=$?
    set -e
    if [ "$rc" -ne 1 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] || ! grep -q "needs an snn built with MPI" <<<"$out"; then
        echo "FAIL: an snn without MPI should refuse --distributed in one line with exit 1; it exited $rc with:"
        echo "$out"
        exit 1
    fi
    echo "refused   --distributed without MPI: $out"
    echo "SKIPPED: ${3:-}"
    exit 77
fi
snn="${1:?usage: tools/check_distributed.sh SNN [LIMIT]}"
limit="${2:-600}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py=/usr/bin/python3
command -v mpirun >/dev/null || { echo "FAIL: mpirun not found (Debian's openmpi-bin; tools/setup.sh installs it)"; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/snn-check-distributed.XXXXXX")"
trap 'pkill -9 -f "$work/" 2>/dev/null || true; rm -rf "$work"' EXIT
# Root in a container: OpenMPI asks for both variables. More ranks than cores
# are fine here (the ranks are small); no single-copy shared memory (not
# every container allows it).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe --mca btl_vader_single_copy_mechanism none)

"$snn" convert "$root/data/models/mnist_cnn.h5" -o "$work/cnn.snn.h5" --calib mnist:train --calib-samples 300 >/dev/null
cp "$work/cnn.snn.h5" "$work/cnn_exit.snn.h5"
"$snn" exits add "$work/cnn_exit.snn.h5" --threshold 0.3 --check-every 8 >/dev/null
# Exits on the edge (after pool1) and at the output: samples leave on either device.
cp "$work/cnn.snn.h5" "$work/cnn_exits.snn.h5"
"$snn" exits train "$work/cnn_exits.snn.h5" --at pool1 --data mnist:train --limit 1000 --steps 16 --iterations 100 \
    --threshold 0.5 --check-every 8 --threads 2 >/dev/null
"$snn" exits add "$work/cnn_exits.snn.h5" --threshold 0.3 --check-every 8 >/dev/null

fail=0
same_reports() { # a.json b.json
    "$py" - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sent = [(c.pop("message_bytes_sent", None), c.pop("message_bytes_received", None)) for c in b.get("cuts", [])]
if any(s != r for s, r in sent):
    print("  message bytes sent and received differ:", sent); sys.exit(1)
# The coded steps in the messages are the meter's bytes, cut by cut. In
# windows shorter than the run, the windows sent before a sample left at an
# exit upstream come on top (none without exits).
d = b.get("distributed", {})
windowed = d.get("window", b["steps"]) < b["steps"]
exits = any(e.get("name") != "output" and e.get("taken", 0) > 0 for e in b.get("exits", []))
payload = [(c.pop("message_payload_bytes", c["bytes"]), c["bytes"]) for c in b.get("cuts", [])]
if any(p != m and not (windowed and exits and p > m) for p, m in payload):
    print("  message payload bytes differ from the meter's bytes:", payload); sys.exit(1)
for k in ("seconds", "samples_per_second", "distributed", "execution"):
    a.pop(k, None); b.pop(k, None)
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k): print("  differs:", k)
    sys.exit(1)
PY
}
check() { # mode ranks name net extra...
    local mode="$1" ranks="$2" name="$3" net="$4"; shift 4
    local args=(run "$work/$net" --data mnist:test --limit "${check_limit:-$limit}" --steps 32 --threads 1 --quiet "$@")
    "$snn" "${args[@]}" --report "$work/one.json" --predictions "$work/one.txt"
    "${mpi[@]}" -np "$ranks" "$snn" "${args[@]}" --distributed "$mode" ${window:+--window "$window"} \
        --report "$work/many.json" --predictions "$work/many.txt"
    local ok=1
    same_reports "$work/one.json" "$work/many.json" || ok=0
    cmp -s "$work/one.txt" "$work/many.txt" || { echo "  predictions differ"; ok=0; }
    "$py" - "$work/many.json" "$ranks" "$mode" "${window:-32}" <<'PY' || { echo "  the report's distributed entry is not {mode: $mode, ranks: $ranks} (with latencies and the window for a pipeline)"; ok=0; }
import json, sys
d = json.load(open(sys.argv[1]))["distributed"]
pipeline = {"latency_ms_mean", "latency_ms_median", "latency_ms_p95", "window"}
keys = {"mode", "ranks"} | (pipeline if sys.argv[3] == "pipeline" else set())
sys.exit(not (set(d) == keys and d["mode"] == sys.argv[3] and d["ranks"] == int(sys.argv[2])
              and (sys.argv[3] != "pipeline" or d["window"] == int(sys.argv[4]))))
PY
    local how="$mode"
    [ -n "${window:-}" ] && how="$mode --window $window"
    if [ "$ok" = 1 ]; then echo "same      $how, $ranks ranks: $name"; else echo "DIFFERENT $how, $ranks ranks: $name"; fail=1; fi
}
two=edge:conv1-pool1,cloud:conv2-dense
three=edge:conv1-pool1,fog:conv2,cloud:dense
for ranks in 2 3; do
    check data "$ranks" cnn cnn.snn.h5
    check data "$ranks" "cnn, exit at the output, poisson" cnn_exit.snn.h5 --encode poisson
    check data "$ranks" "cnn, partition, cut loss 0.1" cnn.snn.h5 --partition "$two" --cut-loss 0.1
done
check pipeline 2 "cnn, edge and cloud" cnn.snn.h5 --partition "$two"
check pipeline 2 "cnn, exits on the edge and at the output" cnn_exits.snn.h5 --partition "$two"
check pipeline 2 "cnn, exits, poisson, burst loss" cnn_exits.snn.h5 --partition "$two" --encode poisson --cut-loss burst:0.2:4
check pipeline 3 "cnn, three devices" cnn.snn.h5 --partition "$three"
check pipeline 3 "cnn, three devices, exits, cut loss 0.1" cnn_exits.snn.h5 --partition "$three" --cut-loss 0.1
# In windows: lock step, 7 steps (32 = 4·7 + 4), and the whole run given as a number; on 200 images.
for window in 1 7 32; do
    check_limit=200 check pipeline 2 "cnn, edge and cloud" cnn.snn.h5 --partition "$two"
    check_limit=200 check pipeline 2 "cnn, exits on the edge and at the output" cnn_exits.snn.h5 --partition "$two"
done
unset window
window=5 check_limit=200 check pipeline 3 "cnn, three devices, exits, poisson, burst loss" cnn_exits.snn.h5 \
    --partition "$three" --encode poisson --cut-loss burst:0.2:4

# The DNN baseline with int8 activations across the cuts (--dnn-pipeline):
# across ranks, the predictions of the pass in one piece; both sides count
# the same message bytes; the int8 codes are one byte per activation.
dnn_check() { # ranks partition name
    local args=(run "$work/cnn.snn.h5" --data mnist:test --limit "$limit" --threads 1 --quiet --no-dnn --dnn-pipeline --partition "$2")
    "$snn" "${args[@]}" --report "$work/one.json" --predictions "$work/one.txt"
    "${mpi[@]}" -np "$1" "$snn" "${args[@]}" --distributed pipeline --report "$work/many.json" --predictions "$work/many.txt"
    local ok=1
    cmp -s "$work/one.txt" "$work/many.txt" || { echo "  predictions differ"; ok=0; }
    "$py" - "$work/one.json" "$work/many.json" "$1" <<'PY' || ok=0
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ok = a["accuracy"] == b["accuracy"] and a["kind"] == b["kind"] == "dnn_int8_pipeline"
for c in b["cuts"]:
    ok &= c["message_bytes_sent"] == c["message_bytes_received"] and c["message_payload_bytes"] == c["activations"]
d = b["distributed"]
ok &= d["mode"] == "pipeline" and d["ranks"] == int(sys.argv[3]) and {"latency_ms_mean", "latency_ms_median", "latency_ms_p95"} <= set(d)
if not ok: print("  reports:", json.dumps(a), json.dumps(b))
sys.exit(not ok)
PY
    if [ "$ok" = 1 ]; then echo "same      DNN int8 pipeline, $1 ranks: $3"; else echo "DIFFERENT DNN int8 pipeline, $1 ranks: $3"; fail=1; fi
}
dnn_check 2 "$two" "cnn, edge and cloud"
dnn_check 3 "$three" "cnn, three devices"
# numpy's int8 pass (tools/dnn_int8_reference.py) on the shipped MLP split after its hidden layer,
# on MNIST images blended with noise, where the int8 codes change some answers.
mnist="${SNN_DATA_DIR:-$root/data/datasets}/mnist"
"$snn" convert "$root/data/models/mnist_mlp.h5" -o "$work/mlp.snn.h5" --calib mnist:train --calib-samples 300 >/dev/null
"$py" "$root/tools/dnn_int8_reference.py" --make-data "$mnist/t10k-images-idx3-ubyte" "$mnist/t10k-labels-idx1-ubyte" 2000 "$work/noisy.h5"
"${mpi[@]}" -np 2 "$snn" run "$work/mlp.snn.h5" --data "$work/noisy.h5" --threads 1 --quiet --no-dnn --dnn-pipeline \
    --partition edge:dense,cloud:dense_1 --distributed pipeline --predictions "$work/many.txt"
if out=$("$py" "$root/tools/dnn_int8_reference.py" "$work/mlp.snn.h5" dense "$work/noisy.h5" "$work/many.txt"); then
    echo "same      DNN int8 pipeline, 2 ranks, numpy's int8 pass: mlp, $(tail -1 <<<"$out")"
else echo "DIFFERENT DNN int8 pipeline, 2 ranks, numpy's int8 pass: mlp"; echo "$out"; fail=1; fi

# A spike record whose samples come from every rank.
"$snn" run "$work/cnn.snn.h5" --data mnist:test --limit 9 --steps 16 --threads 1 --quiet --record "$work/one.h5" --record-samples 7
"${mpi[@]}" -np 3 "$snn" run "$work/cnn.snn.h5" --data mnist:test --limit 9 --steps 16 --threads 1 --quiet \
    --record "$work/many.h5" --record-samples 7 --distributed data
if h5diff "$work/one.h5" "$work/many.h5" >/dev/null; then echo "same      data, 3 ranks: spike record of 7 samples"
else echo "DIFFERENT data, 3 ranks: spike record of 7 samples"; fail=1; fi
"$snn" run "$work/cnn_exits.snn.h5" --data mnist:test --limit 9 --steps 16 --threads 1 --quiet --partition "$three" \
    --record "$work/one.h5" --record-samples 7
"${mpi[@]}" -np 3 "$snn" run "$work/cnn_exits.snn.h5" --data mnist:test --limit 9 --steps 16 --threads 1 --quiet \
    --partition "$three" --record "$work/many.h5" --record-samples 7 --distributed pipeline
if h5diff "$work/one.h5" "$work/many.h5" >/dev/null; then echo "same      pipeline, 3 ranks: spike record of 7 samples"
else echo "DIFFERENT pipeline, 3 ranks: spike record of 7 samples"; fail=1; fi
"${mpi[@]}" -np 3 "$snn" run "$work/cnn_exits.snn.h5" --data mnist:test --limit 9 --steps 16 --threads 1 --quiet \
    --partition "$three" --record "$work/many.h5" --record-samples 7 --distributed pipeline --window 3
if h5diff "$work/one.h5" "$work/many.h5" >/dev/null; then echo "same      pipeline --window 3, 3 ranks: spike record of 7 samples"
else echo "DIFFERENT pipeline --window 3, 3 ranks: spike record of 7 samples"; fail=1; fi

# Every rank fails the same way at set-up: one line, naming the file; mpirun exits non-zero.
set +e
"${mpi[@]}" -np 2 "$snn" run "$work/missing.snn.h5" --data mnist:test --distributed data >"$work/out.txt" 2>&1
rc=$?
set -e
lines=$(grep -c "^snn: error:.*missing.snn.h5" "$work/out.txt" || true)
if [ "$rc" -ne 0 ] && [ "$lines" = 1 ]; then echo "one line  missing network on 2 ranks (exit $rc)"
else echo "FAIL      missing network on 2 ranks: exit $rc, $lines error lines:"; cat "$work/out.txt"; fail=1; fi

# Faults in a pipeline. A rank killed: mpirun ends the job at once, sending
# the others SIGTERM, and each of them prints one line naming the rank it
# waited for or talks with (sim/mpi/stop_notice.hpp); with `mpirun -q` those
# lines are all the job prints. The edge rank stopped, as a link that stays
# down would leave it: the cloud's --timeout ends the run with a line naming
# rank 0. Either way the run ends non-zero within --timeout + 5 s and writes
# no report.
cpu_seconds() { # pid: user + system CPU seconds so far
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
rank_pid() { # rank: its process (OpenMPI puts each rank's number in its environment)
    local pid
    for pid in $(pgrep -f "^$snn run $work/cnn.snn.h5" || true); do
        if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then echo "$pid"; return; fi
    done
}
fault() { # rank signal expected-line lines busy extra...: `lines` the number of lines the job may print (0: any),
          # `busy` the CPU seconds the rank has run when it is sent the signal
    local victim="$1" signal="$2" expected="$3" lines="$4" busy="$5" timeout=3
    shift 5
    rm -f "$work/fault.json"
    "${mpi[@]}" -q -np 2 "$snn" run "$work/cnn.snn.h5" --data mnist:test --steps 32 --threads 1 --quiet --no-dnn \
        --partition "$two" --distributed pipeline --timeout "$timeout" --report "$work/fault.json" "$@" >"$work/fault.txt" 2>&1 &
    local job=$! pid="" waited=0
    # Wait until the rank is well into the run (past MPI's set-up, which has no timeout).
    while [ "$waited" -lt 600 ]; do
        pid=$(rank_pid "$victim")
        if [ -n "$pid" ] && awk -v s="$(cpu_seconds "$pid")" -v b="$busy" 'BEGIN { exit !(s > b) }'; then break; fi
        sleep 0.1; waited=$((waited + 1))
    done
    if [ -z "$pid" ]; then echo "FAIL      rank $victim not found"; fail=1; return; fi
    local start=$SECONDS
    kill "-$signal" "$pid"
    local rc=0
    wait "$job" || rc=$?
    local took=$((SECONDS - start)) printed
    printed=$(wc -l <"$work/fault.txt")
    local what="pipeline${*:+ $*}, rank $victim sent SIG$signal"
    if [ "$rc" -ne 0 ] && [ "$took" -le $((timeout + 5)) ] && grep -q "$expected" "$work/fault.txt" && [ ! -e "$work/fault.json" ] &&
        { [ "$lines" = 0 ] || [ "$printed" = "$lines" ]; }; then
        echo "stopped   $what: exit $rc after ${took} s: $(grep -m1 "$expected" "$work/fault.txt")"
    else
        echo "FAIL      $what: exit $rc after ${took} s, $printed lines, expected a line matching '$expected':"
        cat "$work/fault.txt"; fail=1
    fi
    kill -9 "$pid" 2>/dev/null || true
}
fault 0 KILL "^snn: error: rank 1: stopped by mpirun .*rank 0 (device 'edge')" 1 1.5
fault 1 KILL "^snn: error: rank 0: stopped by mpirun .*rank 1 (device 'cloud')" 1 1.5
fault 0 KILL "^snn: error: rank 1: stopped by mpirun .*rank 0 (device 'edge')" 1 0.3 --dnn-pipeline
fault 0 STOP "^snn: error: rank 1: device 'cloud' got .*from rank 0 (device 'edge').* for 3 s (--timeout)" 0 1.5
exit "$fail"
