"""CUDA short-long convolution: ours (libchela through its C ABI, ctypes) vs the torch peer pipeline.

Run on the GPU machine from the repo root:  python3 tools/device/bench_conv.py [--quick]
  SHAPES="B,C,L;..." times (and profiles) only these shapes; NO_SWEEP=1 leaves out the direct-path sweep
  CHELA_LIB   path of the CUDA-enabled libchela.so (default .device/bin/libchela.so)
  OUT         folder for conv_bench.json (default .)
libchela loads cuFFT at run time (libcufft.so.12): this script makes torch load its own copy first
(torch.fft), so the soname is already in the process; CHELA_CUFFT_LIB names another file.

1. Correctness: ours vs a float64 torch implementation of the spec (causal and bidirectional,
   direct and FFT paths, bf16 and f32) on small shapes.
2. Timing (median ms, triton.testing.do_bench): ours (bf16 [B,L,C] in and out, f32 weights, Lk = L;
   and "ours [B,C,L]": the same call on channel-major bf16 x and out, CHELA_CONV_LAYOUT_BDL, the
   peer's layout) vs the peer of /work/shared/bench/peer_anchors.py (F.conv1d depthwise short conv -> SiLU ->
   torch.fft rfft/irfft long conv with n = 2L, fp32 [B,C,L]) completed with the skip and the final
   SiLU; "peer(anchor)" takes the fp32 [B,C,L] tensor prepared outside the timing (what the project
   measured), "peer(same input)" starts from our bf16 [B,L,C] tensor and returns bf16 [B,L,C].
   Effective TB/s counts x read once and y written once.
3. Direct-path threshold sweep: Lk in {16..256} timed with the path forced each way.
Prints the table last and writes conv_bench.json.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
import triton

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chela_capi as capi  # noqa: E402


def make_inputs(B, C, L, Lk, ks, dtype, seed=0, bidir=False):
    g = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.randn(B, L, C, device="cuda", generator=g).to(dtype)
    ws = torch.randn(C, ks, device="cuda", generator=g) * 0.5
    bs = torch.randn(C, device="cuda", generator=g) * 0.1
    wl = torch.randn(C, Lk, device="cuda", generator=g) / Lk ** 0.5
    wr = torch.randn(C, Lk, device="cuda", generator=g) / Lk ** 0.5 if bidir else None
    om = torch.randn(C, device="cuda", generator=g)
    return x, ws, bs, wl, wr, om


def reference64(x, ws, bs, wl, wr, om, causal):
    """The spec in float64 (FFT with n >= 2L, exact to ~1e-15): x [B,L,C] -> [B,L,C]."""
    x = x.double().transpose(1, 2)  # [B,C,L]
    B, C, L = x.shape
    ks = ws.shape[1]
    K = min(wl.shape[1], L)
    centre = 0 if causal else (ks - 1) // 2
    # Conv1d stores the current-step tap last (causal); index j of ws reaches j - centre back.
    left, right = ks - 1 - centre, centre
    a = F.conv1d(F.pad(x, (left, right)), ws.double().flip(1).unsqueeze(1), bs.double(), groups=C)
    a = F.silu(a)
    n = 2 * L
    h = torch.zeros(C, n, dtype=torch.float64, device=x.device)
    h[:, :K] = wl.double()[:, :K]
    if not causal:
        h[:, n - K + 1:] = wr.double()[:, 1:K].flip(1)
    g = torch.fft.irfft(torch.fft.rfft(a, n=n) * torch.fft.rfft(h, n=n), n=n)[..., :L]
    return F.silu(g + om.double()[:, None] * x).transpose(1, 2)


def peer_anchor(x_bcl, ws_conv, bs, wl, om, n):
    """peer_anchors.py's short->silu->long pipeline (fp32, [B,C,L]) plus skip and final SiLU."""
    B, C, L = x_bcl.shape
    ks = ws_conv.shape[-1]
    a = F.silu(F.conv1d(F.pad(x_bcl, (ks - 1, 0)), ws_conv, bs, groups=C))
    g = torch.fft.irfft(torch.fft.rfft(a, n=n) * torch.fft.rfft(wl, n=n), n=n)[..., :L]
    return F.silu(g + om[:, None] * x_bcl)


