#!/usr/bin/env bash
# Same results across two builds: converts every shipped model once with the
# OLD build's snn, then runs both builds' snn on each network with `current`
# and `poisson` encoding, 1 and 2 threads, and (for the CNN) with an exit in
# time and with a partition, and compares the reports key by key, leaving out
# only what may differ between builds (timings, the execution plan).
#   tools/same_results.sh OLD_SNN NEW_SNN [LIMIT]   (LIMIT test images, default 1000)
# Prints one line per run and exits non-zero if any report differs.
set -euo pipefail
old="$1" new="$2" limit="${3:-1000}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py=/usr/bin/python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
m="$root/data/models"
"$old" convert "$m/mnist_mlp.h5" -o "$work/mlp.snn.h5" --calib mnist:train --calib-samples 500 >/dev/null
"$old" convert "$m/mnist_cnn.h5" -o "$work/cnn.snn.h5" --calib mnist:train --calib-samples 500 >/dev/null
"$old" convert "$m/mnist_cnn_bn_maxpool.h5" -o "$work/maxpool.snn.h5" --calib mnist:train --calib-samples 500 >/dev/null
"$old" convert "$m/mnist_bcnn.h5" -o "$work/bcnn.snn.h5" --calib mnist:train --calib-samples 500 >/dev/null
"$old" convert "$m/fashion_cnn.h5" -o "$work/fashion.snn.h5" --calib fashion-mnist:train --calib-samples 500 >/dev/null
"$old" convert "$m/mnist_bcnn.h5" -o "$work/bcnn_float.snn.h5" --calib mnist:train --calib-samples 500 --no-binary >/dev/null
cp "$work/cnn.snn.h5" "$work/cnn_exit.snn.h5"
"$old" exits add "$work/cnn_exit.snn.h5" --threshold 0.3 --check-every 8 >/dev/null
fail=0
run() { # name net data extra...
    local name="$1" net="$2" data="$3"; shift 3
    "$old" run "$work/$net" --data "$data" --limit "$limit" --steps 64 --quiet --report "$work/old.json" "$@"
    [ -e "$work/spikes.h5" ] && mv "$work/spikes.h5" "$work/old_spikes.h5"
    "$new" run "$work/$net" --data "$data" --limit "$limit" --steps 64 --quiet --report "$work/new.json" "$@"
    if [ -e "$work/spikes.h5" ]; then # a recorded run: the spike trains too
        if ! h5diff "$work/old_spikes.h5" "$work/spikes.h5" >/dev/null; then echo "DIFFERENT spikes $name $*"; fail=1; fi
        rm -f "$work/spikes.h5" "$work/old_spikes.h5"
    fi
    if "$py" - "$work/old.json" "$work/new.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("seconds", "samples_per_second", "execution"):
    a.pop(k, None); b.pop(k, None)
sys.exit(0 if a == b else 1)
PY
    then echo "same     $name $*"; else echo "DIFFERENT $name $*"; fail=1; fi
}
for net in mlp cnn maxpool bcnn; do
    for enc in current poisson; do
        for t in 1 2; do run "$net" "$net.snn.h5" mnist:test --encode "$enc" --threads "$t"; done
    done
done
run fashion fashion.snn.h5 fashion-mnist:test --threads 2
run bcnn-float bcnn_float.snn.h5 mnist:test --threads 2
for enc in current poisson; do
    run cnn-exit cnn_exit.snn.h5 mnist:test --encode "$enc" --threads 2
    run cnn-partition cnn.snn.h5 mnist:test --encode "$enc" --threads 2 --partition edge:conv1-pool1,cloud:conv2-dense
    run cnn-record cnn.snn.h5 mnist:test --encode "$enc" --threads 2 --record "$work/spikes.h5" --record-samples 3
done
exit "$fail"
