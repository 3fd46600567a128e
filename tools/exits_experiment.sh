#!/usr/bin/env bash
# Exits, partition and cut traffic on the shipped MNIST CNN (issue 6's
# measurements; an experiment, not a test: about 25 minutes on 2 cores).
# Exits are fitted on mnist:train[0:5000] and chosen on mnist:train[5000:7000];
# every figure in the summary is on the full MNIST test set.
# Writes out/exits/*.json and out/exits/summary.md. Needs tools/setup.sh and tools/build.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/out/exits"
mkdir -p "$out"
snn="$out/snn" # a copy: a rebuild during the run changes nothing
cp "$root/build/snn" "$snn"
threads="$(nproc)"
place() { "$snn" exits place "$@" --data mnist:train --train-samples 5000 --val-samples 2000 --threads "$threads"; }
run() { "$snn" run "$@" --data mnist:test --threads "$threads" -q; }

"$snn" convert "$root/data/models/mnist_cnn.h5" -o "$out/cnn.snn.h5" --calib mnist:train >/dev/null
# The edge is the first convolutional block.
"$snn" partition "$out/cnn.snn.h5" edge:conv1-pool1,cloud:conv2-dense >/dev/null
for T in 16 32 64; do
    echo "== T=$T: no exits"
    run "$out/cnn.snn.h5" --steps $T --report "$out/none_$T.json"
    echo "== T=$T: one exit at the end of the edge (pool1)"
    place "$out/cnn.snn.h5" -o "$out/edge_$T.snn.h5" --steps $T --candidates pool1 --no-temporal --json "$out/place_edge_$T.json"
    run "$out/edge_$T.snn.h5" --steps $T --report "$out/edge_$T.json"
done
echo "== T=32: exits anywhere, in depth and in time"
place "$out/cnn.snn.h5" -o "$out/any_32.snn.h5" --steps 32 --json "$out/place_any_32.json"
run "$out/any_32.snn.h5" --steps 32 --report "$out/any_32.json"
echo "== T=32: an exit in time on the output only, within 0.3 points"
place "$out/cnn.snn.h5" -o "$out/time_32.snn.h5" --steps 32 --candidates none --max-accuracy-drop 0.3 --json "$out/place_time_32.json"
run "$out/time_32.snn.h5" --steps 32 --report "$out/time_32.json"
/usr/bin/python3 "$root/tools/exits_summary.py" "$out" > "$out/summary.md"
cat "$out/summary.md"
