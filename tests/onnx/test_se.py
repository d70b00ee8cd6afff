# SPDX-License-Identifier: MIT
"""Squeeze-and-excitation networks, PyTorch -> hant -> ONNX Runtime: one small net of each SE block kind, built from
torchvision's own block classes, plus a net of the loose operators (Sigmoid, HardSigmoid, SiLU, Mul of equal shapes,
gate * x and x * gate).

usage: test_se.py ONNX_RUN SLOT_REBUILD HANT_DISTILL SOURCE_ROOT

The nets, with random weights and random batch-norm statistics, exported by torch.onnx.export at opsets 13 and 17:
  mbv3   torchvision's MobileNetV3 with five blocks: SE without expansion (ReLU, hard-sigmoid gate, stride 2), a plain
         inverted residual, SE with hard-swish and a residual add, SE with a width change, SE on a 1x1 plane (where
         the exporter's Mul has the gate first and both operands one shape);
  effnet torchvision's EfficientNet with three MBConv stages (SiLU, SE with SiLU and a sigmoid gate, expansion 1
         and 4, strides 1 and 2, a residual add);
  regnety torchvision's RegNet with Y blocks (1x1, grouped 3x3, SE, 1x1; projection and identity shortcuts).
For each: hant's eval forward matches PyTorch's within 1e-4 of the output scale; slot discovery finds exactly the
expected blocks with the SE inside each slot; every candidate of every family builds and the teacher's own block
(and zero-padded kernels) reproduce the slot exactly (slot_rebuild); `hant-distill build --dry-run` plans SE slots
with width, kernel and drop-SE candidates; hant's re-export passes onnx.checker and matches PyTorch again, and
ONNX Runtime (npm onnxruntime-node) on both the PyTorch export and hant's re-export matches too.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import efficientnet as tv_eff
from torchvision.models import mobilenetv3 as tv_mbv3
from torchvision.models import regnet as tv_regnet

TOL = 1e-4
failures = []


passed = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    (passed if cond else failures).append(msg)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.stderr.write(f"$ {' '.join(cmd)}\n{p.stdout[-2000:]}{p.stderr[-2000:]}\n")
    return p


def one_channel_stem(model):
    """The first convolution takes one channel (Fashion-MNIST), otherwise unchanged; BN statistics random."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                setattr(parent, name, nn.Conv2d(1, child.out_channels, child.kernel_size, child.stride, child.padding,
                                                child.dilation, child.groups, child.bias is not None))
                break
        else:
            continue
        break
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def mbv3():
    c = tv_mbv3.InvertedResidualConfig
    setting = [c(16, 3, 16, 16, True, "RE", 2, 1, 1.0), c(16, 3, 48, 24, False, "RE", 2, 1, 1.0),
               c(24, 5, 72, 24, True, "HS", 1, 1, 1.0), c(24, 5, 96, 32, True, "HS", 2, 1, 1.0),
               c(32, 3, 64, 32, True, "HS", 2, 1, 1.0)]
    return tv_mbv3.MobileNetV3(setting, last_channel=64, num_classes=10)


def effnet():
    c = tv_eff.MBConvConfig
    setting = [c(1, 3, 1, 16, 8, 1), c(4, 3, 2, 8, 16, 2), c(4, 5, 2, 16, 24, 1)]
    return tv_eff.EfficientNet(setting, dropout=0.2, num_classes=10)


def regnety():
    params = tv_regnet.BlockParams(depths=[1, 2], widths=[16, 32], group_widths=[8, 8],
                                   bottleneck_multipliers=[1.0, 1.0], strides=[2, 2], se_ratio=0.25)
    return tv_regnet.RegNet(params, num_classes=10, stem_width=16)


