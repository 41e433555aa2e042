"""Warpgroups per CTA x segments for the wgmma linear-attention kernel, across shapes: the data for
tc_groups' rule (native/cuda/tiled_linear_attention.cu). Run 83 showed the rule picking one warpgroup
at B2 H16 L65536 D128 (1.288 ms) where two ran 1.136 ms. For every shape: the default plan, then
CHELA_CUDA_LA_GROUPS = 1 and 2, each with the default segment count (0) and 1, 2, 4, 8, 16 segments.
Output checked against the default plan's (poisoned first). From the repo root on the GPU machine,
after tools/device/device_env.sh: python3 tools/device/la_groups_sweep.py  (writes $OUT/la_groups.json)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_linear_attention import Ours, bench, rel_l2  # noqa: E402

SHAPES = [  # B, H, L, Dk, Dv
    (8, 16, 16384, 128, 128), (2, 16, 65536, 128, 128), (1, 16, 65536, 128, 128), (4, 16, 32768, 128, 128),
    (2, 8, 65536, 128, 128), (4, 16, 16384, 128, 128), (16, 16, 4096, 128, 128), (4, 4, 16384, 32, 128),
    (4, 1, 16384, 128, 1024), (1, 1, 65536, 128, 1024), (16, 1, 4096, 128, 1024),
    (4, 1, 16384, 128, 2048), (1, 1, 65536, 128, 2048),
    (3, 16, 16384, 128, 128), (4, 8, 16384, 128, 256), (2, 8, 65536, 128, 256),
]


def main():
    torch.manual_seed(0)
    rows = []
    for B, H, L, D, Dv in SHAPES:
        shape = f"B{B} H{H} L{L} Dk{D} Dv{Dv}"
        q = torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(B, L, H, Dv, device="cuda", dtype=torch.bfloat16)
        with torch.no_grad():
            ref = Ours(q, k, v)
            ref.o.fill_(float("nan"))
            ref()
            t_def = bench(ref)
            line = [f"{shape:28s} default {t_def:7.4f}"]
            rows.append(dict(shape=shape, groups="default", segments=0, ms=t_def))
            for g in ("1", "2"):
                os.environ["CHELA_CUDA_LA_GROUPS"] = g
                try:
                    times = []
                    for seg in (0, 1, 2, 4, 8, 16):
                        f = Ours(q, k, v, segments=seg)
                        f.o.fill_(float("nan"))
                        err = rel_l2(f(), ref.o)
                        if not err < 1e-2:
                            print(f"FAIL {shape} groups={g} segments={seg}: rel_l2 {err:.2e} vs default", flush=True)
                        ms = bench(f)
                        times.append(ms)
                        rows.append(dict(shape=shape, groups=g, segments=seg, ms=ms, rel_l2_vs_default=err))
                        del f
                finally:
                    del os.environ["CHELA_CUDA_LA_GROUPS"]
                line.append(f"| g{g}: auto {times[0]:7.4f} seg1/2/4/8/16 " + " ".join(f"{t:7.4f}" for t in times[1:]))
            print(" ".join(line), flush=True)
        del q, k, v, ref
        torch.cuda.empty_cache()
    with open(os.path.join(os.environ.get("OUT", "."), "la_groups.json"), "w") as fh:
        json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    with torch.cuda.stream(torch.cuda.Stream()):
        main()
