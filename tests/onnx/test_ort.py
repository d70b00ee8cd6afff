# SPDX-License-Identifier: MIT
"""hant -> ONNX Runtime: exports the teacher and an assembled network, checks them with onnx.checker, runs them
in ONNX Runtime (npm onnxruntime-node, CPU) and compares outputs and Fashion-MNIST test accuracy with hant's.

usage: test_ort.py HANT_DISTILL ONNX_RUN SOURCE_ROOT

The teacher is models/teacher-fmnist.hant when it exists, else a "tiny" network trained here for one epoch.
The assembled network is built from a different architecture (hard-swish stem, depthwise-separable and
inverted-residual blocks, average pooling) and trained briefly. Outputs on random inputs must agree within 1e-4
of their scale; test accuracy must agree within 0.05 percentage points (0.0005). A random network of channel
moves (ShuffleNet units, fire and Inception modules, ceil-mode max pooling) must give ONNX Runtime's outputs. `hant-distill eval` must give
the same figures for the native file and its ONNX export, and --mean 0 --std 1 must change nothing.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

TOL = 1e-4
ACC_TOL = 0.0005  # 0.05 percentage points
ASSEMBLED = ("input 1x28x28; conv 8 s=2 act=hswish; dws 16; ir 16 e=2 act=relu6; ir 24 e=2 s=2 k=5 act=hswish;"
             " avgpool k=3 s=1 p=1; conv 32 k=1 act=relu6; gap; linear 10")

CHANNEL_MOVES = ("input 1x28x28; conv 24 s=2; shuffle 48 s=2; shuffle 48; maxpool k=3 s=2 ceil=1;"
                 " fire 64 sq=8 e1=32; inception 64 c1=16 r3=16 c3=16 r5=8 c5=16 pool=16 k5=3; gap; linear 10")

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        sys.stderr.write(f"$ {' '.join(cmd)}\n{p.stderr}\n")
    return p


def main():
    distill, onnx_run, root = sys.argv[1:4]
    ort_js = os.path.join(root, "tests", "onnx", "ort_run.mjs")
    if not os.path.isdir(os.path.join(root, "tests", "onnx", "node_modules", "onnxruntime-node")):
        print("onnxruntime-node is not installed: run scripts/install-ort.sh (scripts/install-deps.sh does)",
              file=sys.stderr)
        return 1
    data = os.environ.get("HANT_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    with tempfile.TemporaryDirectory() as tmp:
        teacher = os.path.join(root, "models", "teacher-fmnist.hant")
        if not os.path.exists(teacher):
            teacher = os.path.join(tmp, "teacher.hant")
            p = run([distill, "teacher", "--arch", "tiny", "--epochs", "1", "--val-samples", "500", "--threads", "1",
                     "--out", teacher])
            check(p.returncode == 0, "trained a tiny stand-in teacher (models/teacher-fmnist.hant is absent)")
        assembled = os.path.join(tmp, "assembled.hant")
        p = run([distill, "teacher", "--arch", ASSEMBLED, "--epochs", "1", "--max-steps", "150", "--val-samples", "500", "--threads", "1",
                 "--out", assembled])
        check(p.returncode == 0, "trained an assembled network (dws, ir, hard-swish, avgpool) for 150 steps")
        rng = np.random.default_rng(0)
        x = rng.random((7, 1, 28, 28), dtype=np.float32)
        xin = os.path.join(tmp, "x.f32")
        x.astype("<f4").tofile(xin)
        for name, native in (("teacher", teacher), ("assembled", assembled)):
            if not os.path.exists(native):
                continue
            exported = os.path.join(tmp, name + ".onnx")
            p = run([distill, "export", "--model", native, "--out", exported])
            check(p.returncode == 0, f"{name}: hant-distill export")
            if p.returncode:
                continue
            try:
                onnx.checker.check_model(onnx.load(exported), full_check=True)
                check(True, f"{name}: onnx.checker accepts the export")
            except Exception as e:  # noqa: BLE001 - report any checker failure
                check(False, f"{name}: onnx.checker rejects the export: {e}")
            p = run([distill, "export", "--model", native, "--out", exported + ".again"])
            same = p.returncode == 0 and open(exported, "rb").read() == open(exported + ".again", "rb").read()
            check(same, f"{name}: exporting twice gives the same bytes")
            yh, yo = os.path.join(tmp, name + ".hant.f32"), os.path.join(tmp, name + ".ort.f32")
            ok = run([onnx_run, "run", native, xin, yh]).returncode == 0
            ok = ok and run(["node", ort_js, "run", exported, xin, yo]).returncode == 0
            check(ok, f"{name}: ran in hant and ONNX Runtime")
            if ok:
                a, b = np.fromfile(yh, "<f4"), np.fromfile(yo, "<f4")
                scale = max(float(np.abs(a).max()), 1e-6)
                diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
                check(diff <= TOL * scale, f"{name}: max |hant - ORT| = {diff:.3g} (scale {scale:.3g})")
            evals = {}
            for label, cmd in (("hant native", [distill, "eval", "--model", native, "--data", data, "--json"]),
                               ("hant onnx", [distill, "eval", "--model", exported, "--data", data, "--json"]),
                               ("hant normalised", [distill, "eval", "--model", exported, "--data", data,
                                                    "--mean", "0", "--std", "1", "--json"]),
                               ("ORT", ["node", ort_js, "fmnist", exported, data])):
                p = run(cmd)
                check(p.returncode == 0, f"{name}: {label} evaluates the test split")
                if p.returncode == 0:
                    evals[label] = json.loads(p.stdout)
            if len(evals) == 4:
                h, o = evals["hant native"], evals["ORT"]
                print(f"     {name}: accuracy hant {h['accuracy']:.4f}, ORT {o['accuracy']:.4f}; "
                      f"loss hant {h['loss']:.4f}, ORT {o['loss']:.4f}; n {h['n']}")
                check(h["n"] == o["n"] == 10000, f"{name}: all 10,000 test images")
                check(abs(h["accuracy"] - o["accuracy"]) <= ACC_TOL,
                      f"{name}: |accuracy hant - ORT| = {abs(h['accuracy'] - o['accuracy']):.4f} <= {ACC_TOL}")
                check(evals["hant onnx"]["accuracy"] == h["accuracy"], f"{name}: eval reads the ONNX export alike")
                check(evals["hant normalised"]["accuracy"] == evals["hant onnx"]["accuracy"] and
                      abs(evals["hant normalised"]["loss"] - evals["hant onnx"]["loss"]) < 1e-6,
                      f"{name}: --mean 0 --std 1 changes nothing")
        # Channel moves as hant writes them (Concat, Slice, the shuffle's Reshape-Transpose-Reshape, ceil-mode
        # MaxPool) mean the same in ONNX Runtime: a random network of ShuffleNet units, a fire and an Inception
        # module.
        moves = os.path.join(tmp, "moves.hant")
        ok = run([onnx_run, "make", CHANNEL_MOVES, "5", moves]).returncode == 0
        ok = ok and run([onnx_run, "export", moves, moves + ".onnx"]).returncode == 0
        yh, yo = moves + ".hant.f32", moves + ".ort.f32"
        ok = ok and run([onnx_run, "run", moves, xin, yh]).returncode == 0
        ok = ok and run(["node", ort_js, "run", moves + ".onnx", xin, yo]).returncode == 0
        check(ok, "channel moves: built, exported, run in hant and ONNX Runtime")
        if ok:
            a, b = np.fromfile(yh, "<f4"), np.fromfile(yo, "<f4")
            scale = max(float(np.abs(a).max()), 1e-6)
            diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
            check(diff <= TOL * scale, f"channel moves: max |hant - ORT| = {diff:.3g} (scale {scale:.3g})")
        p = run([distill, "eval", "--model", teacher, "--data", data, "--std", "0"])
        check(p.returncode == 2 and "--std" in p.stderr, "eval --std 0 is a usage error")
        p = run([distill, "inspect", teacher, "--json"])
        ok = p.returncode == 0
        if ok:
            info = json.loads(p.stdout)
            ok = info["slots"] and all(k in info["slots"][0] for k in ("kind", "arch", "in", "out", "macs", "params"))
        check(bool(ok), "inspect --json lists the teacher's slots")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
