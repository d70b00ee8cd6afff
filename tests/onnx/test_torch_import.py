# SPDX-License-Identifier: MIT
"""PyTorch -> hant: exports three small CNNs with torch.onnx.export, imports them with hant and compares outputs.

usage: test_torch_import.py ONNX_RUN

The nets: a plain conv stack (grouped conv, pools, hard-swish, Reshape, MatMul + Add),
a ResNet with projection shortcuts (flattened with x.view(x.size(0), -1)), a MobileNetV2-style net with depthwise convs and
ReLU6, and a ResNet-50-style bottleneck net. Each is exported at opsets 11, 13 and 17 (the MobileNet also at 10) (batch norms folded, as eval-mode export
does) and once with TrainingMode.PRESERVE (batch norms kept), once with its weights in an
external data file. hant's eval forward must match PyTorch's within 1e-4 of the output
scale, the slots found must be the expected blocks, and hant's re-export of the imported
network must pass onnx.checker and give the same outputs again.
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
TOL = 1e-4  # max abs diff relative to max |output|


def randomize_bn(model):
    """Random running statistics, so folding them is actually tested."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


def cbr(cin, cout, k=3, s=1, g=1, act=nn.ReLU):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(cout), act()]


class Plain(nn.Module):
    """conv stack: grouped conv, max/avg pools (count_include_pad both ways), hard-swish,
    Reshape to [-1, F], MatMul + Add, Gemm."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(
            *cbr(1, 8), nn.MaxPool2d(2),
            *cbr(8, 16, k=5, g=2, act=nn.Hardswish),
            nn.AvgPool2d(3, stride=2, padding=1),  # count_include_pad=True
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU6(),
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False))
        self.w = nn.Parameter(torch.randn(16 * 7 * 7, 32) * 0.05)
        self.b = nn.Parameter(torch.randn(32) * 0.1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        y = self.f(x).reshape(-1, 16 * 7 * 7)
        y = torch.relu(torch.matmul(y, self.w) + self.b)
        return self.fc(y)


class Basic(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, s, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if s != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*cbr(1, 16))
        self.layers = nn.Sequential(Basic(16, 16, 1), Basic(16, 32, 2), Basic(32, 32, 1), Basic(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        y = self.pool(self.layers(self.stem(x)))
        return self.fc(y.view(y.size(0), -1))  # a computed shape: Shape, Gather, Unsqueeze, Concat, Reshape


class Bottleneck(nn.Module):
    """torchvision's ResNet-50 block: 1x1, 3x3 (stride here), 1x1, projection shortcut."""

    def __init__(self, cin, mid, cout, s):
        super().__init__()
        self.body = nn.Sequential(*cbr(cin, mid, k=1), *cbr(mid, mid, s=s),
                                  nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.down = None
        if s != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.down is None else self.down(x)))


class BottleneckNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(*cbr(1, 16, k=7, s=2), nn.MaxPool2d(3, 2, 1), Bottleneck(16, 8, 32, 1),
                               Bottleneck(32, 8, 32, 1), Bottleneck(32, 16, 64, 2), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), 1))


class IR(nn.Module):
    def __init__(self, cin, cout, s, t, expand=None, skip=None):
        super().__init__()
        mid = cin * t
        layers = cbr(cin, mid, k=1, act=nn.ReLU6) if (t != 1 if expand is None else expand) else []
        layers += cbr(mid, mid, s=s, g=mid, act=nn.ReLU6)
        layers += [nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.skip = s == 1 and cin == cout if skip is None else skip

    def forward(self, x):
        return x + self.body(x) if self.skip else self.body(x)


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(*cbr(1, 16, s=1, act=nn.ReLU6), IR(16, 16, 1, 1), IR(16, 24, 2, 6), IR(24, 24, 1, 6),
                               IR(24, 32, 2, 4), IR(32, 32, 1, 4), *cbr(32, 96, k=1, act=nn.Hardswish))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(96, 10))

    def forward(self, x):
        return self.head(self.f(x))


class Expand1(nn.Module):
    """Inverted residuals whose widths do not say their shape: an expansion ratio of 1 with a 1x1 expansion conv
    and a residual add (as some MobileNetV2 exports have), and stride-1 equal-width blocks without the add."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(*cbr(1, 16, s=2, act=nn.ReLU6), IR(16, 16, 1, 1, expand=True), IR(16, 16, 1, 1, skip=False),
                               IR(16, 16, 1, 4, skip=False), IR(16, 24, 2, 1, expand=True), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), 1))


class MeanNet(nn.Module):
    """Global pooling written as x.mean((2, 3)): exported as ReduceMean."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(*cbr(1, 16, s=2), Basic(16, 32, 2))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.f(x).mean((2, 3)))


EXPECTED_SLOTS = {
    "plain": ["conv", "conv", "conv", "linear", "linear"],
    "resnet": ["conv", "res", "res", "res", "res", "linear"],
    "mobilenet": ["conv", "ir", "ir", "ir", "ir", "ir", "conv", "linear"],
    "bottleneck": ["conv", "bottleneck", "bottleneck", "bottleneck", "linear"],
    "meanpool": ["conv", "res", "linear"],
    "expand1": ["conv", "ir", "ir", "ir", "ir", "linear"],
}
# Architecture lines that must say what the widths do not (issue 18).
EXPECTED_DESC = {
    "expand1": ["ir 16 e=1 k=3 s=1 act=relu6 expand=1 skip=1", "ir 16 e=1 k=3 s=1 act=relu6 expand=0 skip=0",
                "ir 16 e=4 k=3 s=1 act=relu6 expand=1 skip=0", "ir 24 e=1 k=3 s=2 act=relu6 expand=1 skip=0"],
}

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        print(p.stderr, file=sys.stderr)
    return p


