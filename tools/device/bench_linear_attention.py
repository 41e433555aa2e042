"""Linear attention forward on the GPU: ours (CuTe tensor-core kernel, via ctypes) against fla.

Run on the GPU machine from the repo root, with the carried .device/ folder:
    python3 tools/device/bench_linear_attention.py [--quick]
Needs .device/bin/libchela_cuda_bench.so (tools/device/build_cuda.sh) and fla's `fla/` package in
.device/fla (plus its pure-Python dependency einops as a wheel in .device/wheels). fla is not part
of this project and is never committed.

Same run, same inputs: median ms (triton.testing.do_bench, return_mode="median"), effective TB/s
(minimal bytes: q, k, v read once and o written once, bf16), the ratio of each peer's time to ours,
and rel-L2 of our output against fla's and against torch float64 on small shapes. Writes
la_bench.json to $OUT.
"""
import ctypes
import glob
import json
import math
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".device"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
for whl in glob.glob(os.path.join(ROOT, ".device", "wheels", "*.whl")):
    sys.path.insert(0, whl)

import torch  # noqa: E402
import triton  # noqa: E402

DT_BF16 = 1
NORM_RMS, NORM_NONE = 0, 1
# CHELA_BENCH_LIB: another build of the entry (tools/device/la_phases.sh loads the phase-timing one)
lib = ctypes.CDLL(os.environ.get("CHELA_BENCH_LIB") or os.path.join(ROOT, ".device", "bin", "libchela_cuda_bench.so"))
lib.chela_cuda_bench_la.restype = ctypes.c_int
lib.chela_cuda_bench_la.argtypes = [
    ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong,
    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,  # q k v out
    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,  # decay norm_weight state_in state_out
    ctypes.c_int, ctypes.c_int, ctypes.c_float, ctypes.c_float, ctypes.c_int,  # fm attn_norm scale eps segments
    ctypes.c_void_p, ctypes.c_ulonglong, ctypes.c_void_p]
lib.chela_cuda_bench_la_workspace.restype = ctypes.c_ulonglong
lib.chela_cuda_bench_la_workspace.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_int,
                                              ctypes.c_longlong, ctypes.c_longlong, ctypes.c_int, ctypes.c_int]
lib.chela_cuda_bench_error.restype = ctypes.c_char_p

rows = []


def log(*a):
    print(*a, flush=True)


def bench(fn, warmup=25, rep=100):
    return triton.testing.do_bench(fn, warmup=warmup, rep=rep, return_mode="median")


def rel_l2(a, b):
    a = a.double()
    b = b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


class Ours:
    """Callable running our kernel on fixed q, k, v (torch bf16 [B, L, H, D]) into a fixed output."""

    def __init__(self, q, k, v, decay=None, segments=0, scale=None, state_in=None, state_out=None):
        B, L, H, D = q.shape
        Dv = v.shape[-1]
        self.args = (B, L, H, H * D, H * Dv)
        self.q, self.k, self.v = q, k, v
        self.o = torch.empty(B, L, H, Dv, device=q.device, dtype=q.dtype)
        self.decay = decay
        self.scale = scale if scale is not None else D ** -0.5
        self.segments = segments
        self.state_in, self.state_out = state_in, state_out
        ws = lib.chela_cuda_bench_la_workspace(DT_BF16, B, L, H, H * D, H * Dv, NORM_NONE, segments)
        if ws == 2 ** 64 - 1:
            raise RuntimeError("workspace query failed")
        self.ws = torch.empty(max(int(ws), 1), device=q.device, dtype=torch.uint8)

    def __call__(self):
        B, L, H, e, f = self.args
        ptr = lambda t: t.data_ptr() if t is not None else None  # noqa: E731
        rc = lib.chela_cuda_bench_la(
            DT_BF16, B, L, H, e, f, ptr(self.q), ptr(self.k), ptr(self.v), ptr(self.o), ptr(self.decay), None,
            ptr(self.state_in), ptr(self.state_out), 0, NORM_NONE, self.scale, 1e-5, self.segments,
            ptr(self.ws), self.ws.numel(), torch.cuda.current_stream().cuda_stream)
        if rc != 0:
            raise RuntimeError(f"chela_cuda_bench_la: status {rc}: {lib.chela_cuda_bench_error().decode()}")
        return self.o


