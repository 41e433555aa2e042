#!/usr/bin/env bash
# Nsight Compute profile of the on-chip FFT convolution kernels at the issue's first conv shape
# (B4 C1024 L16384, Lk = L, bf16; SHAPE=1,65536 FFTS=tc: B1 L65536, the cluster variant), through the C ABI, fp32 passes then the tensor-core variant: speed of light, occupancy, warp stall reasons,
# scheduler and instruction statistics. Run on the GPU machine from the repo root (carry .devpack);
# writes $OUT/ncu_conv.txt and prints the headline rows. KERNELS (a regex) and COUNT pick other launches.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
# Unpacks .devpack itself where no earlier script did (alone on a fresh machine it found no
# libchela.so: the 2026-12-02 spectra profile call came back empty).
source tools/device/device_env.sh
timeout 240 ncu --kernel-name regex:"${KERNELS:-conv_columns|kernel_spectra}" --launch-count ${COUNT:-4} --clock-control none \
  --section SpeedOfLight --section Occupancy --section WarpStateStats --section SchedulerStats \
  --section ComputeWorkloadAnalysis --section InstructionStats --section MemoryWorkloadAnalysis \
  python3 - > "$OUT/ncu_conv.txt" 2>&1 <<'PY'
import sys, torch
sys.path.insert(0, "tools/device")
import chela_capi as capi
from bench_conv import make_inputs
with torch.cuda.stream(torch.cuda.Stream()):
    import os
    B, L = (int(v) for v in os.environ.get("SHAPE", "4,16384").split(","))
    x, ws, bs, wl, _, om = make_inputs(B, 1024, L, L, 3, torch.bfloat16, seed=1)
    out = torch.empty_like(x)
    ctx = capi.CudaContext(0)
    # the fp32 on-chip passes, then the tensor-core variant (run 27: 1.81 vs 2.26 ms); FFTS=tc: only it
    for fft in os.environ.get("FFTS", "chip tc").split():
        os.environ["CHELA_CUDA_CONV_FFT"] = fft
        capi.short_long_conv(ctx, x, ws, bs, wl, None, om, out, True)
        torch.cuda.synchronize()
        print(fft, "ran; finite:", torch.isfinite(out.float()).all().item())
PY
echo "ncu rc=$?"
grep -E "^  [a-z_]+.*(conv_columns|kernel_spectra)|Duration|Memory Throughput|Compute \(SM\)|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Stall|Issue Slots|No Eligible|Active Warps Per|Executed Ipc|Shared.*Bank|Bank Conflicts|Executed Instructions  " "$OUT/ncu_conv.txt" | head -60
# Where the tensor-core column kernel's (or KERNEL's) instructions go: executed instructions per CUDA source line
# (conv_fft_chip.cu is built with -lineinfo) and per SASS instruction, from one launch.
if [ -n "${SOURCE:-}" ]; then
  timeout 200 ncu --kernel-name regex:"${KERNEL:-conv_columns}" --launch-count 1 --clock-control none --section SourceCounters --section WarpStateStats \
    --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio --import-source yes -f -o "$OUT/cols" python3 - > "$OUT/ncu_cols_run.txt" 2>&1 <<'PY'
import sys, torch
sys.path.insert(0, "tools/device")
import chela_capi as capi
from bench_conv import make_inputs
with torch.cuda.stream(torch.cuda.Stream()):
    import os
    B, L = (int(v) for v in os.environ.get("SHAPE", "4,16384").split(","))
    x, ws, bs, wl, _, om = make_inputs(B, 1024, L, L, 3, torch.bfloat16, seed=1)
    out = torch.empty_like(x)
    capi.short_long_conv(capi.CudaContext(0), x, ws, bs, wl, None, om, out, True)
    torch.cuda.synchronize()
PY
  echo "ncu source rc=$?"
  ncu --import "$OUT/cols.ncu-rep" --page source --csv --print-source cuda > "$OUT/cols_cuda.csv" 2>&1; echo "cuda view rc=$?"
  ncu --import "$OUT/cols.ncu-rep" --page source --csv --print-source sass > "$OUT/cols_sass.csv" 2>&1; echo "sass view rc=$?"
  ncu --import "$OUT/cols.ncu-rep" --page raw --csv > "$OUT/cols_raw.csv" 2>&1; echo "raw rc=$?"
  rm -f "$OUT/cols.ncu-rep"
fi
