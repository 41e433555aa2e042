"""The reference's quality figures for the shipped models, computed from the SAVED checkpoints
(what the engine loads), in float64 and float32; written to <model>/reference.json. The Java CLI
measures the same figures with our engine on the same files (models/README.md).

    python3 models/eval_ref.py [--models models]
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

from common import ref

import listops

WINDOW = 512  # train_lm.py's


@torch.no_grad()
def listops_accuracy(model, path, dev, dtype, batch=16):
    rows = [line.rstrip("\n").split("\t", 1) for line in open(path)]
    data = [(text, int(label)) for label, text in rows]
    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
    right = 0
    for s in range(0, len(order), batch):
        chunk = [data[i] for i in order[s:s + batch]]
        ids = [listops.tokenize(t) for t, _ in chunk]
        L = max(map(len, ids))
        x = torch.zeros(len(ids), L, dtype=torch.long)
        for i, r in enumerate(ids):
            x[i, :len(r)] = torch.tensor(r)
        lengths = torch.tensor([len(r) for r in ids])
        logits = model(x.to(dev), lengths.to(dev), fast=True)
        right += (logits.argmax(-1).cpu() == torch.tensor([y for _, y in chunk])).sum().item()
    return right / len(data), len(data)


@torch.no_grad()
def bits_per_byte(model, path, dev, batch=16):
    data = torch.frombuffer(bytearray(open(path, "rb").read()), dtype=torch.uint8).long()
    n = (len(data) - 1) // WINDOW
    bits = 0.0
    for s in range(0, n, batch):
        idx = torch.arange(s, min(n, s + batch))[:, None] * WINDOW + torch.arange(WINDOW + 1)[None, :]
        w = data[idx].to(dev)
        logp = F.log_softmax(model(w[:, :-1], fast=True).double(), -1)
        bits -= logp.gather(-1, w[:, 1:, None]).sum().item() / math.log(2)
    return bits / (n * WINDOW), n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    for name, metric in (("listops", "accuracy"), ("bytelm", "bits_per_byte")):
        folder = os.path.join(args.models, name)
        if not os.path.exists(os.path.join(folder, "config.json")):
            print(f"eval_ref: {folder} has no model, skipped")
            continue
        out = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__}
        for dtype in (torch.float64, torch.float32):
            t0 = time.time()
            model = ref.load_checkpoint(folder, dev).to(dtype).eval()
            if name == "listops":
                value, count = listops_accuracy(model, os.path.join(folder, "test.tsv"), dev, dtype)
                out["examples"] = count
            else:
                value, count = bits_per_byte(model, os.path.join(folder, "heldout.bin"), dev)
                out["windows"], out["window"] = count, WINDOW
            key = f"{metric}_{'float64' if dtype == torch.float64 else 'float32'}"
            out[key] = value
            print(f"eval_ref {name}: {key} = {value:.6f} ({time.time() - t0:.0f}s)", flush=True)
        with open(os.path.join(folder, "reference.json"), "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
