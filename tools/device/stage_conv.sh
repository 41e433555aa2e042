#!/usr/bin/env bash
# Stages the CUDA-enabled libchela and the conv GPU test for carrying to the GPU machine:
#   .device/lib/  libchela.so (+ .so.0) and the non-system libraries it needs (OpenBLAS, KissFFT,
#                 gfortran/quadmath); cuFFT is NOT carried: libchela dlopens libcufft.so.12 there
#                 (CUDA toolkit or PyTorch's wheel; CHELA_CUFFT_LIB names a file).
#   .device/bin/  test_cuda_conv (gtest, linked against the same objects)
# Usage (repo root, after cmake --build build-cuda --target chela test_cuda_conv):
#   tools/device/stage_conv.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-cuda}
mkdir -p .device/lib .device/bin
cp -L "$BUILD/libchela.so" .device/lib/libchela.so
cp -L "$BUILD/libchela.so" .device/lib/libchela.so.0
cp "$BUILD/test_cuda_conv" .device/bin/
for f in .device/lib/libchela.so .device/bin/test_cuda_conv; do
  ldd "$f" | awk '/=> \// {print $3}' | grep -E 'openblas|kissfft|gfortran|quadmath' || true
done | sort -u | while read -r dep; do cp -L "$dep" .device/lib/; done
ls -la .device/lib .device/bin/test_cuda_conv
