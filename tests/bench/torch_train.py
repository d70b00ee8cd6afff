# SPDX-License-Identifier: MIT
# torch_train.py: PyTorch reference for training throughput on the same network, data and batch.
# Prints one JSON line: {"samples_per_s": ..., "steps": ..., "threads": ...}.
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import torch_arch  # noqa: E402


def load_images(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, h, w)


def load_labels(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, offset=8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.environ.get("HANT_FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    img = load_images(os.path.join(a.data, "train-images-idx3-ubyte.gz"))[:55000]
    lab = load_labels(os.path.join(a.data, "train-labels-idx1-ubyte.gz"))[:55000].astype(np.int64)
    net = torch_arch.build(a.arch)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    rng = np.random.default_rng(1)
    order = rng.permutation(len(img))
    B = a.batch
    t0 = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            t0 = time.perf_counter()
        idx = order[(step * B) % (len(img) - B):][:B]
        # Same augmentation as hant: pad-2 random crop and horizontal flip.
        x = torch.from_numpy(img[idx].astype(np.float32) / 255.0)
        x = F.pad(x, (2, 2, 2, 2))
        dy, dx = rng.integers(0, 5, 2)
        x = x[:, :, dy:dy + 28, dx:dx + 28]
        if rng.integers(0, 2):
            x = torch.flip(x, dims=[3])
        y = torch.from_numpy(lab[idx])
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print(json.dumps({"samples_per_s": a.steps * B / dt, "steps": a.steps, "batch": B, "threads": a.threads,
                      "seconds": dt, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
