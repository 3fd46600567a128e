#!/usr/bin/python3
"""Independent numpy reference of the compressive-sensing input stage
(docs/compressive-sensing.md, snn/rademacher.hpp), written from the recipe,
not by calling snn:

    key = mix(mix(seed) ^ mix((row << 32) + column + GAMMA))   (mod 2^64)
    s   = +1 if the top bit of key is 0, else -1
    Phi = s / sqrt(rd)          shape (rd, n)

    tools/rademacher_reference.py signs SEED RD N      prints the signs, one row a line
    tools/rademacher_reference.py project SEED RD X... prints Phi @ x (float64), one a line

As a module: signs(seed, rd, n) -> int8 array (rd, n); phi(seed, rd, n) -> float64.
"""
import sys

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)


def mix(z):
    """SplitMix64's output function on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def signs(seed, rd, n):
    rows = np.arange(rd, dtype=np.uint64)[:, None]
    cols = np.arange(n, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        counter = (rows << np.uint64(32)) + cols + GAMMA
    key = mix(mix(np.uint64(seed)) ^ mix(counter))
    return np.where((key >> np.uint64(63)) == 0, 1, -1).astype(np.int8)


def phi(seed, rd, n):
    return signs(seed, rd, n).astype(np.float64) / np.sqrt(rd)


def main(argv):
    if len(argv) < 4 or argv[0] not in ("signs", "project"):
        sys.exit(__doc__)
    seed, rd = int(argv[1]), int(argv[2])
    if argv[0] == "signs":
        for row in signs(seed, rd, int(argv[3])):
            print(" ".join("+" if s > 0 else "-" for s in row))
    else:
        x = np.array([float(v) for v in argv[3:]])
        for v in phi(seed, rd, x.size) @ x:
            print(repr(float(v)))


if __name__ == "__main__":
    main(sys.argv[1:])
