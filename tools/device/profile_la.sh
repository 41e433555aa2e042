#!/usr/bin/env bash
# Nsight Compute profile of the CUDA linear attention kernels at the issue's first shape
# (B8 H16 L16384 D128 bf16), through the C ABI, wgmma then mma.sync generation: speed of light, occupancy, warp stall reasons,
# memory traffic. Run on the GPU machine from the repo root with .device carried; writes
# $OUT/ncu_la.txt and prints the headline rows.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
timeout 240 ncu --kernel-name regex:la_fwd --launch-count 2 --clock-control none \
  --section SpeedOfLight --section Occupancy --section WarpStateStats --section MemoryWorkloadAnalysis \
  --section SchedulerStats --section LaunchStats \
  python3 - > "$OUT/ncu_la.txt" 2>&1 <<'PY'
import sys, torch
sys.path.insert(0, "tools/device")
import chela_capi as capi
with torch.cuda.stream(torch.cuda.Stream()):
    B, L, H, D = 8, 16384, 16, 128
    q, k, v = (torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    o = torch.empty_like(v)
    ctx = capi.CudaContext(0)
    import os
    for mma in ("wgmma", "sync"):  # both kernel generations (CHELA_CUDA_LA_MMA)
        os.environ["CHELA_CUDA_LA_MMA"] = mma
        capi.linear_attention(ctx, q, k, v, o, capi.la_options(H * D, H))
        torch.cuda.synchronize()
        print(mma, "ran; finite:", torch.isfinite(o).all().item())
PY
echo "ncu rc=$?"
grep -E "^  [a-z_]+.*la_fwd|Duration|DRAM Throughput|Memory Throughput|Compute \(SM\)|Achieved Occupancy|Registers Per|Block Limit|Warp Cycles Per Issued|Stall|L2 Hit|L1/TEX Hit|Issue Slots|No Eligible|Active Warps Per" "$OUT/ncu_la.txt" | head -60