class CapiCall:
    """The same product through the public C ABI (libchela.so, CUDA context on torch's stream)."""

    def __init__(self, q, k, v):
        import chela_capi
        self.capi = chela_capi
        self.ctx = chela_capi.CudaContext(0)
        self.q, self.k, self.v = q, k, v
        self.o = torch.empty(*v.shape, device=v.device, dtype=v.dtype)
        self.opts = chela_capi.la_options(q.shape[2] * q.shape[3], q.shape[2])

    def __call__(self):
        return self.capi.linear_attention(self.ctx, self.q, self.k, self.v, self.o, self.opts)


def reference64(q, k, v, decay=None, scale=None, state_in=None):
    """float64 O[t] = s * sum_{j<=t} lambda^(t-j) (q_t . k_j) v_j (+ s lambda^(t+1) q_t S0), per head."""
    B, L, H, D = q.shape
    s = scale if scale is not None else D ** -0.5
    qd, kd, vd = (x.double().transpose(1, 2) for x in (q, k, v))  # [B, H, L, D]
    t = torch.arange(L, device=q.device, dtype=torch.float64)
    diff = t[:, None] - t[None, :]
    out = []
    for h in range(H):
        lam = 1.0 if decay is None else float(decay[h])
        mask = torch.where(diff >= 0, torch.tensor(lam, dtype=torch.float64, device=q.device) ** diff.clamp_min(0),
                           torch.zeros((), dtype=torch.float64, device=q.device))
        a = (qd[:, h] @ kd[:, h].transpose(-1, -2)) * mask
        o = a @ vd[:, h]
        if state_in is not None:
            o = o + (lam ** (t + 1))[None, :, None] * (qd[:, h] @ state_in[:, h].double())
        out.append(s * o)
    return torch.stack(out, dim=2)  # [B, L, H, Dv]


def correctness_small(dev):
    log("-- correctness vs torch float64 (fresh random inputs, output poisoned by the kernel's own buffer)")
    ok = True
    for (B, L, H, D, Dv, dec, seg, st) in [(2, 1000, 2, 128, 128, False, 0, False), (2, 1000, 2, 128, 128, True, 0, True),
                                           (1, 2048, 1, 128, 1024, True, 0, False), (1, 777, 3, 64, 64, True, 3, True),
                                           (2, 4097, 2, 128, 128, False, 4, False)]:
        torch.manual_seed(int(time.time() * 1e3) % 100000)
        q = torch.randn(B, L, H, D, device=dev, dtype=torch.bfloat16)
        k = torch.randn(B, L, H, D, device=dev, dtype=torch.bfloat16)
        v = torch.randn(B, L, H, Dv, device=dev, dtype=torch.bfloat16)
        decay = (0.9 + 0.099 * torch.rand(H, device=dev)).float() if dec else None
        s0 = torch.randn(B, H, D, Dv, device=dev, dtype=torch.float32) if st else None
        f = Ours(q, k, v, decay=decay, segments=seg, state_in=s0)
        f.o.fill_(float("nan"))
        o = f()
        torch.cuda.synchronize()
        err = rel_l2(o, reference64(q, k, v, decay, state_in=s0))
        good = err <= 3e-3 and torch.isfinite(o).all().item()
        ok &= good
        log(f"{'ok  ' if good else 'FAIL'} B{B} L{L} H{H} D{D} Dv{Dv} decay={dec} seg={seg} state={st}: rel_l2 {err:.3e}")
        rows.append(dict(kind="check64", shape=f"B{B} L{L} H{H} D{D} Dv{Dv}", decay=dec, segments=seg, rel_l2=err))
    return ok


