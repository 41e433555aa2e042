"""Trains the shipped byte-level causal LM (models/bytelm) with the PyTorch reference.

    python3 models/train_lm.py --minutes 3.5 [--out models/bytelm]

Data recipe: every *.py file of the Python standard library of the machine it runs on
(sysconfig's 'stdlib' path, test/ and site-packages/ excluded), sorted by relative path; a file
whose path's MD5 ends in a hex digit 0 is held out (about 1/16 of the files). Training draws
random windows of 513 bytes from the training files joined with a NUL byte; the held-out bytes
(first EVAL_BYTES of the held-out files joined likewise) go to heldout.bin for evaluation.
Evaluation (eval_ref.py and the Java CLI): non-overlapping windows of WINDOW+1 bytes, predict
bytes 1..WINDOW of each from bytes 0..WINDOW-1; bits per byte = total -log2 p / predicted bytes.
"""
import argparse
import hashlib
import json
import os
import sysconfig
import time

import torch
import torch.nn.functional as F

from common import ref, train

WINDOW = 512
EVAL_BYTES = 256 * 1024


def corpus():
    root = sysconfig.get_paths()["stdlib"]
    train_b, held_b, files = [], [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests", "site-packages", "__pycache__"))
        for name in sorted(filenames):
            if name.endswith(".py"):
                files.append(os.path.relpath(os.path.join(dirpath, name), root))
    for rel in sorted(files):
        with open(os.path.join(root, rel), "rb") as fh:
            data = fh.read() + b"\0"
        (held_b if hashlib.md5(rel.encode()).hexdigest().endswith("0") else train_b).append(data)
    return root, b"".join(train_b), b"".join(held_b)[:EVAL_BYTES], len(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "bytelm"))
    ap.add_argument("--minutes", type=float, default=3.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    root, train_bytes, held, nfiles = corpus()
    print(f"stdlib {root}: {nfiles} files, train {len(train_bytes)} bytes, held-out {len(held)} bytes", flush=True)
    data = torch.frombuffer(bytearray(train_bytes), dtype=torch.uint8).to(dev)

    cfg = ref.Config(d_model=256, z_dim=128, v_dim=512, n_layers=4, n_heads=4, short_kernel=4,
                     long_kernel=WINDOW, max_len=WINDOW, causal=True, feature_map="elu1",
                     attn_norm="rmsnorm", decay=True, ffn_dim=512, task="lm", vocab_size=256,
                     tie_embeddings=True)
    model = ref.Chela(cfg).to(dev)
    print(f"params {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    gen = torch.Generator(device=dev).manual_seed(args.seed)

    def next_batch():
        start = torch.randint(0, len(data) - WINDOW - 1, (args.batch,), device=dev, generator=gen)
        idx = start[:, None] + torch.arange(WINDOW + 1, device=dev)[None, :]
        return data[idx].long()

    def loss_of(m, w):
        logits = m(w[:, :-1], fast=True)
        return F.cross_entropy(logits.reshape(-1, 256), w[:, 1:].reshape(-1))

    t0 = time.time()
    model.train()
    steps, loss = train(model, next_batch, loss_of, args.minutes, lr=2e-3)
    print(f"trained {steps} steps in {time.time() - t0:.0f}s, last loss {loss:.4f} nats "
          f"({loss / 0.6931:.3f} bits/byte on training windows)", flush=True)
    os.makedirs(args.out, exist_ok=True)
    ref.save_checkpoint(model.cpu(), args.out, bf16=True)
    with open(os.path.join(args.out, "heldout.bin"), "wb") as fh:
        fh.write(held)
    with open(os.path.join(args.out, "train.json"), "w") as fh:
        json.dump(dict(steps=steps, minutes=args.minutes, seed=args.seed, batch=args.batch, window=WINDOW,
                       train_bytes=len(train_bytes), heldout_bytes=len(held), files=nfiles, stdlib=root,
                       final_train_loss_nats=loss, torch=torch.__version__,
                       device=torch.cuda.get_device_name() if dev == "cuda" else "cpu"), fh, indent=1)


if __name__ == "__main__":
    main()