class LooseOps(nn.Module):
    """Each new operator outside a block: Sigmoid, HardSigmoid, SiLU, Mul of equal shapes, x * gate, gate * x."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        a = torch.sigmoid(self.c1(x))
        b = F.hardsigmoid(self.c2(a))
        c = F.silu(b) * b
        g = torch.sigmoid(F.adaptive_avg_pool2d(c, 1))
        d = g * (c * g)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(d, 1), 1))


NETS = {
    "mbv3": (mbv3, ["conv", "se_ir", "ir", "se_ir", "se_ir", "se_ir", "conv", "linear", "linear"]),
    "effnet": (effnet, ["conv", "se_ir", "se_ir", "se_ir", "se_ir", "conv", "linear"]),
    "regnety": (regnety, ["conv", "se_bottleneck", "se_bottleneck", "se_bottleneck", "linear"]),
    "loose": (LooseOps, None),
}


def outputs(tool_cmd, x_path, out_path, shape):
    p = run(tool_cmd + [x_path, out_path])
    return np.fromfile(out_path, "<f4").reshape(shape) if p.returncode == 0 else None


def rel(got, want):
    return float(np.abs(got - want).max()) / max(float(np.abs(want).max()), 1e-12)


def main():
    onnx_run, slot_rebuild, distill, root = sys.argv[1:5]
    ort_js = os.path.join(root, "tests", "onnx", "ort_run.mjs")
    have_ort = os.path.isdir(os.path.join(root, "tests", "onnx", "node_modules", "onnxruntime-node"))
    check(have_ort, "onnxruntime-node is installed (scripts/install-ort.sh)")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (make, kinds) in NETS.items():
            model = one_channel_stem(make()) if name != "loose" else make().eval()
            x = torch.rand(3, 1, 28, 28)
            with torch.no_grad():
                want = model(x).numpy()
            xin = os.path.join(tmp, f"{name}.in.f32")
            x.numpy().astype("<f4").tofile(xin)  # one channel: NCHW is hant's NHWC
            for opset in (13, 17):
                tag = f"{name} opset {opset}"
                path = os.path.join(tmp, f"{name}-{opset}.onnx")
                torch.onnx.export(model, x[:1], path, opset_version=opset, input_names=["input"],
                                  output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
                got = outputs([onnx_run, "run", path], xin, path + ".hant.f32", want.shape)
                check(got is not None and rel(got, want) <= TOL,
                      f"{tag}: hant matches PyTorch ({'-' if got is None else f'{rel(got, want):.2e}'})")
                if kinds is not None:
                    slots = run([onnx_run, "slots", path]).stdout.split("\n")
                    found = [s.split()[0] for s in slots if s]
                    check(found == kinds, f"{tag}: slots {found} (expected {kinds})")
                    p = run([slot_rebuild, path])
                    check(p.returncode == 0, f"{tag}: every candidate builds, the teacher's blocks rebuild exactly")
                    p = run([distill, "build", "--teacher", path, "--db", os.path.join(tmp, "dry.db"), "--dry-run",
                             "--json"])
                    plan = json.loads(p.stdout) if p.returncode == 0 else {"slots": []}
                    se = [s for s in plan["slots"] if s["arch"].startswith("se_")]
                    check(len(se) == sum(k.startswith("se_") for k in kinds) and
                          all("drop-se" in s["keys"] and s["families"].get("kernel", 0) >= 1 and
                              (s["families"].get("width", 0) >= 1 or " e=1 " in s["arch"]) for s in se),
                          f"{tag}: the dry run plans width, kernel and drop-SE candidates for every SE slot")
                back = os.path.join(tmp, f"{name}-{opset}.hant.onnx")
                p = run([onnx_run, "export", path, back])
                ok = p.returncode == 0
                if ok:
                    try:
                        onnx.checker.check_model(onnx.load(back))
                    except Exception as e:  # noqa: BLE001
                        ok = False
                        print(f"  onnx.checker: {e}", file=sys.stderr)
                check(ok, f"{tag}: hant's re-export passes onnx.checker")
                got = outputs([onnx_run, "run", back], xin, back + ".hant.f32", want.shape) if ok else None
                check(got is not None and rel(got, want) <= TOL, f"{tag}: hant's re-export read back matches PyTorch")
                if have_ort:
                    for what, model_path in (("PyTorch's export", path), ("hant's re-export", back)):
                        got = outputs(["node", ort_js, "run", model_path], xin, model_path + ".ort.f32", want.shape)
                        check(got is not None and rel(got, want) <= TOL,
                              f"{tag}: ONNX Runtime on {what} matches PyTorch")
    print(f"test_se: {len(passed)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
