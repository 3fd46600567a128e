#!/usr/bin/env bash
# The installed package, from a consumer's side: installs a built snn into a
# temporary prefix (then moves it, so nothing may depend on where it was
# installed), builds examples/ against it with nothing but find_package(snn),
# and runs the example on a small network and data file. The example runs the
# same engine as `snn run`, so it must print exactly the accuracy that
# `snn run --report` reports for the same network, data and options: this
# checks that the installed library and the example reproduce the CLI's figure.
#
#   tools/check_install.sh BUILD_DIR [CMAKE [CXX_COMPILER]]
#   tools/check_install.sh --skip REASON    (prints REASON, exits 77: CTest's "skipped")
#
# The network is the tiny Keras fixture converted by the installed snn; the
# data are 200 random inputs labelled with that Keras model's own classes by
# the numpy reference forward pass (tools/keras_h5.py), so the accuracy is the
# spiking network's agreement with its DNN. Exits 77 if h5py is missing.
set -euo pipefail
if [ "${1:-}" = "--skip" ]; then
    echo "SKIP: ${2:-}"
    exit 77
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:?usage: tools/check_install.sh BUILD_DIR [CMAKE [CXX_COMPILER]]}" && pwd)"
cmake="${2:-cmake}"
cxx="${3:-}"
python=/usr/bin/python3
model="$root/data/fixtures/tiny_keras3_sequential.h5"

if ! "$python" -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP: $python lacks h5py or numpy, needed to write the data file (tools/setup.sh installs them)"
    exit 77
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/snn-check-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "check_install: FAIL: $*" >&2
    exit 1
}
# Runs a command with its output in a log, shown only if it fails.
quietly() {
    local what="$1"
    shift
    "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "$what"; }
}

echo "== cmake --install $build"
quietly "cmake --install" "$cmake" --install "$build" --prefix "$tmp/stage"
mv "$tmp/stage" "$tmp/prefix"
prefix="$tmp/prefix"
for f in bin/snn include/snn/network_io.hpp include/snn/dataset.hpp include/sim/engine.hpp \
         include/sim/neuron_rule.inc include/convert/convert.hpp; do
    [ -e "$prefix/$f" ] || fail "$f is not installed"
done
config="$(find "$prefix" -name snnConfig.cmake)"
[ -n "$config" ] || fail "no snnConfig.cmake under the prefix"
[ -e "$(dirname "$config")/snnConfigVersion.cmake" ] || fail "no snnConfigVersion.cmake beside $config"
# Every header an installed header includes by folder is installed too.
for inc in $(grep -rhoE '^#include "[^"]+"' "$prefix/include" | sed -E 's/^#include "(.*)"$/\1/' | sort -u); do
    [ -e "$prefix/include/$inc" ] || fail "an installed header includes $inc, which is not installed"
done
# The package names no path of the source or build tree.
if grep -rlF -e "$root" -e "$build" "$(dirname "$config")"; then
    fail "the files above name the source or build tree"
fi

echo "== examples/ against the installed package"
quietly "configuring examples/ with find_package(snn)" \
    "$cmake" -S "$root/examples" -B "$tmp/example-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON ${cxx:+-DCMAKE_CXX_COMPILER="$cxx"}
found="$(sed -n 's/^snn_DIR:PATH=//p' "$tmp/example-build/CMakeCache.txt")"
[ "$found" = "$(dirname "$config")" ] || fail "find_package(snn) found '$found', not the installed $(dirname "$config")"
if grep -qE -- "-(I|isystem ?)$root" "$tmp/example-build/compile_commands.json"; then
    fail "the example compiles with headers from the source tree ($root)"
fi
quietly "building examples/" "$cmake" --build "$tmp/example-build" -j 2
example="$tmp/example-build/example"

echo "== the example against snn run"
quietly "snn convert" "$prefix/bin/snn" convert "$model" -o "$tmp/net.snn.h5"
quietly "writing the data file" env PYTHONDONTWRITEBYTECODE=1 "$python" - "$root/tools" "$model" "$tmp/data.h5" <<'EOF'
import sys

import h5py
import numpy as np

sys.path.insert(0, sys.argv[1])
import keras_h5  # noqa: E402

x = np.random.default_rng(11).uniform(0, 1, (200, 4, 4, 1)).astype(np.float32)
y = keras_h5.forward(sys.argv[2], x, logits=True).argmax(axis=1).astype(np.int64)
with h5py.File(sys.argv[3], "w") as f:
    f["x"] = x
    f["y"] = y
EOF
quietly "snn run" "$prefix/bin/snn" run "$tmp/net.snn.h5" --data "$tmp/data.h5" --report "$tmp/r.json" --quiet
rc=0
"$example" "$tmp/net.snn.h5" "$tmp/data.h5" >"$tmp/example.out" 2>"$tmp/example.err" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/example.err" >&2; fail "the example exited with $rc"; }
echo "example: $(cat "$tmp/example.out")"
"$python" - "$tmp/example.out" "$tmp/r.json" <<'EOF' || fail "the example's accuracy is not snn run's"
import json, re, sys

out = open(sys.argv[1]).read()
m = re.fullmatch(r"accuracy [0-9.]+% \((\d+) of (\d+) samples correct, (\d+) steps\)\n", out)
if not m:
    sys.exit(f"unexpected example output: {out!r}")
correct, samples, steps = map(int, m.groups())
r = json.load(open(sys.argv[2]))
print(f"snn run: accuracy {r['accuracy']!r} on {r['samples']} samples, {r['steps']} steps")
if (samples, steps) != (r["samples"], r["steps"]) or correct / samples != r["accuracy"]:
    sys.exit(f"example: {correct}/{samples} at {steps} steps; snn run: {r['accuracy']} of {r['samples']} at {r['steps']}")
EOF

# A user's error: one line naming the file, exit code 1.
rc=0
"$example" "$tmp/missing.snn.h5" "$tmp/data.h5" >/dev/null 2>"$tmp/error.err" || rc=$?
echo "example on a missing network (exit $rc): $(cat "$tmp/error.err")"
[ "$rc" = 1 ] || fail "the example exited with $rc on a missing network, not 1"
[ "$(wc -l <"$tmp/error.err")" = 1 ] || fail "the example's error is not one line"
grep -qF "$tmp/missing.snn.h5" "$tmp/error.err" || fail "the example's error does not name the file"
echo "check_install: ok"
