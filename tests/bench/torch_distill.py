# SPDX-License-Identifier: MIT
# torch_distill.py: PyTorch reference for layer-wise distillation throughput: the teacher runs up to a slot
# (no grad), and each candidate block takes one Adam step on MSE against the teacher's slot output.
# Prints one JSON line with candidate-samples per second.
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import torch_arch  # noqa: E402
import torch_train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", required=True, help="architecture description of the teacher")
    ap.add_argument("--slot", type=int, required=True, help="index of the slot (block line after input)")
    ap.add_argument("--blocks", required=True, help="file with one candidate block line per line")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.environ.get("HANT_FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    img = torch_train.load_images(os.path.join(a.data, "train-images-idx3-ubyte.gz"))[:55000]
    lines = [l.strip() for l in a.teacher.split(";") if l.strip()]
    teacher = torch_arch.build(a.teacher).eval()
    # Modules before and including the slot: slots are the block lines that are not gap/flatten/pools.
    mods = list(teacher.children())
    block_lines = [l for l in lines[1:]]
    upto = 0
    seen = -1
    for i, l in enumerate(block_lines):
        if l.split()[0] in ("conv", "res", "ir", "dws", "linear", "identity"):
            seen += 1
        if seen == a.slot:
            upto = i
            break
    # torch_arch adds a Flatten before each Linear: count modules up to the slot's line.
    prefix = []
    k = 0
    for l in block_lines[: upto + 1]:
        n = 2 if l.split()[0] == "linear" else 1
        prefix.extend(mods[k:k + n])
        k += n
    pre_in = torch.nn.Sequential(*prefix[:-1 if block_lines[upto].split()[0] != "linear" else -2]).eval()
    slot_mod = torch.nn.Sequential(*prefix[len(pre_in):]).eval()
    with torch.no_grad():
        x0 = torch.zeros(1, 1, 28, 28)
        xin = pre_in(x0)
    c, h, w = xin.shape[1:]
    blocks = [l.strip() for l in open(a.blocks) if l.strip()]
    cands = [torch_arch.build("input %dx%dx%d; %s" % (c, h, w, b)).train() for b in blocks]
    opts = [torch.optim.Adam(m.parameters(), lr=2e-3) for m in cands]
    rng = np.random.default_rng(1)
    order = rng.permutation(len(img))
    B = a.batch
    t0 = None
    warm = 3
    for step in range(warm + a.steps):
        if step == warm:
            t0 = time.perf_counter()
        idx = order[(step * B) % (len(img) - B):][:B]
        x = torch.from_numpy(img[idx].astype(np.float32) / 255.0)
        with torch.no_grad():
            xs = pre_in(x)
            ys = slot_mod(xs)
        for m, o in zip(cands, opts):
            o.zero_grad(set_to_none=True)
            loss = F.mse_loss(m(xs), ys)
            loss.backward()
            o.step()
    dt = time.perf_counter() - t0
    print(json.dumps({"candidate_samples_per_s": a.steps * B * len(cands) / dt, "candidates": len(cands),
                      "steps": a.steps, "batch": B, "threads": a.threads, "seconds": dt}))


if __name__ == "__main__":
    main()