def run_shape(B, H, L, D, Dv, dev, segs_sweep=()):
    from fla.ops.linear_attn import chunk_linear_attn
    from fla.ops.simple_gla import chunk_simple_gla
    shape = f"B{B} H{H} L{L} Dk{D} Dv{Dv}"
    q = torch.randn(B, L, H, D, device=dev, dtype=torch.bfloat16)
    k = torch.randn(B, L, H, D, device=dev, dtype=torch.bfloat16)
    v = torch.randn(B, L, H, Dv, device=dev, dtype=torch.bfloat16)
    gamma = torch.full((H,), -0.01, device=dev, dtype=torch.float32)  # fla's log-decay
    decay = gamma.exp()
    nbytes = B * L * H * (2 * D + 2 * Dv) * 2
    res = {}
    with torch.no_grad():
        ours = Ours(q, k, v)
        ours_d = Ours(q, k, v, decay=decay)
        fla_la = lambda: chunk_linear_attn(q, k, v, normalize=False)[0]  # noqa: E731
        capi = CapiCall(q, k, v)
        fla_gla = lambda: chunk_simple_gla(q, k, v, g_gamma=gamma)[0]  # noqa: E731
        o_ref = fla_la()
        ours.o.fill_(float("nan"))
        e1 = rel_l2(ours(), o_ref)
        capi.o.fill_(float("nan"))
        e_capi = rel_l2(capi(), o_ref)
        log(f"{shape}: rel_l2 vs fla: ours {e1:.2e}, C ABI path {e_capi:.2e}")
        o_ref_d = fla_gla()
        ours_d.o.fill_(float("nan"))
        e2 = rel_l2(ours_d(), o_ref_d)
        del o_ref, o_ref_d
        for name, fn in [("ours", ours), ("fla chunk_linear_attn", fla_la), ("ours decay", ours_d),
                         ("fla chunk_simple_gla(decay)", fla_gla), ("C ABI chela_linear_attention", capi), ("ours", ours)]:
            ms = bench(fn)
            key = name if name not in res else name + " (again)"
            res[key] = ms
            tbs = nbytes / ms / 1e9
            log(f"{shape:28s} {key:30s} {ms:8.4f} ms  {tbs:6.3f} TB/s")
            rows.append(dict(kind="time", shape=shape, impl=key, ms=round(ms, 4), TBps=round(tbs, 3)))
        for sg in segs_sweep:
            f = Ours(q, k, v, segments=sg)
            ms = bench(f)
            log(f"{shape:28s} {'ours segments=' + str(sg):30s} {ms:8.4f} ms  {nbytes / ms / 1e9:6.3f} TB/s")
            rows.append(dict(kind="time", shape=shape, impl=f"ours segments={sg}", ms=round(ms, 4)))
        # A/B of the kernel variants against the default: mma.sync generation (CHELA_CUDA_LA_MMA=sync),
        # wgmma with one or two warpgroups per CTA (CHELA_CUDA_LA_GROUPS)
        o_ref = fla_la()
        for name, env in [("ours mma.sync", dict(CHELA_CUDA_LA_MMA="sync")),
                          ("ours wgmma 1 group", dict(CHELA_CUDA_LA_GROUPS="1")),
                          ("ours wgmma 2 groups", dict(CHELA_CUDA_LA_GROUPS="2")),
                          ("ours wgmma cp.async", dict(CHELA_CUDA_LA_TMA="0")),
                          ("ours decay 1 group", dict(CHELA_CUDA_LA_GROUPS="1"))]:
            os.environ.update(env)
            try:
                f = Ours(q, k, v, decay=decay if "decay" in name else None)
                f.o.fill_(float("nan"))
                err = rel_l2(f(), o_ref) if "decay" not in name else rel_l2(f(), ours_d.o)
                ms = bench(f)
            finally:
                for key in env:
                    del os.environ[key]
            res[name] = ms
            log(f"{shape:28s} {name:30s} {ms:8.4f} ms  {nbytes / ms / 1e9:6.3f} TB/s  (rel_l2 {err:.1e})")
            rows.append(dict(kind="time", shape=shape, impl=name, ms=round(ms, 4), rel_l2=err))
        del o_ref
    r1 = res["fla chunk_linear_attn"] / res["ours"]
    r2 = res["fla chunk_simple_gla(decay)"] / res["ours decay"]
    summary = dict(shape=shape, ours_ms=res["ours"], ours_again_ms=res["ours (again)"],
                   fla_ms=res["fla chunk_linear_attn"], ratio_vs_fla=r1, ours_decay_ms=res["ours decay"],
                   gla_ms=res["fla chunk_simple_gla(decay)"], ratio_vs_gla=r2,
                   capi_ms=res["C ABI chela_linear_attention"], rel_l2_capi_vs_fla=e_capi,
                   sync_ms=res["ours mma.sync"],
                   TBps=nbytes / res["ours"] / 1e9, rel_l2_vs_fla=e1, rel_l2_vs_gla=e2)
    rows.append(dict(kind="summary", **summary))
    return summary


