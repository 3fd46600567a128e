#!/usr/bin/env bash
# The peers' packages (Debian's PyTorch and Brian2) and a fast BLAS for PyTorch:
# Debian's torch calls whatever libblas.so.3 points to, and the default is the
# reference BLAS; libopenblas0-pthread registers itself as the better
# alternative. Then checks the 1-thread 256×784 by 784×512 product runs at
# more than 10 GFLOP/s (the reference BLAS manages about 1).
set -euo pipefail
packages=(python3-torch python3-brian libopenblas0-pthread g++)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/python3 - <<'PY'
import time, torch
torch.set_num_threads(1)
a, b = torch.randn(256, 784), torch.randn(784, 512)
for _ in range(3): a @ b
t = time.perf_counter()
for _ in range(50): a @ b
g = 2.0 * 256 * 784 * 512 * 50 / (time.perf_counter() - t) / 1e9
print(f"bench setup: PyTorch 1-thread matmul {g:.1f} GFLOP/s")
if g < 10:
    raise SystemExit("bench setup: PyTorch runs on a slow BLAS (check `update-alternatives --display libblas.so.3-x86_64-linux-gnu`)")
PY
