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


class ConvBnAct(nn.Sequential):
    def __init__(self, cin, cout, k, s, g=1, bn=True, act="relu"):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=not bn)]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        if act == "relu":
            layers.append(nn.ReLU())
        elif act == "relu6":
            layers.append(nn.ReLU6())
        elif act == "hswish":
            layers.append(nn.Hardswish())
        super().__init__(*layers)


class Res(nn.Module):
    def __init__(self, cin, cout, k, s, mid):
        super().__init__()
        self.a = ConvBnAct(cin, mid, k, s)
        self.b = ConvBnAct(mid, cout, k, 1, act="none")
        self.sc = None if (s == 1 and cin == cout) else ConvBnAct(cin, cout, 1, s, act="none")
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.b(self.a(x))
        return self.relu(y + (x if self.sc is None else self.sc(x)))


class IR(nn.Module):
    def __init__(self, cin, cout, k, s, mid, act):
        super().__init__()
        layers = []
        if mid != cin:
            layers.append(ConvBnAct(cin, mid, 1, 1, act=act))
        layers.append(ConvBnAct(mid, mid, k, s, g=mid, act=act))
        layers.append(ConvBnAct(mid, cout, 1, 1, act="none"))
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
        if kind == "conv":
            mods.append(ConvBnAct(c, out, k, s, int(o.get("g", 1)), o.get("bn", "1") == "1", o.get("act", "relu")))
            c, h, w = out, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif kind == "res":
            mods.append(Res(c, out, k, s, int(o.get("mid", out))))
            c, h, w = out, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif kind == "ir":
            mid = int(o.get("mid", c * int(o.get("e", 6))))
            mods.append(IR(c, out, k, s, mid, o.get("act", "relu6")))
            c, h, w = out, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
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