def rel_l2(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item()


def bench(fn):
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def set_threshold(v):
    if v is None:
        os.environ.pop("CHELA_CUDA_CONV_DIRECT_MAX", None)
    else:
        os.environ["CHELA_CUDA_CONV_DIRECT_MAX"] = str(v)


def set_fft(v):
    """None = automatic (on-chip FFT where it fits), 'cufft' forces cuFFT."""
    if v is None:
        os.environ.pop("CHELA_CUDA_CONV_FFT", None)
    else:
        os.environ["CHELA_CUDA_CONV_FFT"] = v


def correctness(ch, rows):
    fails = 0
    for (B, C, L, Lk, ks, causal, dtype, thr, fft) in [
        (2, 64, 1000, 1000, 3, True, torch.bfloat16, 0, None), (2, 64, 1000, 1000, 3, False, torch.bfloat16, 0, None),
        (2, 64, 1000, 1000, 3, True, torch.float32, 0, None), (1, 96, 4097, 4097, 5, False, torch.float32, 0, None),
        (2, 64, 1000, 1000, 3, False, torch.bfloat16, 0, "cufft"), (1, 96, 4097, 4097, 5, False, torch.float32, 0, "cufft"),
        (2, 64, 1000, 1000, 3, True, torch.bfloat16, 0, "tc"), (1, 96, 4097, 4097, 5, False, torch.float16, 0, "tc"),
        (1, 1024, 16384, 16384, 3, True, torch.bfloat16, None, "tc"),
        (2, 64, 1000, 100, 3, True, torch.bfloat16, 256, None), (2, 64, 1000, 200, 5, False, torch.float32, 256, None),
        (1, 1024, 16384, 16384, 3, True, torch.bfloat16, None, None),
        (2, 256, 16384, 16384, 3, False, torch.float32, None, None),
        (1, 64, 65536, 65536, 3, True, torch.bfloat16, None, None),
        (1, 64, 65536, 65536, 3, False, torch.bfloat16, None, "blocks"),
        (1, 64, 65536, 65536, 3, True, torch.bfloat16, None, "cluster")]:
        for bcl in (False, True):  # channel-major x and out (CHELA_CONV_LAYOUT_BDL), the same results
            x, ws, bs, wl, wr, om = make_inputs(B, C, L, Lk, ks, dtype, seed=L + Lk, bidir=not causal)
            set_threshold(thr)
            set_fft(fft)
            if bcl:
                x_in = x.transpose(1, 2).contiguous()
                out = torch.full_like(x_in, float("nan"))
                capi.short_long_conv(ch, x_in, ws, bs, wl, wr, om, out, causal, channels_major=True)
                out = out.transpose(1, 2)
            else:
                out = torch.full_like(x, float("nan"))
                capi.short_long_conv(ch, x, ws, bs, wl, wr, om, out, causal)
            torch.cuda.synchronize()
            err = rel_l2(out, reference64(x, ws, bs, wl, wr, om, causal))
            tol = 1e-5 if dtype == torch.float32 else 3e-3
            ok = err <= tol and torch.isfinite(out).all().item()
            fails += not ok
            name = (f"B{B} C{C} L{L} Lk{Lk} ks{ks} {'causal' if causal else 'bidir'} {str(dtype)[6:]} thr={thr} fft={fft}"
                    f"{' [B,C,L]' if bcl else ''}")
            print(f"{'ok  ' if ok else 'FAIL'} {name}: rel_l2 {err:.2e} (<= {tol:g})", flush=True)
            rows.append(dict(kind="check", case=name, rel_l2=err, ok=bool(ok)))
    set_threshold(None)
    set_fft(None)
    return fails


def timing(ch, B, C, L, rows, ks=3):
    x, ws, bs, wl, _, om = make_inputs(B, C, L, L, ks, torch.bfloat16, seed=1)
    out = torch.empty_like(x)
    x_bcl = x.float().transpose(1, 2).contiguous()
    xb_bcl = x.transpose(1, 2).contiguous()  # bf16 [B,C,L]: ours in the peer's layout
    out_bcl = torch.empty_like(xb_bcl)
    ws_conv = ws.flip(1).unsqueeze(1).contiguous()
    n = 2 * L

    def ours():
        capi.short_long_conv(ch, x, ws, bs, wl, None, om, out, True)

    def ours_bcl():
        capi.short_long_conv(ch, xb_bcl, ws, bs, wl, None, om, out_bcl, True, channels_major=True)

    def peer_same():
        y = peer_anchor(x.float().transpose(1, 2), ws_conv, bs, wl, om, n)
        return y.transpose(1, 2).to(torch.bfloat16)

    with torch.no_grad():
        ours()
        err = rel_l2(out, peer_same())
        t_ours = bench(ours)
        ours_bcl()
        err_bcl = rel_l2(out_bcl.transpose(1, 2), out)  # the same call in the other layout
        t_bcl = bench(ours_bcl)
        # Past one CTA: the block variant and the cluster variant, both channel-major (A/B in one run)
        t_blocks = t_cluster = None
        if L > 16384:
            set_fft("blocks")
            ours_bcl()
            err_blocks = rel_l2(out_bcl.transpose(1, 2), peer_same())
            t_blocks = bench(ours_bcl)
            set_fft("cluster")
            ours_bcl()
            err_cluster = rel_l2(out_bcl.transpose(1, 2), peer_same())
            t_cluster = bench(ours_bcl)
            print(f"B{B} L{L} [B,C,L]: blocks {t_blocks:.3f} ms (rel-L2 vs peer {err_blocks:.2e}), "
                  f"cluster {t_cluster:.3f} ms ({err_cluster:.2e})", flush=True)
        set_fft("cufft")
        t_cufft = bench(ours)
        set_fft("chip")  # the fp32 on-chip passes (the default is the tensor-core transform)
        ours()
        err_chip = rel_l2(out, peer_same())
        t_chip = bench(ours)
        set_fft(None)
        t_anchor = bench(lambda: peer_anchor(x_bcl, ws_conv, bs, wl, om, n))
        t_same = bench(peer_same)
    nbytes = 2 * B * L * C * 2
    shape = f"B{B} C{C} L{L} Lk{L}"
    row = dict(kind="time", shape=shape, ours_ms=t_ours, ours_bcl_ms=t_bcl, bcl_rel_l2_vs_bld=err_bcl,
               ours_bcl_blocks_ms=t_blocks, ours_bcl_cluster_ms=t_cluster,
               speedup_bcl_vs_anchor=t_anchor / t_bcl, ours_cufft_ms=t_cufft, ours_chip_ms=t_chip,
               chip_rel_l2_vs_peer=err_chip, peer_anchor_ms=t_anchor, peer_same_ms=t_same,
               ours_TBps=nbytes / t_ours / 1e9, speedup_vs_anchor=t_anchor / t_ours, speedup_vs_same=t_same / t_ours,
               rel_l2_vs_peer=err)
    print(row, flush=True)
    rows.append(row)
    return row


def profile(ch, B, C, L, ks=3):
    """Where our call spends its time (torch.profiler over the CUDA kernels, 10 calls)."""
    x, ws, bs, wl, _, om = make_inputs(B, C, L, L, ks, torch.bfloat16, seed=1)
    out = torch.empty_like(x)
    for _ in range(3):
        capi.short_long_conv(ch, x, ws, bs, wl, None, om, out, True)
    torch.cuda.synchronize()
    from torch.profiler import profile as tprofile, ProfilerActivity
    with tprofile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(10):
            capi.short_long_conv(ch, x, ws, bs, wl, None, om, out, True)
        torch.cuda.synchronize()
    print(f"profile B{B} C{C} L{L} (10 calls):")
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=12, max_name_column_width=70), flush=True)