def compare(onnx_run, model_path, x, want, label):
    xin = model_path + ".in.f32"
    out = model_path + ".out.f32"
    x.numpy().astype("<f4").tofile(xin)
    p = run([onnx_run, "run", model_path, xin, out])
    if p.returncode:
        check(False, f"{label}: hant could not run it: {p.stderr.strip()}")
        return
    got = np.fromfile(out, "<f4").reshape(want.shape)
    scale = max(float(np.abs(want).max()), 1e-6)
    diff = float(np.abs(got - want).max())
    check(diff <= TOL * scale, f"{label}: max |hant - torch| = {diff:.3g} (scale {scale:.3g}, limit {TOL * scale:.3g})")


def dropout_checks(onnx_run, path, tmp, x, want):
    """An inference Dropout before the classifier is the identity; one in training mode is refused."""
    m = onnx.load(path)
    g = m.graph
    fc = next(i for i, n in enumerate(g.node) if n.op_type in ("Gemm", "MatMul"))
    src = g.node[fc].input[0]
    for training, label in ((None, "inference"), (True, "training-mode")):
        mm = onnx.ModelProto()
        mm.CopyFrom(m)
        gg = mm.graph
        ins = [src]
        if training is not None:
            gg.initializer.append(onnx.helper.make_tensor("ratio", onnx.TensorProto.FLOAT, [], [0.2]))
            gg.initializer.append(onnx.helper.make_tensor("train", onnx.TensorProto.BOOL, [], [training]))
            ins += ["ratio", "train"]
        gg.node.insert(fc, onnx.helper.make_node("Dropout", ins, ["dropped"]))
        gg.node[fc + 1].input[0] = "dropped"
        out = os.path.join(tmp, f"dropout-{label}.onnx")
        onnx.save(mm, out)
        if training is None:
            compare(onnx_run, out, x, want, "meanpool with an inference Dropout")
        else:
            xin = out + ".in.f32"
            x.numpy().astype("<f4").tofile(xin)
            p = subprocess.run([onnx_run, "run", out, xin, out + ".out"], capture_output=True, text=True)
            check(p.returncode != 0 and "Dropout" in p.stderr and "training mode" in p.stderr,
                  f"a training-mode Dropout is refused by name: {p.stderr.strip()[-200:]}")


def main():
    onnx_run = sys.argv[1]
    nets = {"plain": Plain(), "resnet": ResNet(), "mobilenet": MobileNet(), "bottleneck": BottleneckNet(),
            "meanpool": MeanNet(), "expand1": Expand1()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, net in nets.items():
            net = randomize_bn(net).eval()
            x = torch.rand(5, 1, 28, 28)  # pixels in [0, 1], hant's input convention
            with torch.no_grad():
                want = net(x).numpy()
            variants = [(op, torch.onnx.TrainingMode.EVAL) for op in (11, 13, 17)]
            if name == "mobilenet":  # Clip's bounds are attributes before opset 11
                variants.append((10, torch.onnx.TrainingMode.EVAL))
            variants.append((13, torch.onnx.TrainingMode.PRESERVE))
            for opset, mode in variants:
                tag = f"{name} opset {opset}" + (" (batch norms kept)" if mode == torch.onnx.TrainingMode.PRESERVE else "")
                path = os.path.join(tmp, f"{name}-{opset}-{mode.name}.onnx")
                torch.onnx.export(net, x[:2], path, opset_version=opset, input_names=["input"],
                                  output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                                  training=mode)
                compare(onnx_run, path, x, want, tag)
                if opset == 13 and mode == torch.onnx.TrainingMode.EVAL:
                    slots = run([onnx_run, "slots", path]).stdout.split("\n")
                    kinds = [s.split()[0] for s in slots if s]
                    check(kinds == EXPECTED_SLOTS[name],
                          f"{name}: slots {kinds} (expected {EXPECTED_SLOTS[name]}):\n      " + "\n      ".join(slots))
                    if name in EXPECTED_DESC:
                        descs = [s.split(None, 3)[3] for s in slots if s and s.split()[0] == "ir"]
                        check(descs == EXPECTED_DESC[name], f"{name}: ir lines {descs}")
                    # every slot's line, built with the teacher's weights, gives the slot's output
                    p = run([onnx_run, "rebuild", path])
                    check(p.returncode == 0, f"{name}: every slot rebuilds exactly:\n      " +
                          "\n      ".join(p.stdout.splitlines()) + p.stderr.strip())
                    # weights in an external data file next to the model
                    ext = os.path.join(tmp, f"{name}-external.onnx")
                    onnx.save_model(onnx.load(path), ext, save_as_external_data=True, all_tensors_to_one_file=True,
                                    location=f"{name}-external.data", size_threshold=0)
                    check(os.path.getsize(ext) < 20000, f"{name}: external data model is small ({os.path.getsize(ext)} bytes)")
                    compare(onnx_run, ext, x, want, f"{name} external data")
                    # hant's own export of the imported network
                    back = os.path.join(tmp, f"{name}-hant.onnx")
                    p = run([onnx_run, "export", path, back])
                    check(p.returncode == 0, f"{name}: hant re-exports the imported network")
                    if p.returncode == 0:
                        try:
                            onnx.checker.check_model(onnx.load(back), full_check=True)
                            check(True, f"{name}: onnx.checker accepts hant's export")
                        except Exception as e:  # noqa: BLE001 - report any checker failure
                            check(False, f"{name}: onnx.checker rejects hant's export: {e}")
                        compare(onnx_run, back, x, want, f"{name} hant re-export")
                    if name == "meanpool":
                        dropout_checks(onnx_run, path, tmp, x, want)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
