"""One CHELA layer on the H100: our fused CUDA layer (chela_model_layer_forward on device tensors)
against the shared anchor's PyTorch+fla layer and a same-width softmax block, same run, same shapes
(shared/bench/layer_anchor.py: d=1024, e=128, f=2048, one head, Lk = L, 64K tokens per call).
Two pairings: per call (ours with CHELA_CUDA_SPECTRA_CACHE_MB=0 vs the anchor's layer, both transform
the long kernels every call) and served at fixed weights (ours with its default spectra cache vs the
anchor's layer with rfft(long kernel) kept per length, CachedSpectrumLayer).
Our layer is also checked against the float64 PyTorch reference (tests/reference/chela_ref.py) on the
device. Needs .device/anchor/layer_anchor.py (a copy of ../shared/bench/layer_anchor.py) and fla on
PYTHONPATH. Writes $OUT/layer_bench.json and the checkpoint folders under /tmp/chela_layer_L*.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
sys.path.insert(0, os.path.join(ROOT, ".device", "anchor"))
import chela_capi as capi  # noqa: E402
import chela_ref as ref  # noqa: E402
from fla.ops.linear_attn import chunk_linear_attn  # noqa: E402
from layer_anchor import ChelaLayer, SoftmaxBlock, bench  # noqa: E402

dev = "cuda"
torch.backends.cuda.matmul.allow_tf32 = True


class CachedSpectrumLayer(ChelaLayer):
    """The anchor's layer (layer_anchor.ChelaLayer.forward, same code) with rfft of the long kernel
    computed once per length, as a PyTorch model served at fixed weights would keep it: the peer of
    our layer's cached kernel spectra (native/cuda/spectra_cache.h)."""

    def forward(self, x):
        B, L, d = x.shape
        n = 2 * L
        if getattr(self, "kf_len", None) != L:
            self.kf, self.kf_len = torch.fft.rfft(self.wl[:, :L].float(), n=n), L
        xn = self.norm(x)
        xc = xn.transpose(1, 2).float()
        s = F.conv1d(F.pad(xc, (self.ks - 1, 0)), self.ws.float(), self.bs.float(), groups=d)
        g = torch.fft.irfft(torch.fft.rfft(F.silu(s), n=n) * self.kf, n=n)[..., :L]
        m = F.silu(g + self.omega.float()[:, None] * xc).transpose(1, 2).to(x.dtype)
        v = F.silu(self.v_proj(xn))
        u, zr, hx = self.mx_proj(m).split([d, self.e + self.f, d], -1)
        u = torch.sigmoid(u)
        z, r = F.silu(zr).split([self.e, self.f], -1)
        q = z * self.gamma[0] + self.beta[0]
        k = z * self.gamma[1] + self.beta[1]
        o, _ = chunk_linear_attn(q.view(B, L, self.H, -1), k.view(B, L, self.H, -1), v.view(B, L, self.H, -1),
                                 normalize=False)
        o = self.attn_norm(o.reshape(B, L, self.f))
        hd = F.silu(hx + self.h_proj(o * r))
        return x + u * (hd - x)


def main():
    rows = []
    d, e, f = 1024, 128, 2048
    shapes = [(int(a), int(b)) for a, b in (s.split("x") for s in os.environ.get("SHAPES", "4096x16,16384x4,65536x1").split(","))]
    torch.manual_seed(0)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream), torch.inference_mode():
        ctx = capi.CudaContext()
        for L, B in shapes:
            cfg = ref.Config(d_model=d, z_dim=e, v_dim=f, n_layers=1, n_heads=1, short_kernel=3, long_kernel=L,
                             max_len=L, causal=True, prenorm=True, norm="layernorm", feature_map="identity",
                             attn_norm="rmsnorm", task="lm", vocab_size=256)
            model = ref.Chela(cfg)
            folder = f"/tmp/chela_layer_L{L}"
            ref.save_checkpoint(model, folder)
            ours = capi.Model(ctx, folder)
            x = torch.randn(B, L, d, device=dev)
            y = torch.full_like(x, float("nan"))
            # Per call, as the anchor's layer: the long kernels' spectra recomputed every call.
            os.environ["CHELA_CUDA_SPECTRA_CACHE_MB"] = "0"
            t_ours_uncached = bench(lambda: ours.layer_forward(0, x, y))
            del os.environ["CHELA_CUDA_SPECTRA_CACHE_MB"]  # the default: kept after the first call
            t_ours = bench(lambda: ours.layer_forward(0, x, y))
            if L == int(os.environ.get("PROFILE_L", "16384")):
                # Where our layer's time goes: CUPTI sees our kernels on torch's stream.
                with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
                    for _ in range(5):
                        ours.layer_forward(0, x, y)
                    torch.cuda.synchronize()
                print(f"== our layer L{L} B{B}: kernel time over 5 calls", flush=True)
                print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=20, max_name_column_width=90),
                      flush=True)
            # Independent check: the float64 reference layer on the device, on the first 2 sequences.
            nb = min(B, 2)
            layer64 = model.layers[0].to(dev, torch.float64)
            want = layer64(x[:nb].double(), None, True)
            err = (torch.linalg.vector_norm(y[:nb].double() - want) / torch.linalg.vector_norm(want)).item()
            del layer64, want
            xb = x.to(torch.bfloat16)
            peer = ChelaLayer(d, e, f, 1, 3, L).to(dev, torch.bfloat16)
            peer_kf = CachedSpectrumLayer(d, e, f, 1, 3, L).to(dev, torch.bfloat16)
            soft = SoftmaxBlock(d, 8, 4 * d).to(dev, torch.bfloat16)
            t_fla = bench(lambda: peer(xb))
            t_fla_kf = bench(lambda: peer_kf(xb))
            t_soft = bench(lambda: soft(xb))
            # ours_ms / torch_fla_kf_ms: both keep the kernel spectra; *_uncached / torch_fla: neither.
            row = dict(L=L, B=B, d=d, e=e, f=f, ours_ms=round(t_ours, 3), ours_uncached_ms=round(t_ours_uncached, 3),
                       torch_fla_ms=round(t_fla, 3), torch_fla_kf_ms=round(t_fla_kf, 3),
                       softmax_block_ms=round(t_soft, 3), speedup_vs_torch_fla_kf=round(t_fla_kf / t_ours, 2),
                       speedup_uncached_vs_torch_fla=round(t_fla / t_ours_uncached, 2),
                       speedup_vs_softmax=round(t_soft / t_ours, 2), ours_vs_float64_rel_l2=float(f"{err:.2e}"))
            rows.append(row)
            print(row, flush=True)
            ours.close()
            del peer, peer_kf, soft, x, y, xb
            torch.cuda.empty_cache()
        ctx.close()
    with open(os.path.join(os.environ.get("OUT", "."), "layer_bench.json"), "w") as fh:
        json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
