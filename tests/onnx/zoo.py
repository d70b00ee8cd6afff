# SPDX-License-Identifier: MIT
"""The torchvision edge zoo: builds each classifier, exports it to ONNX and checks what hant makes of it.

usage: zoo.py --onnx-run PATH --distill PATH [--arch A,B,...] [--opset 13,17] [--input 1x28x28|3x32x32]
              [--json] [--expect-pass A,B,...]

Each architecture is built by Debian's python3-torchvision (0.14) with num_classes=10 and random weights
(seed 0; batch-norm statistics drawn at random so that folding them is tested), put in eval mode, and
exported by torch.onnx.export at each opset (batch dimension dynamic, batch norms folded as eval-mode export
does). The stem adaptation is the same for every architecture: the first convolution is replaced by one with
the input's channel count (1 for 1x28x28, 3 for 3x32x32, where nothing changes) and otherwise the same
kernel, stride, padding, groups and bias; nothing else changes. Every network here has an output stride of
at most 32, so 28x28 and 32x32 inputs both end in 1x1 feature maps before the classifier. googlenet is built
without its auxiliary heads (aux_logits=False) and with transform_input=False (hant's input convention: raw
pixels in [0, 1]).

For each (architecture, opset) it runs, stopping at the first failure:
  import + parity   onnx_run run: hant's eval forward of 4 random images against PyTorch's, max |diff|
                    relative to max |PyTorch output|, which must be <= 1e-4;
  slots             onnx_run slots: the slots discovery finds and their kinds;
  exact rebuild     onnx_run rebuild: each slot's architecture line built with the teacher's folded weights
                    (the build's "teacher" candidate) reproduces the slot's output to 1e-4 of its scale;
  plan              hant-distill build --teacher M.onnx --dry-run --json: candidates planned per slot;
  candidates        with --candidates, onnx_run candidates: every planned candidate builds and takes its
                    initialisation from the teacher (slow: tens of seconds for the larger architectures).

It prints a table (architecture, opset, slots, slot kinds, candidates planned, parity error, first error) to
stdout, or with --json one object per row. The exit status is 1 when a check fails for an architecture in
--expect-pass (default: every architecture run), else 0.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ARCHS = ["resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
         "mnasnet0_5", "mnasnet1_0", "efficientnet_b0", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
         "squeezenet1_1", "regnet_x_400mf", "regnet_y_400mf", "googlenet"]
TOL = 1e-4


def build(name, channels):
    """torchvision's classifier `name` with 10 classes and its first convolution taking `channels` inputs."""
    import torch
    import torch.nn as nn
    import torchvision.models as tvm

    torch.manual_seed(0)
    kw = {"num_classes": 10}
    if name == "googlenet":
        kw.update(aux_logits=False, transform_input=False, init_weights=True)
    model = getattr(tvm, name)(**kw)
    # The first convolution in registration order is the stem's in every architecture of the list.
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                if child.in_channels != channels:
                    setattr(parent, child_name, nn.Conv2d(channels, child.out_channels, child.kernel_size,
                                                          child.stride, child.padding, child.dilation, child.groups,
                                                          child.bias is not None))
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


def first_line(text):
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no message)"


