#!/usr/bin/env bash
# Run 83: the shipped code (native at 36aecf9) on an H100, the device, every acceptance
# figure in one call: conv and linear-attention benches against their peers, the layer against
# PyTorch+fla and a softmax block (SDPA), the whole-model forward native vs Java (JMH) and the Java
# GPU smoke test. Run 82 timed the same code but its benches stopped at writing their JSON
# ($OUT/conv and $OUT/la were never created): here the folders exist first.
# Here: tools/device/build_cuda.sh, `mvn -o test-compile` in java/, the .devpack preparation of
# tools/device/java_gpu.sh; carry [".devpack", ".device/fla", ".device/anchor", "java/target/classes",
# "java/target/test-classes"]. There, from the repo root: bash docs/device-runs/2026-12-05-run83-h100-final/run.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT/conv" "$OUT/la" "$OUT/layer"
source tools/device/device_env.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit --format=csv | tee "$OUT/env.txt"
CHELA_LIB=$BIN/libchela.so OUT="$OUT/conv" NO_SWEEP=1 timeout 150 python3 tools/device/bench_conv.py > "$OUT/conv.log" 2>&1
echo "bench_conv rc=$? ($SECONDS s)"; grep -E "^FAIL|\[B,C,L\]: blocks" "$OUT/conv.log"; sed -n '/^shape /,/^checks/p' "$OUT/conv.log"
OUT="$OUT/la" timeout 200 python3 tools/device/bench_linear_attention.py > "$OUT/la.log" 2>&1
echo "bench_linear_attention rc=$? ($SECONDS s)"; grep -E "^FAIL|ceiling|   ours  |fla chunk_linear_attn|C ABI chela" "$OUT/la.log"
PYTHONPATH=$PWD/.device:$PWD/tools/device${PYTHONPATH:+:$PYTHONPATH} OUT="$OUT/layer" timeout 200 python3 tools/device/bench_layer.py > "$OUT/layer.log" 2>&1
echo "bench_layer rc=$? ($SECONDS s)"; grep -E "^\{|Error" "$OUT/layer.log" | head -8
{
  timeout 60 "$BIN/chela-bench" --op forward --device cuda --model models/bytelm --B 1 --context 4096,16384,65536 --reps 20
  [ -d /tmp/chela_layer_L16384 ] && timeout 60 "$BIN/chela-bench" --op forward --device cuda --model /tmp/chela_layer_L16384 --B 4 --context 16384 --reps 20
  timeout 100 bash tools/device/java_gpu.sh; echo "GpuSmoke rc=$?"
  timeout 120 bash tools/device/java_gpu.sh jmh ModelForwardBenchmark -f 1 -wi 2 -w 1 -i 4 -r 1 \
      -p model="$PWD/models/bytelm" -p device=cuda -p batch=1 -p length=4096,16384,65536
  [ -d /tmp/chela_layer_L16384 ] && timeout 60 bash tools/device/java_gpu.sh jmh ModelForwardBenchmark -f 1 -wi 2 -w 1 -i 4 -r 1 \
      -p model=/tmp/chela_layer_L16384 -p device=cuda -p batch=4 -p length=16384
} > "$OUT/forward.log" 2>&1
echo "forward ($SECONDS s)"; grep -E "forward|GPU Java|rc=|ModelForwardBenchmark.forward|Exception" "$OUT/forward.log" | head -20
if [ $SECONDS -lt 430 ]; then
  timeout 90 "$BIN/test_cuda_model" > "$OUT/model_test.log" 2>&1
  echo "test_cuda_model rc=$? ($SECONDS s)"; grep -E "^\[  (PASSED|FAILED) |  FAILED" "$OUT/model_test.log" | head -5
fi
echo "total $SECONDS s"