def main():
    quick = "--quick" in sys.argv
    dev = "cuda"
    log("torch", torch.__version__, "triton", triton.__version__, torch.cuda.get_device_name(),
        torch.cuda.get_device_properties(0).multi_processor_count, "SMs")
    t0 = time.time()
    ok = correctness_small(dev)
    n = 1 << 30
    a = torch.empty(n, dtype=torch.uint8, device=dev)
    b = torch.empty_like(a)
    ms = bench(lambda: b.copy_(a))
    log(f"ceiling d2d copy 1 GiB: {ms:.4f} ms, {2 * n / ms / 1e9:.3f} TB/s")
    rows.append(dict(kind="ceiling", ms=ms, TBps=2 * n / ms / 1e9))
    del a, b
    shapes = [(8, 16, 16384, 128, 128, ()), (4, 1, 16384, 128, 1024, (1, 2, 4, 8, 16))]
    if not quick:
        shapes.append((2, 16, 65536, 128, 128, (1, 2, 4)))
    sums = []
    for (B, H, L, D, Dv, sw) in shapes:
        try:
            sums.append(run_shape(B, H, L, D, Dv, dev, sw))
        except Exception as e:  # keep going, report
            log(f"ERROR {B},{H},{L},{D},{Dv}: {type(e).__name__}: {e}")
            ok = False
        torch.cuda.empty_cache()
    out = os.environ.get("OUT", ".")
    with open(os.path.join(out, "la_bench.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    log(f"\n{'shape':28s} {'ours ms':>8s} {'again':>8s} {'fla ms':>8s} {'x fla':>6s} {'TB/s':>6s} "
        f"{'decay ms':>8s} {'gla ms':>8s} {'x gla':>6s} {'err fla':>8s} {'err gla':>8s} {'C ABI ms':>8s} {'sync ms':>8s}")
    for s in sums:
        log(f"{s['shape']:28s} {s['ours_ms']:8.4f} {s['ours_again_ms']:8.4f} {s['fla_ms']:8.4f} {s['ratio_vs_fla']:6.2f} "
            f"{s['TBps']:6.3f} {s['ours_decay_ms']:8.4f} {s['gla_ms']:8.4f} {s['ratio_vs_gla']:6.2f} "
            f"{s['rel_l2_vs_fla']:8.1e} {s['rel_l2_vs_gla']:8.1e} {s['capi_ms']:8.4f} {s['sync_ms']:8.4f}")
    log(f"bench done in {time.time() - t0:.0f}s; float64 checks {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    with torch.cuda.stream(torch.cuda.Stream()):  # a real stream: the C ABI context joins it
        rc = main()
    sys.exit(rc)