def run_one(args, tmp, name, opset, shape):
    import numpy as np
    import torch

    row = {"arch": name, "opset": opset, "input": "x".join(map(str, shape)), "slots": None, "kinds": {},
           "candidates": None, "parity": None, "rebuild": None, "error": None}
    try:
        model = build(name, shape[0])
        x = torch.rand(4, *shape)
        with torch.no_grad():
            want = model(x).numpy()
        path = os.path.join(tmp, f"{name}-{opset}.onnx")
        torch.onnx.export(model, x[:2], path, opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    except Exception as e:  # noqa: BLE001 - a row reports whatever went wrong
        row["error"] = f"torch: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return row
    xin, xout = path + ".in.f32", path + ".out.f32"
    # hant's activations are channels last, so the input file is NHWC; with one channel it is also NCHW.
    x.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(xin)
    p = subprocess.run([args.onnx_run, "run", path, xin, xout], capture_output=True, text=True)
    if p.returncode:
        row["error"] = "import: " + first_line(p.stderr)
        return row
    got = np.fromfile(xout, "<f4").reshape(want.shape)
    scale = max(float(np.abs(want).max()), 1e-12)
    row["parity"] = float(np.abs(got - want).max()) / scale
    p = subprocess.run([args.onnx_run, "slots", path], capture_output=True, text=True)
    slots = [ln.split() for ln in p.stdout.splitlines() if ln.strip()]
    row["slots"] = len(slots)
    for s in slots:
        row["kinds"][s[0]] = row["kinds"].get(s[0], 0) + 1
    if row["parity"] > TOL:
        row["error"] = f"parity: max |hant - torch| / max |torch| = {row['parity']:.3g} > {TOL}"
        return row
    p = subprocess.run([args.onnx_run, "rebuild", path], capture_output=True, text=True)
    errs = []
    for ln in p.stdout.splitlines():
        f = ln.split(None, 3)
        if len(f) >= 3:
            try:
                errs.append(float(f[2]))
            except ValueError:
                errs.append(float("inf"))
    row["rebuild"] = max(errs) if errs else None
    if p.returncode:
        bad = [ln for ln in p.stdout.splitlines() if len(ln.split()) >= 3 and
               (ln.split()[2] == "build-failed" or not float(ln.split()[2]) <= TOL)]
        row["error"] = "rebuild: " + (bad[0] if bad else first_line(p.stderr))
        return row
    p = subprocess.run([args.distill, "build", "--teacher", path, "--db", os.path.join(tmp, "dry.db"), "--dry-run",
                        "--json"], capture_output=True, text=True)
    if p.returncode:
        row["error"] = "plan: " + first_line(p.stderr)
        return row
    plan = json.loads(p.stdout)
    row["candidates"] = plan["total"]
    empty = [s["name"] for s in plan["slots"] if s["candidates"] < 2]
    if empty:
        row["error"] = "plan: slots with only the teacher's block: " + ", ".join(empty)
        return row
    if args.candidates:
        p = subprocess.run([args.onnx_run, "candidates", path], capture_output=True, text=True)
        if p.returncode:
            row["error"] = "candidates: " + (p.stdout.splitlines() or [first_line(p.stderr)])[0]
    return row


def kinds_text(kinds):
    return " ".join(f"{k}x{v}" for k, v in sorted(kinds.items())) or "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--onnx-run", required=True, help="the onnx_run test helper (build/tests/onnx/onnx_run)")
    ap.add_argument("--distill", required=True, help="hant-distill (build/distill/hant-distill)")
    ap.add_argument("--arch", default=",".join(ARCHS), help="comma-separated architectures (default: all 15)")
    ap.add_argument("--opset", default="13,17", help="comma-separated opsets (default: 13,17)")
    ap.add_argument("--input", default="1x28x28", choices=["1x28x28", "3x32x32"], help="input shape C x H x W")
    ap.add_argument("--expect-pass", default=None,
                    help="architectures whose failure fails the run (default: all run; 'none' for a report only)")
    ap.add_argument("--candidates", action="store_true", help="also build and initialise every planned candidate")
    ap.add_argument("--json", action="store_true", help="one JSON object per row on stdout instead of the table")
    args = ap.parse_args()
    archs = [a for a in args.arch.split(",") if a]
    unknown = [a for a in archs if a not in ARCHS]
    if unknown:
        print(f"zoo.py: unknown architecture(s) {', '.join(unknown)}; known: {', '.join(ARCHS)}", file=sys.stderr)
        return 2
    opsets = [int(o) for o in args.opset.split(",") if o]
    shape = tuple(int(v) for v in args.input.split("x"))
    expect = archs if args.expect_pass is None else [a for a in args.expect_pass.split(",") if a and a != "none"]
    rows = []
    if not args.json:
        print(f"{'architecture':<20} {'opset':>5} {'slots':>5} {'candidates':>10} {'parity':>9} {'rebuild':>9}  "
              "slot kinds / first error", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in archs:
            for opset in opsets:
                row = run_one(args, tmp, name, opset, shape)
                rows.append(row)
                if args.json:
                    print(json.dumps(row), flush=True)
                else:
                    def num(v, fmt):
                        return "-" if v is None else format(v, fmt)
                    print(f"{name:<20} {opset:>5} {num(row['slots'], 'd'):>5} {num(row['candidates'], 'd'):>10} "
                          f"{num(row['parity'], '.2e'):>9} {num(row['rebuild'], '.2e'):>9}  "
                          f"{kinds_text(row['kinds'])}" + (f"\n{'':<20} error: {row['error']}" if row["error"] else ""),
                          flush=True)
    failed = [f"{r['arch']} opset {r['opset']}" for r in rows if r["error"] and r["arch"] in expect]
    ok = sum(1 for r in rows if not r["error"])
    print(f"zoo: {ok} of {len(rows)} (architecture, opset) pairs import, match PyTorch, rebuild and plan", file=sys.stderr)
    if failed:
        print("zoo: expected to pass but failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
