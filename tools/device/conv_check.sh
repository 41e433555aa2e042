#!/usr/bin/env bash
# One GPU-machine session for the short-long convolution (run from the repo root there). Carry
# [".devpack", ".device/fla", ".device/anchor"] after tools/device/build_cuda.sh. Logs go to $OUT:
#   env.txt        nvidia-smi, registers / shared memory / local memory of the conv kernels
#   conv_test.log  tests/native/test_cuda_conv.cpp (direct, on-chip FFT, cuFFT vs float64 and CPU)
#   capi_test.log  tests/native/test_cuda.cpp (C-ABI GPU ops: attention, full attention, tensors)
#   model_test.log tests/native/test_cuda_model.cpp (the model forward uses the convolution)
#   sanitizer.log  compute-sanitizer memcheck + racecheck on small on-chip FFT cases, memcheck on the
#                  attention epilogue (small model tests, C-ABI full attention)
#   conv.log       tools/device/bench_conv.py: ours (on-chip FFT, cuFFT) vs the torch pipeline
#   layer.log      tools/device/bench_layer.py: our layer vs PyTorch+fla vs softmax block
#   layer_chip.log the same at 16384 x 4 with CHELA_CUDA_CONV_FFT=chip (the conv's fp32 FFT passes)
# SKIP_LAYER=1 / SKIP_SANITIZER=1 leave those steps out. A summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT" "$OUT/chip"
source tools/device/device_env.sh
status=0
{
  nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw --format=csv
  echo "== conv kernels: resources (REG, SHARED, LOCAL) and local-memory instructions"
  cuobjdump --dump-resource-usage "$BIN/libchela.so" 2>/dev/null | grep -A1 -E "Function .*conv" | grep -E "Function|REG" | head -60
  cuobjdump --dump-sass "$BIN/libchela.so" 2>/dev/null | awk '/Function :/{f=$3} /LDL|STL/{l[f]++} /Function :/{seen[f]=1} END{for(k in seen) if (k ~ /conv/) printf "LDL/STL %4d %s\n", l[k], k}' | sort -k2 -nr | head -20
} > "$OUT/env.txt" 2>&1
echo "== conv tests"
timeout 420 "$BIN/test_cuda_conv" > "$OUT/conv_test.log" 2>&1 && echo "test_cuda_conv: PASSED" || { echo "test_cuda_conv: FAILED"; status=1; }
grep -E "  FAILED|Which is|Expected|error:" "$OUT/conv_test.log" | head -20
echo "== C-ABI GPU tests (attention epilogue shared with the model)"
timeout 200 "$BIN/test_cuda" > "$OUT/capi_test.log" 2>&1 && echo "test_cuda: PASSED" || { echo "test_cuda: FAILED"; status=1; }
grep -E "  FAILED|Which is" "$OUT/capi_test.log" | head -10
echo "== model tests"
timeout 300 "$BIN/test_cuda_model" > "$OUT/model_test.log" 2>&1 && echo "test_cuda_model: PASSED" || { echo "test_cuda_model: FAILED"; status=1; }
grep -E "  FAILED|Which is" "$OUT/model_test.log" | head -10
if [ -z "${SKIP_SANITIZER:-}" ]; then
echo "== compute-sanitizer (small on-chip FFT cases)"
# Cases 26..49 of CudaConvCases: the on-chip FFT path at L = 1 .. 257; 97, 98 its tensor-core
# transform (N = 16384, one or two columns), 102, 103 the tc fallbacks, 104 the element-wise staging
# of a long short kernel, 106 the cluster variant (4 CTAs), 117 the transposes' 16-byte kernel,
# 118 and 123 channel-major x and out (tensor cores, cluster), 134 and 135 the block variant (one
# block, B = 2; two blocks bidirectional, channel-major) (`test_cuda_conv --gtest_list_tests`).
SMALL=$(for i in $(seq 26 49) 97 98 102 103 104 106 117 118 123 134 135; do printf 'Shapes/CudaConvCases.MatchesFloat64AndCpu/%s:' "$i"; done)
{
  echo "### memcheck"; timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/test_cuda_conv" --gtest_filter="$SMALL"; echo "memcheck rc=$?"
  echo "### racecheck"; timeout 240 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 9 "$BIN/test_cuda_conv" --gtest_filter="$SMALL"; echo "racecheck rc=$?"
  # The persistent tensor-core kernels capped at two CTAs, so each walks several columns / channels.
  echo "### persistent"; for tool in memcheck racecheck; do timeout 240 compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/test_cuda_conv" --gtest_filter='CudaConv.PersistentCtas*'; echo "$tool persistent rc=$?"; done
  # The attention epilogue (one warp per row) in both users: the model and the C-ABI full attention.
  echo "### memcheck epilogue"; timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/test_cuda_model" --gtest_filter='CudaModel.HostArguments*:CudaModel.FeatureClassifier*:CudaModel.LayerForward*:CudaModel.WideSingleHead*'; echo "memcheck epilogue (model) rc=$?"
  timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/test_cuda" --gtest_filter='Variants/CudaFullAttention*'; echo "memcheck epilogue (full attention) rc=$?"
} > "$OUT/sanitizer.log" 2>&1
grep -E "rc=|ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer.log"
[ "$(grep -c ' rc=0' "$OUT/sanitizer.log")" = 6 ] || status=1
fi
echo "== conv bench"
CHELA_LIB=$BIN/libchela.so OUT="$OUT" timeout 300 python3 tools/device/bench_conv.py ${CONV_ARGS:-} > "$OUT/conv.log" 2>&1 || { echo "bench_conv rc=$?"; status=1; }
sed -n '/^shape /,$p' "$OUT/conv.log"
grep -E "^FAIL" "$OUT/conv.log"
if [ -z "${SKIP_LAYER:-}" ]; then
  echo "== layer: ours vs PyTorch+fla vs softmax block"
  PYTHONPATH=$PWD/.device:$PWD/tools/device${PYTHONPATH:+:$PYTHONPATH} OUT="$OUT" timeout 240 python3 tools/device/bench_layer.py > "$OUT/layer.log" 2>&1 || { echo "bench_layer rc=$?"; status=1; }
  grep -E "^\{|Error|error" "$OUT/layer.log" | head -12
  # The same layer with the convolution's fp32 FFT passes (the default is its tensor-core transform).
  CHELA_CUDA_CONV_FFT=chip SHAPES=16384x4 PROFILE_L=0 PYTHONPATH=$PWD/.device:$PWD/tools/device${PYTHONPATH:+:$PYTHONPATH} \
    OUT="$OUT/chip" timeout 120 python3 tools/device/bench_layer.py > "$OUT/layer_chip.log" 2>&1 || echo "bench_layer (fp32 conv) rc=$?"
  grep -E "^\{" "$OUT/layer_chip.log" | sed 's/^/fp32 FFT conv: /'
fi
echo "conv_check: $([ $status = 0 ] && echo ALL OK || echo SOMETHING FAILED) (logs in $OUT)"
exit $status
