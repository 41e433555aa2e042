#!/usr/bin/env bash
# Run 81: the causal block sums in one pass (causal_columns) against the per-block sums
# (block_columns, CHELA_CUDA_CONV_BLOCK_SUMS=each), then the whole conv check in one call (device
# machines release after 30 s idle, so a second call would start a bare one).
# Carry [".devpack", ".device/fla", ".device/anchor"]. From the repo root on the GPU machine:
#   bash docs/device-runs/2026-12-05-run81-sums-once/run.sh
# 1. the block cases (120..159: test_cuda_conv --gtest_list_tests) with the default sums, and the
#    CudaConv tests, among them CausalBlockSumsInOnePassOrPerBlockBothMatch (both ways);
# 2. memcheck + racecheck of that test and the persistent one;
# 3. A/B at B1 C1024 L65536 (4 causal blocks), each then once;
# 4. tools/device/conv_check.sh with CHELA_CUDA_CONV_BLOCK_SUMS=once when 1-2 passed and once was not
#    slower, else with the default (each), so the quad-laid default path gets its full check either way.
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
source tools/device/device_env.sh
{ nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv
  cuobjdump --dump-resource-usage "$BIN/libchela.so" 2>/dev/null | grep -A1 -E "Function .*(causal_columns|block_columns)" | grep -E "Function|REG"
  cuobjdump --dump-sass "$BIN/libchela.so" 2>/dev/null | awk '/Function :/{f=$3; seen[f]=1} /LDL|STL/{l[f]++} END{for(k in seen) if (k ~ /_columns/) printf "LDL/STL %4d %s\n", l[k], k}'
} > "$OUT/env.txt" 2>&1
grep -E "NVIDIA|LDL" "$OUT/env.txt"
ok=1
BLOCKS=$(for i in $(seq 120 159); do printf 'Shapes/CudaConvCases.MatchesFloat64AndCpu/%s:' "$i"; done)
timeout 200 "$BIN/test_cuda_conv" --gtest_filter="${BLOCKS}CudaConv.*" > "$OUT/block_test.log" 2>&1
rc=$?; echo "block tests rc=$rc ($SECONDS s)"; [ $rc = 0 ] || ok=0
grep -E "^\[  (PASSED|FAILED) |  FAILED|Which is" "$OUT/block_test.log" | head -20
for tool in memcheck racecheck; do
  timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/test_cuda_conv" \
    --gtest_filter='CudaConv.PersistentCtas*:CudaConv.CausalBlockSums*' > "$OUT/$tool.log" 2>&1
  rc=$?; echo "$tool rc=$rc ($SECONDS s)"; [ $rc = 0 ] || ok=0
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/$tool.log"
done
declare -A ms
for sums in each once; do
  CHELA_CUDA_CONV_BLOCK_SUMS=$sums CHELA_LIB=$BIN/libchela.so OUT="$OUT/ab_$sums" SHAPES="1,1024,65536" NO_SWEEP=1 \
    timeout 100 python3 tools/device/bench_conv.py > "$OUT/bench_$sums.log" 2>&1
  echo "sums=$sums rc=$? ($SECONDS s)"; line=$(grep -E "^B1 C1024" "$OUT/bench_$sums.log" | tail -1); grep -E "\[B,C,L\]: blocks" "$OUT/bench_$sums.log"; echo "$line"
  ms[$sums]=$(echo "$line" | awk "{print \$(NF-1)}")
done
winner=each
if [ $ok = 1 ] && awk -v a="${ms[once]}" -v b="${ms[each]}" 'BEGIN{exit !(a > 0 && a <= b)}'; then winner=once; fi
echo "conv_check with CHELA_CUDA_CONV_BLOCK_SUMS=$winner (channel-major once ${ms[once]} ms, each ${ms[each]} ms)"
# Keep the whole call under 600 s: the layer benches (~100 s) only when there is room.
[ $SECONDS -lt 170 ] || export SKIP_LAYER=1
mkdir -p "$OUT/check"
CHELA_CUDA_CONV_BLOCK_SUMS=$winner OUT="$OUT/check" bash tools/device/conv_check.sh 2>&1 | tee "$OUT/check/summary.txt" | tail -30
echo "total $SECONDS s"
