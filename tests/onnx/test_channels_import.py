# SPDX-License-Identifier: MIT
"""PyTorch -> hant for the channel moves: split or chunk, concatenation, channel shuffle, and the shape arithmetic
PyTorch exports around them; and the clear refusals of near misses.

usage: test_channels_import.py ONNX_RUN

A small ShuffleNet V2 (both unit kinds, torchvision's channel_shuffle written the same way) and a
SqueezeNet-style fire net are exported at opsets 11, 13 and 17, with a dynamic and a fixed batch; hant's
forward must match PyTorch's to 1e-4 of the output scale, and hant's re-export must pass onnx.checker and
give the same outputs. Transposes other than a shuffle's, slices of H or W, division of activations and
arithmetic on the batch size are refused with a message naming the node and what is supported.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn

torch.manual_seed(0)
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def shuffle(x, groups):
    """torchvision's channel_shuffle."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


def cbr(cin, cout, k=1, s=1, g=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(cout)]
    return layers + ([nn.ReLU()] if relu else [])


class Unit(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        half = cout // 2
        self.s = s
        if s > 1:
            self.b1 = nn.Sequential(*cbr(cin, cin, 3, s, cin, relu=False), *cbr(cin, half))
        self.b2 = nn.Sequential(*cbr(cin if s > 1 else half, half), *cbr(half, half, 3, s, half, relu=False),
                                *cbr(half, half))

    def forward(self, x):
        if self.s == 1:
            a, b = x.chunk(2, dim=1)
            y = torch.cat((a, self.b2(b)), dim=1)
        else:
            y = torch.cat((self.b1(x), self.b2(x)), dim=1)
        return shuffle(y, 2)


class Shuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(*cbr(1, 8, 3, 2), Unit(8, 16, 2), Unit(16, 16, 1), Unit(16, 32, 2), Unit(32, 32, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.f(x).mean([2, 3]))


class Fire(nn.Module):
    def __init__(self, cin, sq, ex):
        super().__init__()
        self.sq = nn.Sequential(nn.Conv2d(cin, sq, 1), nn.ReLU())
        self.e1 = nn.Sequential(nn.Conv2d(sq, ex, 1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(sq, ex, 3, padding=1), nn.ReLU())

    def forward(self, x):
        x = self.sq(x)
        return torch.cat([self.e1(x), self.e3(x)], 1)


class FireNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), Fire(16, 8, 16), Fire(32, 8, 16),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.f(x))


class Refused(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.c = nn.Conv2d(1, 4, 3, 1, 1)

    def forward(self, x):
        y = self.c(x)
        if self.how == "transpose":
            y = y.transpose(2, 3)
        elif self.how == "slice-h":
            y = y[:, :, 1:]
        elif self.how == "div":
            y = y / 2.0
        elif self.how == "batch-arith":
            y = y.reshape(y.size(0) * 2, 2, y.size(2), y.size(3)).reshape(y.size(0), 4, y.size(2), y.size(3))
        return y.mean([2, 3])


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def compare(onnx_run, path, x, want, label):
    xin, xout = path + ".in.f32", path + ".out.f32"
    x.numpy().astype("<f4").tofile(xin)
    p = run([onnx_run, "run", path, xin, xout])
    if p.returncode:
        check(False, f"{label}: hant could not run it: {p.stderr.strip()}")
        return
    got = np.fromfile(xout, "<f4").reshape(want.shape)
    scale = max(float(np.abs(want).max()), 1e-6)
    diff = float(np.abs(got - want).max())
    check(diff <= 1e-4 * scale, f"{label}: max |hant - torch| = {diff:.3g} (scale {scale:.3g})")


def export(net, x, path, opset, dynamic):
    kw = {"dynamic_axes": {"input": {0: "N"}, "logits": {0: "N"}}} if dynamic else {}
    torch.onnx.export(net, x, path, opset_version=opset, input_names=["input"], output_names=["logits"], **kw)


def main():
    onnx_run = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, net in (("shufflenet", Shuffle()), ("fire", FireNet())):
            net.eval()
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    with torch.no_grad():
                        m.running_mean.normal_(0, 0.2)
                        m.running_var.uniform_(0.5, 1.5)
            x = torch.rand(3, 1, 28, 28)
            with torch.no_grad():
                want = net(x).numpy()
            for opset in (11, 13, 17):
                for dynamic in (True, False):
                    label = f"{name} opset {opset} {'dynamic' if dynamic else 'fixed'} batch"
                    path = os.path.join(tmp, f"{name}-{opset}-{int(dynamic)}.onnx")
                    export(net, x if not dynamic else x[:2], path, opset, dynamic)
                    compare(onnx_run, path, x, want, label)
            back = os.path.join(tmp, f"{name}-hant.onnx")
            p = run([onnx_run, "export", os.path.join(tmp, f"{name}-13-1.onnx"), back])
            check(p.returncode == 0, f"{name}: hant re-exports it: {p.stderr.strip()}")
            if p.returncode == 0:
                try:
                    onnx.checker.check_model(onnx.load(back), full_check=True)
                    check(True, f"{name}: onnx.checker accepts hant's export")
                except Exception as e:  # noqa: BLE001 - report any checker failure
                    check(False, f"{name}: onnx.checker rejects hant's export: {e}")
                compare(onnx_run, back, x, want, f"{name} hant re-export")
        expect = {
            "transpose": "Transpose is supported only as (0, 2, 1, 3, 4) between the reshapes of a channel shuffle",
            "slice-h": "Slice on axis",
            "div": "Div is supported only on integer shape values",
            "batch-arith": "arithmetic on the dynamic batch size is not supported",
        }
        for how, says in expect.items():
            path = os.path.join(tmp, f"refused-{how}.onnx")
            export(Refused(how).eval(), torch.rand(2, 1, 8, 8), path, 13, True)
            x = torch.rand(1, 1, 8, 8)
            x.numpy().astype("<f4").tofile(path + ".in")
            p = run([onnx_run, "run", path, path + ".in", path + ".out"])
            check(p.returncode != 0 and says in p.stderr and "node '" in p.stderr,
                  f"{how} is refused by name: {p.stderr.strip()[-220:]}")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
