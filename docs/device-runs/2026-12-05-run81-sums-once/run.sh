#!/usr/bin/env bash
# Run 81: the causal block sums in one pass (causal_columns) against the per-block sums
# (block_columns, CHELA_CUDA_CONV_BLOCK_SUMS=each). Carry [".devpack", ".device/fla", ".device/anchor"].
# From the repo root on the GPU machine: bash docs/device-runs/2026-12-05-run81-sums-once/run.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
source tools/device/device_env.sh
{ nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv
  cuobjdump --dump-resource-usage "$BIN/libchela.so" 2>/dev/null | grep -A1 -E "Function .*(causal_columns|block_columns)" | grep -E "Function|REG"
  cuobjdump --dump-sass "$BIN/libchela.so" 2>/dev/null | awk '/Function :/{f=$3; seen[f]=1} /LDL|STL/{l[f]++} END{for(k in seen) if (k ~ /_columns/) printf "LDL/STL %4d %s\n", l[k], k}'
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | grep -E "NVIDIA|LDL"
# Cases 120..159 (the block cases among them: test_cuda_conv --gtest_list_tests) and the CudaConv tests.
timeout 240 "$BIN/test_cuda_conv" --gtest_filter='Shapes/CudaConvCases.MatchesFloat64AndCpu/12?:Shapes/CudaConvCases.MatchesFloat64AndCpu/13?:Shapes/CudaConvCases.MatchesFloat64AndCpu/14?:Shapes/CudaConvCases.MatchesFloat64AndCpu/15?:CudaConv.*' > "$OUT/conv_test.log" 2>&1
echo "tests rc=$?"; grep -E "^\[  (PASSED|FAILED) |  FAILED|Which is" "$OUT/conv_test.log" | head -20
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/test_cuda_conv" --gtest_filter='CudaConv.PersistentCtas*' > "$OUT/$tool.log" 2>&1
  echo "$tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/$tool.log"
done
# A/B, interleaved twice: the bench's conv at B1 C1024 L65536 (4 blocks).
for round in 1 2; do for sums in once each; do
  CHELA_CUDA_CONV_BLOCK_SUMS=$sums CHELA_LIB=$BIN/libchela.so OUT="$OUT/$sums$round" SHAPES="1,1024,65536" NO_SWEEP=1 \
    timeout 150 python3 tools/device/bench_conv.py > "$OUT/bench_$sums$round.log" 2>&1
  echo "sums=$sums round $round rc=$?"; grep -E "^B1 C1024" "$OUT/bench_$sums$round.log" | tail -1
done; done