def sweep(ch, rows, B=4, C=1024, L=16384):
    out_rows = []
    x, ws, bs, wl_full, _, om = make_inputs(B, C, L, 256, 3, torch.bfloat16, seed=2)
    out = torch.empty_like(x)
    for Lk in (16, 32, 64, 128, 192, 256):
        wl = wl_full[:, :Lk].contiguous()
        t = {}
        for name, thr in (("direct", 256), ("fft", 0)):
            set_threshold(thr)
            t[name] = bench(lambda: capi.short_long_conv(ch, x, ws, bs, wl, None, om, out, True))
        set_threshold(None)
        row = dict(kind="sweep", shape=f"B{B} C{C} L{L}", Lk=Lk, direct_ms=t["direct"], fft_ms=t["fft"])
        print(row, flush=True)
        rows.append(row)
        out_rows.append(row)
    return out_rows


def main():
    quick = "--quick" in sys.argv
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.fft.irfft(torch.fft.rfft(torch.randn(64, device="cuda")))  # loads torch's libcufft
    lib = os.environ.get("CHELA_LIB", ".device/bin/libchela.so")
    ch = capi.CudaContext(0)
    print("torch", torch.__version__, "triton", triton.__version__, torch.cuda.get_device_name(), "lib", lib, flush=True)
    rows = []
    fails = correctness(ch, rows)
    shapes = [(4, 1024, 16384), (1, 1024, 65536)] if not quick else [(1, 256, 4096)]
    if os.environ.get("SHAPES"):  # e.g. SHAPES="1,1024,65536" (';' between shapes): only these, profiled
        shapes = [tuple(int(v) for v in sh.split(",")) for sh in os.environ["SHAPES"].split(";")]
    times = [timing(ch, *s, rows) for s in shapes]
    if not quick:
        for sh in shapes:  # at L65536: past one CTA, the default long path's kernels
            profile(ch, *sh)
    sw = [] if os.environ.get("NO_SWEEP") else sweep(ch, rows) if not quick else sweep(ch, rows, 1, 256, 4096)
    with open(os.path.join(os.environ.get("OUT", "."), "conv_bench.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    print()
    print(f"{'shape':24s} {'ours ms':>9s} {'TB/s':>6s} {'ours(cufft)':>11s} {'ours(fp32)':>10s} {'peer(anchor)':>13s} "
          f"{'x':>6s} {'peer(same in)':>14s} {'x':>6s} {'ours [B,C,L]':>13s} {'x anchor':>9s}")
    for r in times:
        print(f"{r['shape']:24s} {r['ours_ms']:9.3f} {r['ours_TBps']:6.2f} {r['ours_cufft_ms']:11.3f} {r['ours_chip_ms']:10.3f} "
              f"{r['peer_anchor_ms']:13.3f} "
              f"{r['speedup_vs_anchor']:6.2f} {r['peer_same_ms']:14.3f} {r['speedup_vs_same']:6.2f} "
              f"{r['ours_bcl_ms']:13.3f} {r['speedup_bcl_vs_anchor']:9.2f}")
    print(f"{'direct-path sweep':24s} {'Lk':>5s} {'direct ms':>10s} {'fft ms':>9s}")
    for r in sw:
        print(f"{r['shape']:24s} {r['Lk']:5d} {r['direct_ms']:10.3f} {r['fft_ms']:9.3f}")
    print(f"checks: {'ALL OK' if fails == 0 else f'{fails} FAILED'}")
    return 1 if fails else 0


if __name__ == "__main__":
    with torch.cuda.stream(torch.cuda.Stream()):
        rc = main()
    sys.exit(rc)
