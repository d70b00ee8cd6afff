# SPDX-License-Identifier: MIT
# torch_arch.py: builds the PyTorch twin of a hant architecture description, for reference runs.
import torch
import torch.nn as nn


def _opts(tokens):
    out = {}
    for t in tokens:
        k, _, v = t.partition("=")
        out[k] = v
    return out


def _act(name):
    return {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "hswish": nn.Hardswish()}.get(name)


class ConvBnAct(nn.Sequential):
    """kxk conv (or, with r > 0, kx1 to r channels then 1xk), optional BN, activation: as hant's conv_block."""

    def __init__(self, cin, cout, k, s, g=1, bn=True, act="relu", r=0):
        if r > 0 and k > 1:
            layers = [nn.Conv2d(cin, r, (k, 1), (s, 1), (k // 2, 0), bias=False),
                      nn.Conv2d(r, cout, (1, k), (1, s), (0, k // 2), bias=not bn)]
        else:
            layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=not bn)]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        if _act(act) is not None:
            layers.append(_act(act))
        super().__init__(*layers)


class Res(nn.Module):
    def __init__(self, cin, cout, k, s, mid, g=1, r=0, bn=True):
        super().__init__()
        self.a = ConvBnAct(cin, mid, k, s, g, bn, "relu", r)
        self.b = ConvBnAct(mid, cout, k, 1, g, bn, "none", r)
        self.sc = None if (s == 1 and cin == cout) else ConvBnAct(cin, cout, 1, s, bn=bn, act="none")
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.b(self.a(x))
        return self.relu(y + (x if self.sc is None else self.sc(x)))


class IR(nn.Module):
    def __init__(self, cin, cout, k, s, mid, act, bn=True):
        super().__init__()
        layers = []
        if mid != cin:
            layers.append(ConvBnAct(cin, mid, 1, 1, bn=bn, act=act))
        layers.append(ConvBnAct(mid, mid, k, s, g=mid, bn=bn, act=act))
        layers.append(ConvBnAct(mid, cout, 1, 1, bn=bn, act="none"))
        self.body = nn.Sequential(*layers)
        self.res = s == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return y + x if self.res else y


def build(desc):
    """Returns (nn.Module, input shape) for a hant architecture description."""
    lines = [l.split("#")[0].strip() for l in desc.replace(";", "\n").split("\n")]
    lines = [l for l in lines if l]
    c, h, w = (int(v) for v in lines[0].split()[1].split("x"))
    mods = []
    for line in lines[1:]:
        tok = line.split()
        kind, o = tok[0], _opts(tok[2:] if len(tok) > 1 and "=" not in tok[1] else tok[1:])
        out = int(tok[1]) if len(tok) > 1 and "=" not in tok[1] else None
        k, s = int(o.get("k", 3)), int(o.get("s", 1))
        g, r, bn = int(o.get("g", 1)), int(o.get("r", 0)), o.get("bn", "1") == "1"
        if kind == "conv":
            mods.append(ConvBnAct(c, out, k, s, g, bn, o.get("act", "relu"), r))
            c, h, w = out, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif kind == "res":
            mods.append(Res(c, out, k, s, int(o.get("mid", out)), g, r, bn))
            c, h, w = out, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif kind == "ir":
            mid = int(o.get("mid", c * int(o.get("e", 6))))
            mods.append(IR(c, out, k, s, mid, o.get("act", "relu6"), bn))
            c, h, w = out, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif kind == "dws":
            act = o.get("act", "relu")
            mods.append(nn.Sequential(ConvBnAct(c, c, k, s, c, bn, act), ConvBnAct(c, out, 1, 1, 1, bn, act)))
            c, h, w = out, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif kind == "identity":
            mods.append(nn.Identity())
        elif kind == "gap":
            mods.append(nn.AdaptiveAvgPool2d(1))
            h = w = 1
        elif kind == "flatten":
            pass
        elif kind == "linear":
            mods.append(nn.Flatten())
            mods.append(nn.Linear(c * h * w, out))
            c, h, w = out, 1, 1
        else:
            raise ValueError("unsupported layer for the torch twin: " + kind)
    return nn.Sequential(*mods)
