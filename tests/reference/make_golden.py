"""Writes the golden files tests/golden/<name>/: random-weight CHELA models (fixed seeds) and the
logits chela_ref.py computes for them in float64.

    python3 tests/reference/make_golden.py [--out tests/golden]

Each folder: config.json + model.safetensors (F32, our checkpoint format), and io.safetensors with
`inputs` (I32 token ids [B, L] or F32 features [B, L, input_dim]), `lengths` (I32 [B], only where
the case uses unequal lengths) and `logits` (F32: [B, L, vocab] for lm, padded positions 0;
[B, num_classes] for classify). The native (test_golden) and Java (GoldenTest) tests run the
engine on them and compare with rel-L2 <= 1e-5.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chela_ref as ref  # noqa: E402
import safetensors_io  # noqa: E402

# name: (config keys, short-conv branch sizes or None, batch, length, lengths or None).
# Between them: causal and bidirectional; lm and classify (mean and last pooling, unequal
# lengths); embed and input_proj; LayerNorm and RMSNorm; prenorm and postnorm; FFN; 1, 2 and 4
# heads; every feature map; every attn_norm; decay; branches (causal and centred); long kernels
# shorter and longer than the sequence; default and explicit attn_scale; tied embeddings.
CASES = {
    "lm_decay_ffn": (dict(d_model=32, z_dim=16, v_dim=32, n_heads=2, n_layers=2, long_kernel=24, max_len=64,
                          decay=True, ffn_dim=48, vocab_size=50), None, 2, 48, None),
    "cls_bidir_branches_mean": (dict(d_model=24, z_dim=16, v_dim=24, n_layers=2, short_kernel=5, max_len=64,
                                     causal=False, feature_map="elu1", decay=True, task="classify",
                                     num_classes=5, vocab_size=30, pooling="mean"), [5, 3, 1], 3, 40, [40, 23, 7]),
    "lm_multihead_silu_tied": (dict(d_model=32, z_dim=16, v_dim=32, n_heads=4, n_layers=2, max_len=64,
                                    feature_map="silu", attn_norm="none", vocab_size=40,
                                    tie_embeddings=True), None, 2, 33, None),
    "lm_postnorm_rmsnorm_elu1_denominator": (dict(d_model=24, z_dim=16, v_dim=24, n_heads=2, n_layers=2,
                                                  long_kernel=20, prenorm=False, norm="rmsnorm", ffn_dim=40,
                                                  feature_map="elu1", attn_norm="denominator", decay=True,
                                                  vocab_size=32), None, 2, 30, None),
    "cls_input_proj_last_relu_denominator": (dict(d_model=20, z_dim=8, v_dim=16, n_layers=2, max_len=32,
                                                  feature_map="relu", attn_norm="denominator", task="classify",
                                                  num_classes=4, input_dim=7, pooling="last"),
                                             None, 2, 25, [25, 12]),
    "lm_bidir_relu_denominator_scale": (dict(d_model=24, z_dim=16, v_dim=24, n_heads=2, n_layers=2,
                                             long_kernel=48, causal=False, feature_map="relu",
                                             attn_norm="denominator", attn_scale=0.3, decay=True,
                                             vocab_size=36), None, 2, 36, None),
    "cls_bidir_rmsnorm_identity_none_ffn": (dict(d_model=24, z_dim=16, v_dim=32, n_heads=2, n_layers=2,
                                                 short_kernel=7, long_kernel=16, causal=False, norm="rmsnorm",
                                                 attn_norm="none", ffn_dim=32, task="classify",
                                                 num_classes=3, vocab_size=25), None, 2, 50, None),
    "lm_causal_branches_silu_lengths": (dict(d_model=16, z_dim=8, v_dim=16, n_layers=3, short_kernel=4,
                                             max_len=40, feature_map="silu", vocab_size=20),
                                        [4, 2, 1], 3, 31, [31, 26, 1]),
}


def randomise(model, cfg, gen):
    """Weights at the scales of the C++ tests' random_weights (tests/native/support), so the f32
    engine stays well inside rel-L2 1e-5 of float64. Denominator cases shift beta up so q.k rows
    sums stay away from zero (a tiny denominator would amplify rounding, not test the engine)."""
    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    with torch.no_grad():
        for name, p in model.named_parameters():
            shape, leaf = p.shape, name.rsplit(".", 1)[-1]
            if name == "embed.weight":
                p.copy_(normal(shape, 1.0))
            elif name.endswith("norm.weight") or name.endswith("attn_norm.weight"):
                p.copy_(normal(shape, 0.1, 1.0))
            elif ".short_conv" in name:
                p.copy_(normal(shape, 0.5 if leaf == "weight" else 0.1))
            elif ".long_conv." in name:
                p.copy_(normal(shape, 1.0 / shape[1] ** 0.5))
            elif leaf == "omega":
                p.copy_(normal(shape, 0.5))
            elif leaf == "qk_gamma":
                p.copy_(normal(shape, 0.3, 1.0))
            elif leaf == "qk_beta":
                p.copy_(normal(shape, 0.1, 0.5 if cfg.attn_norm == "denominator" else 0.0))
            elif leaf == "decay":
                p.copy_(torch.rand(shape, generator=gen) * 0.45 + 0.5)
            elif leaf == "weight" and p.dim() == 2:  # Linear
                p.copy_(normal(shape, 1.0 / shape[1] ** 0.5))
            elif leaf == "bias":
                p.copy_(normal(shape, 0.1))
            else:
                raise RuntimeError(f"make_golden: no initialiser for {name}")


def make_case(name, spec, out_dir, seed):
    keys, branches, B, L, lengths = spec
    cfg = ref.Config(**keys)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ref.Chela(cfg, branches)
    randomise(model, cfg, gen)
    if cfg.vocab_size is not None:
        inputs = torch.randint(0, cfg.vocab_size, (B, L), generator=gen, dtype=torch.int32)
        model_inputs = inputs.long()
    else:
        inputs = torch.randn(B, L, cfg.input_dim, generator=gen)  # f32: what the engine reads
        model_inputs = inputs.double()
    lens = None if lengths is None else torch.tensor(lengths, dtype=torch.long)

    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    ref.save_checkpoint(model, folder)
    # Compute from the weights as stored (f32 file), in float64.
    stored = ref.load_checkpoint(folder).double()
    with torch.no_grad():
        logits = stored(model_inputs, lens)
        fast = stored(model_inputs, lens, fast=True)
        # Definition of unequal lengths: each sequence alone on its prefix.
        if lens is not None:
            for b in range(B):
                n = int(lens[b])
                alone = stored(model_inputs[b:b + 1, :n])
                got = logits[b:b + 1, :n] if cfg.task == "lm" else logits[b:b + 1]
                assert ref.rel_l2(got, alone) < 1e-12, f"{name}: row {b} differs from its prefix alone"
    err = ref.rel_l2(fast, logits)
    assert err < 1e-10, f"{name}: fast path differs from the definition ({err:.2e})"
    assert torch.isfinite(logits).all(), f"{name}: non-finite logits"
    io = {"inputs": inputs.numpy(), "logits": logits.float().numpy()}
    if lens is not None:
        io["lengths"] = lens.to(torch.int32).numpy()
    safetensors_io.save(io, os.path.join(folder, "io.safetensors"),
                        metadata={"generator": "tests/reference/make_golden.py", "seed": seed,
                                  "precision": "float64, stored f32"})
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    assert size < 2 << 20, f"{name}: {size} bytes, over 2 MB"
    print(f"golden {name:40s} logits {list(logits.shape)} |logits| {logits.abs().max():.3f} "
          f"fast-vs-def {err:.1e} {size / 1024:.0f} KiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "golden"))
    args = ap.parse_args()
    torch.set_num_threads(min(8, torch.get_num_threads()))
    for i, (name, spec) in enumerate(CASES.items()):
        folder = os.path.join(args.out, name)
        shutil.rmtree(folder, ignore_errors=True)
        make_case(name, spec, args.out, seed=1000 + i)
    with open(os.path.join(args.out, "cases.json"), "w") as fh:
        json.dump(sorted(CASES), fh, indent=1)
        fh.write("\n")
    print(f"make_golden: {len(CASES)} cases in {os.path.abspath(args.out)}")


if __name__ == "__main__":
    main()
