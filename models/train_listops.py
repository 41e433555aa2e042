"""Trains the shipped ListOps classifier (models/listops) with the PyTorch reference.

    python3 models/train_listops.py --minutes 3.5 [--out models/listops]

Data recipe: tests/reference/listops.py's generator (LRA's process, <= 5 arguments, 10 balanced
classes). Test set (test.tsv, "label<TAB>expression"): seed 1000, depth <= 7, 20..2000 tokens.
Training: seeds 1..16, half that distribution, half short expressions (depth <= 4, <= 200 tokens). Bidirectional
model, mean pooling over each expression's own length (batches padded, lengths passed).
"""
import argparse
import json
import multiprocessing
import os
import time

import torch
import torch.nn.functional as F

from common import ROOT, ref, train

import listops  # tests/reference, on the path through common

MAX_LEN = 2000


# Test distribution: depth <= 7, 20..2000 tokens (median ~800). Training mixes in as many short,
# shallow expressions (depth <= 4, <= 200 tokens): they teach the operators within the few
# thousand steps a 4-minute budget allows (a first run on long expressions alone stayed at chance).
LONG = dict(min_len=20, max_len=MAX_LEN, max_depth=7, max_args=5)
SHORT = dict(min_len=5, max_len=200, max_depth=4, max_args=5)


def _gen(args):
    n, seed, kind = args
    return listops.generate(n, seed, **kind)


def make_data(n_train, n_test, workers=16):
    jobs = [(n_train // (2 * workers), 1 + i, kind) for i in range(workers) for kind in (SHORT, LONG)]
    with multiprocessing.Pool(workers) as pool:
        parts = pool.map(_gen, jobs + [(n_test, 1000, LONG)])
    return [x for part in parts[:-1] for x in part], parts[-1]


def encode(batch, dev):
    ids = [listops.tokenize(t) for t, _ in batch]
    L = max(len(x) for x in ids)
    x = torch.zeros(len(ids), L, dtype=torch.long)
    for i, row in enumerate(ids):
        x[i, :len(row)] = torch.tensor(row)
    lengths = torch.tensor([len(r) for r in ids])
    y = torch.tensor([label for _, label in batch])
    return x.to(dev), lengths.to(dev), y.to(dev)


@torch.no_grad()
def accuracy(model, data, dev, batch=32):
    model.eval()
    right = 0
    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
    for s in range(0, len(order), batch):
        x, lengths, y = encode([data[i] for i in order[s:s + batch]], dev)
        right += (model(x, lengths, fast=True).argmax(-1) == y).sum().item()
    model.train()
    return right / len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "listops"))
    ap.add_argument("--minutes", type=float, default=3.5)
    ap.add_argument("--train", type=int, default=16000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    t0 = time.time()
    train_set, test_set = make_data(args.train, args.test)  # forks workers: before CUDA starts
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"data: {len(train_set)} train, {len(test_set)} test in {time.time() - t0:.0f}s", flush=True)

    cfg = ref.Config(d_model=128, z_dim=64, v_dim=256, n_layers=4, n_heads=2, short_kernel=3,
                     long_kernel=MAX_LEN, max_len=MAX_LEN, causal=False, feature_map="elu1",
                     attn_norm="rmsnorm", decay=True, ffn_dim=256, task="classify",
                     num_classes=listops.NUM_CLASSES, vocab_size=len(listops.VOCAB), pooling="mean")
    model = ref.Chela(cfg).to(dev)
    print(f"params {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    # Batches of similar lengths (less padding): shuffle within length-sorted buckets.
    order = sorted(range(len(train_set)), key=lambda i: len(train_set[i][0]))
    buckets = [order[s:s + args.batch] for s in range(0, len(order), args.batch)]
    g = torch.Generator().manual_seed(args.seed)
    state = {"perm": [], "i": 0}

    def next_batch():
        if state["i"] >= len(state["perm"]):
            state["perm"], state["i"] = torch.randperm(len(buckets), generator=g).tolist(), 0
        b = buckets[state["perm"][state["i"]]]
        state["i"] += 1
        return encode([train_set[i] for i in b], dev)

    def loss_of(m, batch):
        x, lengths, y = batch
        return F.cross_entropy(m(x, lengths, fast=True), y)

    steps, loss = train(model, next_batch, loss_of, args.minutes, lr=2e-3)
    acc = accuracy(model, test_set, dev)
    counts = [sum(1 for _, y in test_set if y == c) for c in range(listops.NUM_CLASSES)]
    majority = max(counts) / len(test_set)
    print(f"trained {steps} steps in {time.time() - t0:.0f}s; test accuracy (training-time model) "
          f"{acc:.4f}, majority class {majority:.4f}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    ref.save_checkpoint(model.cpu(), args.out, bf16=True)
    listops.write_vocab(os.path.join(args.out, "vocab.txt"))
    with open(os.path.join(args.out, "test.tsv"), "w") as fh:
        for text, label in test_set:
            fh.write(f"{label}\t{text}\n")
    with open(os.path.join(args.out, "train.json"), "w") as fh:
        json.dump(dict(steps=steps, minutes=args.minutes, seed=args.seed, batch=args.batch,
                       train_examples=len(train_set), test_examples=len(test_set),
                       majority_baseline=majority, test_accuracy_at_training=acc,
                       final_train_loss=loss, torch=torch.__version__,
                       device=torch.cuda.get_device_name() if dev == "cuda" else "cpu"), fh, indent=1)


if __name__ == "__main__":
    main()
