#!/usr/bin/env bash
# Run 86: the wgmma linear attention's new plan rule (tc_groups / one segment where the grid fills the
# chip; native/cuda/tiled_linear_attention.cu) on the H100: the groups x segments sweep (the default
# column is the new rule), the GPU tests that run the kernel, the bench and the layer bench.
# tools/device/build_cuda.sh here; carry [".devpack", ".device/fla", ".device/anchor"]. There, from the
# repo root: bash docs/device-runs/2026-12-05-run86-la-plan/run.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT/la" "$OUT/layer"
source tools/device/device_env.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit --format=csv | tee "$OUT/env.txt"
OUT="$OUT" timeout 120 python3 tools/device/la_groups_sweep.py > "$OUT/la_groups.log" 2>&1
echo "sweep rc=$? ($SECONDS s)"; cat "$OUT/la_groups.log"
for t in test_cuda_linear_attention test_cuda test_cuda_model; do
  timeout 150 "$BIN/$t" > "$OUT/$t.log" 2>&1; echo "$t rc=$? ($SECONDS s)"; grep -E "^\[  (PASSED|FAILED) |  FAILED" "$OUT/$t.log" | head -5
done
OUT="$OUT/la" timeout 150 python3 tools/device/bench_linear_attention.py > "$OUT/la.log" 2>&1
echo "bench_linear_attention rc=$? ($SECONDS s)"; grep -E "^FAIL|ceiling|   ours  |fla chunk_linear_attn|wgmma [12] group" "$OUT/la.log"
if [ $SECONDS -lt 380 ]; then
  PYTHONPATH=$PWD/.device:$PWD/tools/device${PYTHONPATH:+:$PYTHONPATH} OUT="$OUT/layer" PROFILE_L=0 timeout 150 python3 tools/device/bench_layer.py > "$OUT/layer.log" 2>&1
  echo "bench_layer rc=$? ($SECONDS s)"; grep -E "^\{|Error" "$OUT/layer.log" | head -8
fi
echo "total $SECONDS s"
