#!/usr/bin/env bash
# Where a chunk's time goes in the wgmma linear attention kernel: runs the developer build with
# -DCHELA_LA_PHASES=1 (clock64 marks around each phase of the chunk loop; thread 0 of the first CTA
# prints cycles per chunk) at the issue's two shapes, with one and two warpgroups per CTA and a
# single-segment run of the wide shape (one CTA's chain with the chip mostly idle).
# Here: cmake -S . -B build-cuda-phases -DCUTLASS_DIR=... -DCMAKE_CUDA_FLAGS=-DCHELA_LA_PHASES=1 \
#   -DCHELA_CUDA_GENCODE=-gencode=arch=compute_90a,code=sm_90a && cmake --build build-cuda-phases \
#   --target chela_cuda_bench && tar cJf .devpack/phases.tar.xz -C build-cuda-phases libchela_cuda_bench.so
# There (repo root, .devpack carried): bash tools/device/la_phases.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/device/device_env.sh
mkdir -p .device/phases && tar xJf .devpack/phases.tar.xz -C .device/phases
CHELA_BENCH_LIB=$PWD/.device/phases/libchela_cuda_bench.so PYTHONUNBUFFERED=1 python3 - <<'PY'
import os, sys, torch
sys.path.insert(0, "tools/device")
import bench_linear_attention as bl
for (B, H, L, D, Dv, seg, groups) in [(8, 16, 16384, 128, 128, 0, "2"), (8, 16, 16384, 128, 128, 0, "1"),
                                      (4, 1, 16384, 128, 1024, 0, "2"), (4, 1, 16384, 128, 1024, 1, "2")]:
    os.environ["CHELA_CUDA_LA_GROUPS"] = groups
    q, k = (torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    v = torch.randn(B, L, H, Dv, device="cuda", dtype=torch.bfloat16)
    print(f"-- B{B} H{H} L{L} D{D} Dv{Dv} segments={seg or 'auto'} groups={groups}", flush=True)
    for _ in range(2):  # the second call is warm
        bl.Ours(q, k, v, segments=seg)()
        torch.cuda.synchronize()
PY
