#!/usr/bin/python3
"""Writes a copy of a network whose sparse (pruned) dense layers are stored
densely, with 0 where a synapse was pruned: the dense kernel's reference for
the sparse one (docs/pruning.md).

    tools/sparse_to_dense.py PRUNED.snn.h5 DENSE.snn.h5
"""
import shutil
import sys

import h5py
import numpy as np


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        pops = f["populations"]
        changed = 0
        for name in sorted(pops):
            for proj in sorted(pops[name]["projections"]):
                g = pops[name]["projections"][proj]
                if g.attrs["kind"] != "sparse_dense":
                    continue
                rows = int(np.prod(pops["%03d" % int(g.attrs["source"])].attrs["shape"]))
                cols = int(np.prod(pops[name].attrs["shape"]))
                begin, target = np.asarray(g["row_begin"]), np.asarray(g["target"])
                values = np.asarray(g["weights"], dtype=np.float32)
                w = np.zeros((rows, cols), dtype=np.float32)
                for r in range(rows):
                    w[r, target[begin[r] : begin[r + 1]]] = values[begin[r] : begin[r + 1]]
                for d in ("weights", "row_begin", "target"):
                    del g[d]
                g.create_dataset("weights", data=w, compression="gzip" if w.size >= 65536 else None)
                g.attrs["kind"] = "dense"
                changed += 1
    print(f"wrote {dst}: {changed} sparse layers stored densely")


if __name__ == "__main__":
    main()
