#!/usr/bin/env bash
# One GPU-machine session for the CUDA linear attention: run from the repo root there, with .device/
# carried (prebuilt .device/bin from tools/device/build_cuda.sh, fla in .device/fla, einops wheel in
# .device/wheels). Writes logs to $OUT (default ./gpu-out) and prints a short summary last.
#   env.txt        nvidia-smi, tool versions, SASS instruction counts of our kernels
#   test.log       tests/cuda against the float64 reference (all cases)
#   sanitizer.log  compute-sanitizer memcheck + racecheck on the small cases
#   bench.log      tools/device/bench_linear_attention.py (ours vs fla, same run, same inputs)
#   la_bench.json  the bench rows
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
source tools/device/device_env.sh  # .device/bin carried or unpacked; loader paths, cuFFT
status=0
{
  date -u
  nvidia-smi
  nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv
  nvcc --version | tail -2
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
  echo "== SASS counts per kernel (HMMA = mma.sync tensor-core ops; LDL/STL = local memory)"
  cuobjdump --dump-sass "$BIN/libchela.so" 2>/dev/null | awk '/Function :/{f=$3} /HMMA/{h[f]++} /HGMMA/{g[f]++} /LDSM/{m[f]++} /LDGSTS/{c[f]++} /LDL|STL/{l[f]++} /Function :/{seen[f]=1} END{for(k in seen) printf "HMMA %5d HGMMA %4d LDSM %4d LDGSTS %4d LDL/STL %3d %s\n", h[k], g[k], m[k], c[k], l[k], k}' | sort -k2 -nr | head -40
  echo "== resource usage (registers, shared memory, stack) per kernel"
  cuobjdump --dump-resource-usage "$BIN/libchela.so" 2>/dev/null | grep -E "Function|REG" | head -80
} > "$OUT/env.txt" 2>&1
echo "== test"
if timeout 240 "$BIN/test_cuda_linear_attention" > "$OUT/test.log" 2>&1; then echo "test: PASSED"; else echo "test: FAILED (rc=$?)"; status=1; fi
tail -4 "$OUT/test.log"
echo "== compute-sanitizer (small cases)"
{
  echo "### memcheck"; timeout 150 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 "$BIN/test_cuda_linear_attention" --small; echo "memcheck rc=$?"
  echo "### racecheck"; timeout 150 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 9 "$BIN/test_cuda_linear_attention" --small --filter segments=5; echo "racecheck rc=$?"
} > "$OUT/sanitizer.log" 2>&1
grep -E "rc=|ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer.log"
grep -q "memcheck rc=0" "$OUT/sanitizer.log" && grep -q "racecheck rc=0" "$OUT/sanitizer.log" || status=1
echo "== C ABI: CUDA context, device tensors and the WMMA path (tests/native/test_cuda.cpp)"
if [ -x "$BIN/test_cuda" ]; then
  timeout 120 "$BIN/test_cuda" > "$OUT/test_capi.log" 2>&1 && echo "test_cuda: PASSED" || { echo "test_cuda: FAILED"; status=1; }
  grep -E "PASSED|FAILED|rel_l2|Which is" "$OUT/test_capi.log" | head -12
fi
echo "== C ABI: short-long conv on CUDA (tests/native/test_cuda_conv.cpp), cuFFT from ${CUFFT_DIR:-nowhere}"
if [ -x "$BIN/test_cuda_conv" ]; then
  timeout 120 "$BIN/test_cuda_conv" > "$OUT/test_conv.log" 2>&1 && echo "test_cuda_conv: PASSED" || { echo "test_cuda_conv: FAILED"; status=1; }
  grep -E "PASSED|FAILED|Which is|actual" "$OUT/test_conv.log" | head -12
fi
echo "== bench"
OUT="$OUT" timeout 330 python3 tools/device/bench_linear_attention.py "$@" > "$OUT/bench.log" 2>&1 || { echo "bench rc=$?"; status=1; }
grep -E "^ok|^FAIL|ceiling" "$OUT/bench.log"
sed -n '/^shape /,$p' "$OUT/bench.log"
tail -3 "$OUT/bench.log" | grep -iE "error|Traceback" && status=1
echo "gpu_check: $([ $status = 0 ] && echo ALL OK || echo SOMETHING FAILED) (logs in $OUT)"
exit $status
