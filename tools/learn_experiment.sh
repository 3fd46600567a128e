#!/usr/bin/env bash
# STDP learning on MNIST (issue 5's measurements; an experiment, not a test:
# about 25 minutes on 2 cores). One pass over the 60,000 training images, one
# thread for learning (it is sequential), labels assigned on the training set,
# accuracy on the 10,000 test images; real-valued weights (Diehl & Cook rule)
# and stochastic binary {0,1} weights, 100 and 400 neurons, seed 1.
# Each learned layer is then run again with `snn run` on the file it wrote.
# Writes out/learn/*.json, *.snn.h5 and out/learn/summary.md.
# Usage: tools/learn_experiment.sh [NEURONS ...]   (default: 100 400)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/out/learn"
mkdir -p "$out"
snn="$out/snn" # a copy: a rebuild during the run changes nothing
cp "$root/build/snn" "$snn"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 400)
for n in "${sizes[@]}"; do
    for rule in diehl-cook stochastic; do
        name="${rule}_$n"
        echo "== $name"
        /usr/bin/time -f "%e s, %M KiB" -o "$out/$name.time" \
            "$snn" learn --neurons "$n" --rule "$rule" --threads 1 --seed 1 -q \
            --report "$out/$name.json" -o "$out/$name.snn.h5"
        "$snn" run "$out/$name.snn.h5" --data mnist:test --encode poisson --threads "$(nproc)" -q \
            --report "$out/${name}_run.json"
    done
done
for f in "$out"/*_[0-9]*.snn.h5; do /usr/bin/python3 "$root/tools/plot_fields.py" "$f" -o "${f%.snn.h5}_fields.png" >/dev/null; done
/usr/bin/python3 - "$out" <<'PY' > "$out/summary.md"
import glob, json, os, sys
out = sys.argv[1]
print("| rule | neurons | weights | weight bytes | test accuracy % (snn learn) | snn run on the file % | train accuracy % | learn + label + test time |")
print("|---|---|---|---|---|---|---|---|")
rows = []
for path in sorted(glob.glob(os.path.join(out, "*_[0-9]*.json"))):
    if path.endswith("_run.json"):
        continue
    name = os.path.basename(path)[:-5]
    j = json.load(open(path))
    run = json.load(open(os.path.join(out, name + "_run.json")))
    t = open(os.path.join(out, name + ".time")).read().strip()
    rows.append((j["binary"], j["neurons"], "| %s | %d | %s | %d | %.2f | %.2f | %.2f | %s |" % (
        j["rule"].split(":")[0], j["neurons"], "binary {0,1}" if j["binary"] else "float32",
        j["weight_bytes"], 100 * j["accuracy"], 100 * run["accuracy"], 100 * j["train_accuracy"], t)))
for r in sorted(rows, key=lambda r: (r[1], r[0])):
    print(r[2])
PY
cat "$out/summary.md"
