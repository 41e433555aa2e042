#!/usr/bin/env bash
# Builds the CUDA-enabled library and the GPU tests here (no GPU needed) and stages what the GPU
# machine needs into .device/ (git-ignored; carried with the device call):
#   .device/bin  test_cuda (C-ABI GPU tests), test_cuda_linear_attention (kernel test),
#                libchela.so (CUDA build), libchela_cuda_bench.so (ctypes entry)
#   .device/lib  the shared libraries libchela.so needs that the GPU machine lacks (OpenBLAS, KissFFT)
#   .device/fla  the peer, fla's Python package, when FLA_REPO names a local clone of it
# Needs CuTe/CUTLASS headers: CUTLASS_DIR (default /work/cutlass-src). GENCODE overrides the targets
# (default: sm_90a only, the GPU we measure on; CMake's default builds sm_90a + sm_80).
# Usage (repo root): tools/device/build_cuda.sh; carry [".device/bin", ".device/fla", ".devpack"].
set -euo pipefail
cd "$(dirname "$0")/../.."
CUTLASS_DIR=${CUTLASS_DIR:-/work/cutlass-src}
GENCODE=${GENCODE:-"-gencode=arch=compute_90a,code=sm_90a"}
JOBS=${JOBS:-2}
[ -f "$CUTLASS_DIR/include/cute/tensor.hpp" ] || { echo "CuTe headers not found under $CUTLASS_DIR/include"; exit 2; }
mkdir -p build-cuda
cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DCUTLASS_DIR="$CUTLASS_DIR" \
      -DCHELA_CUDA_GENCODE="$GENCODE" > build-cuda/configure.log 2>&1 || { cat build-cuda/configure.log; exit 1; }
grep "chela:" build-cuda/configure.log
cmake --build build-cuda -j"$JOBS" --target chela test_cuda test_cuda_conv test_cuda_model test_cuda_linear_attention chela_cuda_bench chela-bench
mkdir -p .device/bin .device/lib
cp -L build-cuda/test_cuda build-cuda/test_cuda_conv build-cuda/test_cuda_model build-cuda/chela-bench build-cuda/test_cuda_linear_attention build-cuda/libchela_cuda_bench.so .device/bin/
cp -L build-cuda/libchela.so .device/bin/libchela.so
for lib in $(ldd build-cuda/libchela.so | awk '/=> \//{print $3}' | grep -E 'openblas|kissfft|gfortran|quadmath'); do
  cp -L "$lib" .device/lib/
done
# The peer (fla: pure Python + Triton, never committed) from a local clone, when FLA_REPO names one.
if [ -n "${FLA_REPO:-}" ] && [ ! -d .device/fla ]; then
  git -C "$FLA_REPO" archive HEAD fla | tar -x -C .device
fi
# The device call carries at most 64 MiB with the checkout: OpenBLAS alone is 36 MB, so the libraries
# travel xz-compressed (5 MB) in .devpack/ and gpu_check.sh unpacks them there.
# The binaries travel the same way (18 MB -> about 5 MB): model_check.sh / java_gpu.sh unpack them.
mkdir -p .devpack && tar cJf .devpack/lib.tar.xz -C .device lib && tar cJf .devpack/bin.tar.xz -C .device bin
du -sh .device/* .devpack
