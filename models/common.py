"""Shared bits of the training scripts: the reference model import, a time-budgeted AdamW loop
with warm-up and cosine decay, and decay clamping (the checkpoint stores lambda in (0, 1])."""
import math
import os
import sys
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import chela_ref as ref  # noqa: E402,F401  (tests/reference is on the path)


def clamp_decay(model):
    with torch.no_grad():
        for layer in model.layers:
            if hasattr(layer, "decay"):
                layer.decay.clamp_(0.5, 0.9999)


def train(model, next_batch, loss_of, minutes, lr, log_every=50, warmup=100):
    """Runs AdamW steps until `minutes` pass; the learning rate follows warm-up then a cosine over
    the step count estimated from the first 50 steps' speed. Returns (steps, last mean loss)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    t0 = time.time()
    total, step, run = None, 0, []
    while True:
        elapsed = time.time() - t0
        if elapsed > minutes * 60 or (total is not None and step >= total):
            break
        if step == 50:  # past start-up costs: the steps that fit the budget
            total = int(50 / elapsed * minutes * 60)
        horizon = total or 10 ** 9
        scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / horizon)))
        for g in opt.param_groups:
            g["lr"] = lr * max(scale, 0.02)
        loss = loss_of(model, next_batch())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        clamp_decay(model)
        run.append(loss.item())
        step += 1
        if step % log_every == 0:
            print(f"step {step}/{total} loss {sum(run[-log_every:]) / log_every:.4f} "
                  f"{time.time() - t0:.0f}s", flush=True)
    return step, sum(run[-50:]) / max(1, len(run[-50:]))
