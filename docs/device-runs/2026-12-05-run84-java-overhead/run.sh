#!/usr/bin/env bash
# Run 84: what the Java call adds to a whole-model forward on the GPU, measured in one JMH run and
# one JVM: ModelForwardBenchmark.forward (ChelaModel.forward + Backend.synchronize) against
# forwardNative (chela_model_forward + chela_context_synchronize through the raw bindings, structs
# built once), interleaved per shape. Run 83 compared JMH's average with chela-bench's median from
# another process (+1.0 .. +3.1 %); this removes both differences. chela-bench runs before and after.
# Same preparation and carry as run 83. There: bash docs/device-runs/2026-12-05-run84-java-overhead/run.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
source tools/device/device_env.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit --format=csv | tee "$OUT/env.txt"
# The anchor layer as a one-layer model (bench_layer.py's checkpoint: d1024 e128 f2048, Lk 16384, seed 0).
python3 - <<'PY'
import sys, torch
sys.path.insert(0, "tests/reference")
import chela_ref as ref
torch.manual_seed(0)
cfg = ref.Config(d_model=1024, z_dim=128, v_dim=2048, n_layers=1, n_heads=1, short_kernel=3, long_kernel=16384,
                 max_len=16384, causal=True, prenorm=True, norm="layernorm", feature_map="identity",
                 attn_norm="rmsnorm", task="lm", vocab_size=256)
ref.save_checkpoint(ref.Chela(cfg), "/tmp/chela_layer_L16384")
PY
echo "checkpoint rc=$? ($SECONDS s)"
native() {
  timeout 60 "$BIN/chela-bench" --op forward --device cuda --model models/bytelm --B 1 --context 4096,16384,65536 --reps 50
  timeout 60 "$BIN/chela-bench" --op forward --device cuda --model /tmp/chela_layer_L16384 --B 4 --context 16384 --reps 50
}
{
  echo "### native before"; native
  echo "### JMH"
  timeout 200 bash tools/device/java_gpu.sh jmh ModelForwardBenchmark -f 1 -wi 3 -w 1 -i 8 -r 1 \
      -p model="$PWD/models/bytelm" -p device=cuda -p batch=1 -p length=4096,16384,65536
  timeout 100 bash tools/device/java_gpu.sh jmh ModelForwardBenchmark -f 1 -wi 3 -w 1 -i 8 -r 1 \
      -p model=/tmp/chela_layer_L16384 -p device=cuda -p batch=4 -p length=16384
  echo "### native after"; native
} > "$OUT/forward.log" 2>&1
grep -E "forward B|###|ModelForwardBenchmark.forward|Exception" "$OUT/forward.log"
echo "total $SECONDS s"
