#!/usr/bin/env bash
# Checks that a portable build (SNN_NATIVE=OFF) uses AVX registers (ymm, zmm,
# mask registers k0-k7) only in the functions chosen at run time by the CPU's
# instruction set: the per-ISA copies (namespaces *_avx512) and the binary
# kernels' target functions (*_avx512, *_avx2). Anything else would run on
# CPUs without those instructions and stop them with SIGILL.
#   tools/check_isa_leaks.sh BINARY
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
command -v objdump >/dev/null || { echo "NOT RUN: objdump (binutils) is missing"; exit 77; }
leaks="$(objdump -d --no-show-raw-insn -C "$1" |
    awk '/^[0-9a-f]+ <.*>:$/ { fn = $0 } /%[yz]mm[0-9]|%k[0-7]/ { print fn }' | sort -u |
    grep -v -E '_avx512|_avx2' || true)"
funcs="$(objdump -d --no-show-raw-insn -C "$1" | awk '/^[0-9a-f]+ <.*>:$/ { fn = $0 } /%zmm[0-9]/ { print fn }' | sort -u | wc -l)"
if [ -n "$leaks" ]; then
    echo "AVX registers outside the per-ISA copies of $1:"
    echo "$leaks" | cut -c1-200
    exit 1
fi
# The check means something only if the AVX-512 copies are there.
[ "$funcs" -gt 0 ] || { echo "$1 has no AVX-512 code at all: the per-ISA copies are missing"; exit 1; }
echo "$funcs functions use AVX-512 registers, all in the per-ISA copies"
