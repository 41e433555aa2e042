#!/usr/bin/env bash
# Builds the CUDA linear-attention parts with nvcc alone (no CMake), for carrying to the GPU machine:
#   .device/bin/test_cuda_linear_attention   the CUDA test (tests/cuda)
#   .device/bin/libchela_cuda_bench.so        ctypes entry for tools/device/bench_linear_attention.py
#   .device/bin/libchela_cuda.a               the static library (same objects)
#   .device/bin/resource_usage.txt            ptxas -v report (registers, smem, spills) + HMMA counts
# Needs CuTe/CUTLASS headers: CUTLASS_DIR (a CUTLASS checkout, default /work/cutlass-src).
# ARCHS overrides the targets (default: sm_90a and sm_80). JOBS = parallel compiles (default 2).
# Usage (repo root): tools/device/build_cuda.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CUTLASS_DIR=${CUTLASS_DIR:-/work/cutlass-src}
ARCHS=${ARCHS:-"-gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80"}
JOBS=${JOBS:-2}
CUDA_INC=$(dirname "$(readlink -f "$(command -v nvcc)")")/../include
for d in "$CUDA_INC" /usr/local/cuda/include /usr/local/cuda-*/include; do [ -f "$d/cuda_runtime.h" ] && { CUDA_INC=$d; break; }; done
OUTDIR=.device/bin
OBJ=.device/obj
mkdir -p "$OUTDIR" "$OBJ"
[ -f "$CUTLASS_DIR/include/cute/tensor.hpp" ] || { echo "CuTe headers not found under $CUTLASS_DIR/include"; exit 2; }
NVFLAGS="-std=c++17 -O3 --expt-relaxed-constexpr -Xcompiler -fPIC,-fvisibility=hidden $ARCHS -Inative/include -Inative/src -Inative -I$CUTLASS_DIR/include -Xptxas -v"
SRCS="native/cuda/tiled_la_bf16.cu native/cuda/tiled_la_f16.cu native/cuda/tiled_linear_attention.cu"
: > "$OBJ/ptxas.log"
pids=()
for s in $SRCS; do
  o="$OBJ/$(basename "${s%.cu}").o"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ -n "$(find native/cuda -newer "$o" -name '*.cuh' -o -newer "$o" -name '*.h' | head -1)" ]; then
    echo "nvcc $s"
    ( nvcc $NVFLAGS -c "$s" -o "$o" > "$o.log" 2>&1 || { cat "$o.log"; exit 1; } ) &
    pids+=($!)
    if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
OBJS=$(for s in $SRCS; do echo "$OBJ/$(basename "${s%.cu}").o"; done)
rm -f "$OUTDIR/libchela_cuda.a"
ar rcs "$OUTDIR/libchela_cuda.a" $OBJS
g++ -std=c++17 -O2 -fPIC -Inative/include -Inative/src -Inative -I"$CUDA_INC" \
    -c native/cuda/bench_shim.cpp -o "$OBJ/bench_shim.o"
g++ -std=c++17 -O2 -Inative/include -Inative/src -Inative -I"$CUDA_INC" \
    -c tests/cuda/test_linear_attention.cpp -o "$OBJ/test_linear_attention.o"
nvcc $ARCHS -shared -o "$OUTDIR/libchela_cuda_bench.so" "$OBJ/bench_shim.o" $OBJS
nvcc $ARCHS -o "$OUTDIR/test_cuda_linear_attention" "$OBJ/test_linear_attention.o" $OBJS
{
  for s in $SRCS; do o="$OBJ/$(basename "${s%.cu}").o"; echo "== $s"; grep -E "Compiling entry|registers|spill" "$o.log" | sed 's/ptxas info    : //'; done
  echo "== SASS (HMMA per kernel, sm_90a)"
  command -v cuobjdump >/dev/null && cuobjdump --dump-sass "$OBJ/tiled_la_bf16.o" 2>/dev/null | awk '/Function :/{f=$3} /HMMA/{n[f]++} END{for(k in n) print n[k], k}'
} > "$OUTDIR/resource_usage.txt"
echo "built: $(ls $OUTDIR)"
