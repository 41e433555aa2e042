"""Repeatability of the linear attention timing at B8 H16 L16384 D128 (bf16): our default kernel timed
several times, interleaved with the peers as in bench_linear_attention.py, with the SM clock and
power read by nvidia-smi after each timing, to tell a slow repeat caused by the GPU's clocks from
one caused by the kernel. Run on the GPU machine from the repo root (after device_env.sh):
    python3 tools/device/la_repeat.py
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_linear_attention as bl  # noqa: E402
import torch  # noqa: E402


def clocks():
    q = "--query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active"
    return subprocess.run(["nvidia-smi", q, "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()


def main():
    from fla.ops.linear_attn import chunk_linear_attn
    from fla.ops.simple_gla import chunk_simple_gla
    B, H, L, D = 8, 16, 16384, 128
    q, k, v = (torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    gamma = torch.full((H,), -0.01, device="cuda", dtype=torch.float32)
    ours = bl.Ours(q, k, v)
    ours_d = bl.Ours(q, k, v, decay=gamma.exp())
    fla = lambda: chunk_linear_attn(q, k, v, normalize=False)[0]  # noqa: E731
    gla = lambda: chunk_simple_gla(q, k, v, g_gamma=gamma)[0]  # noqa: E731
    seq = [("ours", ours), ("fla", fla), ("ours", ours), ("ours decay", ours_d), ("gla", gla), ("ours", ours),
           ("ours", ours), ("fla", fla), ("ours", ours), ("ours", ours)]
    with torch.no_grad():
        for name, fn in seq:
            ms = bl.bench(fn)
            print(f"{name:12s} {ms:8.4f} ms   sm MHz, mem MHz, W, C, throttle: {clocks()}", flush=True)


if __name__ == "__main__":
    with torch.cuda.stream(torch.cuda.Stream()):
        main()
