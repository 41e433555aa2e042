#!/usr/bin/env bash
# One GPU-machine session for the CUDA model forward (run from the repo root there). Carry
# [".devpack", ".device/fla", ".device/anchor", "java/target/classes", "java/target/test-classes"]
# after tools/device/build_cuda.sh, a Maven test-compile and the .devpack
# preparation of java_gpu.sh. Logs go to $OUT; a summary is printed last.
#   model_test.log  tests/native/test_cuda_model.cpp: golden cases, shipped models, wide models vs CPU
#   regress.log     test_cuda + test_cuda_conv (the op-level GPU tests)
#   sanitizer.log   compute-sanitizer memcheck + racecheck on the small model tests
#   layer.log       tools/device/bench_layer.py: our layer vs PyTorch+fla vs softmax block (same run)
#   forward.log     chela-bench --op forward (native) and ModelForwardBenchmark (JMH, Java), same models
# SKIP_SANITIZER=1 / SKIP_FORWARD=1 leave those steps out (quicker iterations on the kernels).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT" "$OUT/sm80"
source tools/device/device_env.sh
status=0
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw --format=csv > "$OUT/env.txt" 2>&1
echo "== model tests"
timeout 300 "$BIN/test_cuda_model" > "$OUT/model_test.log" 2>&1 && echo "test_cuda_model: PASSED" || { echo "test_cuda_model: FAILED"; status=1; }
grep -E "rel-L2|FAILED|Which is|Expected|error" "$OUT/model_test.log" | head -30
echo "== op regressions"
{ timeout 120 "$BIN/test_cuda"; echo "test_cuda rc=$?"; timeout 120 "$BIN/test_cuda_conv"; echo "test_cuda_conv rc=$?"; } > "$OUT/regress.log" 2>&1
grep -E "rc=|  FAILED" "$OUT/regress.log"
grep -q "test_cuda rc=0" "$OUT/regress.log" && grep -q "test_cuda_conv rc=0" "$OUT/regress.log" || status=1
if [ -z "${SKIP_SANITIZER:-}" ]; then
echo "== compute-sanitizer (small model tests)"
SMALL='CudaModel.HostArguments*:CudaModel.BadToken*:CudaModel.FeatureClassifier*:CudaModel.LayerForward*'
{
  echo "### memcheck"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/test_cuda_model" --gtest_filter="$SMALL"; echo "memcheck rc=$?"
  echo "### racecheck"; timeout 150 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 9 "$BIN/test_cuda_model" --gtest_filter='CudaModel.HostArguments*:CudaModel.FeatureClassifier*'; echo "racecheck rc=$?"
} > "$OUT/sanitizer.log" 2>&1
grep -E "rc=|ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer.log"
grep -q "memcheck rc=0" "$OUT/sanitizer.log" && grep -q "racecheck rc=0" "$OUT/sanitizer.log" || status=1
fi
echo "== layer: ours vs PyTorch+fla vs softmax block"
PYTHONPATH=$PWD/.device:$PWD/tools/device${PYTHONPATH:+:$PYTHONPATH} OUT="$OUT" timeout 240 python3 tools/device/bench_layer.py > "$OUT/layer.log" 2>&1 || { echo "bench_layer rc=$?"; status=1; }
grep -E "^\{|Error|error" "$OUT/layer.log" | head -12
# The same layer with the Hopper GEMMs turned off (sm_80 mma.sync kernels only), for the A/B.
CHELA_CUDA_GEMM=sm80 SHAPES=16384x4 PROFILE_L=0 PYTHONPATH=$PWD/.device:$PWD/tools/device${PYTHONPATH:+:$PYTHONPATH} OUT="$OUT/sm80" \
  timeout 120 python3 tools/device/bench_layer.py > "$OUT/layer_sm80.log" 2>&1 || echo "bench_layer (sm80 GEMMs) rc=$?"
grep -E "^\{" "$OUT/layer_sm80.log" | sed 's/^/sm80 GEMMs: /'
[ -n "${SKIP_FORWARD:-}" ] && { echo "model_check: $([ $status = 0 ] && echo ALL OK || echo SOMETHING FAILED) (forward benches skipped)"; exit $status; }
echo "== whole-model forward: native chela-bench, then Java (JMH), same models and shapes"
{
  timeout 100 "$BIN/chela-bench" --op forward --device cuda --model models/bytelm --B 1 --context 4096,16384,65536 --reps 20
  [ -d /tmp/chela_layer_L16384 ] && timeout 100 "$BIN/chela-bench" --op forward --device cuda --model /tmp/chela_layer_L16384 --B 4 --context 16384 --reps 20
  timeout 150 bash tools/device/java_gpu.sh
  echo "GpuSmoke rc=$?"
  timeout 200 bash tools/device/java_gpu.sh jmh ModelForwardBenchmark -f 1 -wi 2 -w 1 -i 4 -r 1 \
      -p model="$PWD/models/bytelm" -p device=cuda -p batch=1 -p length=4096,16384,65536
  [ -d /tmp/chela_layer_L16384 ] && timeout 100 bash tools/device/java_gpu.sh jmh ModelForwardBenchmark -f 1 -wi 2 -w 1 -i 4 -r 1 \
      -p model=/tmp/chela_layer_L16384 -p device=cuda -p batch=4 -p length=16384
} > "$OUT/forward.log" 2>&1
grep -E "forward|GPU Java|rc=|ModelForwardBenchmark.forward|Exception|Error" "$OUT/forward.log" | head -30
grep -q "GPU Java smoke: PASSED" "$OUT/forward.log" || status=1
echo "model_check: $([ $status = 0 ] && echo ALL OK || echo SOMETHING FAILED) (logs in $OUT)"
exit $status
