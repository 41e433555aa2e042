#!/usr/bin/env bash
# Run 82: the shipped code (conv back at run 80's, commit 36aecf9's conv_fft_blocks.cu) on an H100,
# the device: the conv block cases, both conv bench shapes and the linear attention bench
# against their peers in one call, then the model tests if there is time left.
# Carry [".devpack", ".device/fla", ".device/anchor"] after tools/device/build_cuda.sh. From the repo
# root on the GPU machine: bash docs/device-runs/2026-12-05-run82-h100-acceptance/run.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
source tools/device/device_env.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit --format=csv | tee "$OUT/env.txt"
BLOCKS=$(for i in $(seq 120 159); do printf 'Shapes/CudaConvCases.MatchesFloat64AndCpu/%s:' "$i"; done)
timeout 120 "$BIN/test_cuda_conv" --gtest_filter="${BLOCKS}CudaConv.*" > "$OUT/block_test.log" 2>&1
echo "conv block tests rc=$? ($SECONDS s)"; grep -E "^\[  (PASSED|FAILED) |  FAILED|Which is" "$OUT/block_test.log" | head
CHELA_LIB=$BIN/libchela.so OUT="$OUT/conv" NO_SWEEP=1 timeout 150 python3 tools/device/bench_conv.py > "$OUT/conv.log" 2>&1
echo "bench_conv rc=$? ($SECONDS s)"; grep -E "^FAIL|\[B,C,L\]: blocks" "$OUT/conv.log"; sed -n '/^shape /,$p' "$OUT/conv.log"
OUT="$OUT/la" timeout 150 python3 tools/device/bench_linear_attention.py --quick > "$OUT/la.log" 2>&1
echo "bench_linear_attention rc=$? ($SECONDS s)"; grep -E "^FAIL|ceiling" "$OUT/la.log"; sed -n '/^shape /,$p' "$OUT/la.log"
if [ $SECONDS -lt 300 ]; then
  timeout 120 "$BIN/test_cuda_model" > "$OUT/model_test.log" 2>&1
  echo "test_cuda_model rc=$? ($SECONDS s)"; grep -E "^\[  (PASSED|FAILED) |  FAILED" "$OUT/model_test.log" | head -5
fi
echo "total $SECONDS s"
