# SPDX-License-Identifier: MIT
"""int8 QDQ export against ONNX Runtime: hant quantises a network, writes the QDQ model, runs its own int8
evaluation, and ONNX Runtime (npm onnxruntime-node, CPU) runs the exported file on the same test images.

usage: test_qdq.py HANT_DISTILL QDQ_RUN SOURCE_ROOT

1. The default teacher (models/teacher-fmnist.onnx), calibrated on 300 training images: the file passes
   onnx.checker, every quantised conv and add is in QDQ form, and hant's int8 logits equal ORT's bit for bit
   (all convolutions, adds and the pooling run as ORT's QLinearConv, QLinearAdd and QLinearGlobalAveragePool
   do; tolerance: 0.2 % of rows may differ, predictions agree on >= 99.5 %). On a CPU without VNNI, ORT's
   own int8 sums saturate (int16 pairs), so there only the predictions are compared.
2. A small random network with the operators that run in float32 between DequantizeLinear and QuantizeLinear
   (hard-swish, ReLU6, average pooling) and max pooling: ORT fuses some of those into int8 kernels whose
   rounding hant does not mirror, so a value can land one quantisation step away; predictions agree on >= 99 %
   and logits within 3 % of their scale.
3. `hant-distill export --precision int8` on the teacher end to end with a limited image count: JSON fields,
   onnx.checker, and ORT's test accuracy on 1000 images within 1 point of the float32 teacher's.
4. Import: hant reads the QDQ file back as its float network (weights dequantised, the ReLUs the uint8
   saturation stands for restored), and refuses malformed quantisation parameters (zero or negative scale,
   zero point out of range, axis out of range, scale length not matching the axis, zero point length not
   matching the scale) with a message naming the node.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from checks import check  # noqa: E402
import checks  # noqa: E402

# Integer-only operators whose convolutions read inputs with a zero point other than 0 (outputs without an
# activation): dense, grouped and depthwise, padded and strided, so oneDNN's sums are corrected for the zero point
# at every border position. Bit-exact with ONNX Runtime like the teacher.
ZP = ("input 1x28x28; conv 8 s=2 act=none; conv 16 k=3 s=2 g=2 act=none; conv 16 k=3 g=16 act=none; conv 24 k=1;"
      " gap; linear 10")
SMALL = ("input 1x28x28; conv 8 s=2 act=hswish; dws 16; ir 16 e=2 act=relu6; ir 24 e=2 s=2 k=5 act=hswish;"
         " avgpool k=3 s=1 p=1; conv 32 k=1 act=relu6; maxpool k=2 s=2; res 32; gap; linear 10")
N_IMAGES = 500


def cpu_has_vnni():
    """ONNX Runtime's uint8 x int8 kernels sum exactly only with VNNI: without it (AVX2, AVX-512 before VNNI)
    they add products in int16 pairs, which saturate for large activations and weights (its quantisation
    documentation recommends reduce_range there). hant's sums are exact on every CPU (test_conv_naive), so
    bit-exactness with ORT is checked where ORT is exact, and agreement of predictions elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return True
    return " avx512_vnni" in flags or " avx_vnni" in flags


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.stderr.write(f"$ {' '.join(cmd)}\n{p.stdout}{p.stderr}\n")
    return p


def test_images(data, n):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
        path = os.path.join(data, name)
        if os.path.exists(path):
            raw = open(path, "rb").read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return np.frombuffer(raw[16:16 + n * 784], np.uint8).astype(np.float32) / 255.0
    raise FileNotFoundError(f"no t10k-images in {data}")


def compare(qdq_run, ort_js, tmp, tag, model, x):
    """Quantises model, runs hant and ORT on x; returns (hant logits, ORT logits, kinds) or None."""
    onnx_path, xin = os.path.join(tmp, tag + ".onnx"), os.path.join(tmp, tag + "-in.f32")
    hout, oout = os.path.join(tmp, tag + "-hant.f32"), os.path.join(tmp, tag + "-ort.f32")
    x.tofile(xin)
    p = run([qdq_run, model, "300", "minmax", onnx_path, xin, hout])
    if not check(p.returncode == 0, f"{tag}: hant quantises, exports and runs in int8"):
        return None
    kinds = json.loads(p.stdout)
    m = onnx.load(onnx_path)
    try:
        onnx.checker.check_model(m, full_check=True)
        ok = True
    except Exception as e:  # noqa: BLE001 - any checker complaint fails the check
        print(e, file=sys.stderr)
        ok = False
    check(ok, f"{tag}: the QDQ model passes onnx.checker")
    check(m.opset_import[0].version == 13, f"{tag}: opset 13")
    ops = [n.op_type for n in m.graph.node]
    check("Relu" not in ops or tag != "teacher", f"{tag}: ReLUs absorbed into the quantised outputs")
    w = [t for t in m.graph.initializer if t.name.endswith(".weight_quantized")]
    check(len(w) == kinds["int"] and all(t.data_type == onnx.TensorProto.INT8 for t in w),
          f"{tag}: every conv and linear weight is an int8 initializer ({len(w)} of {kinds['int']})")
    check(all(n.attribute and n.attribute[0].i == 0 for n in m.graph.node
              if n.op_type == "DequantizeLinear" and n.output[0].endswith(".weight")),
          f"{tag}: weights dequantised per output channel (axis 0)")
    p = run(["node", ort_js, "run", onnx_path, xin, oout])
    if not check(p.returncode == 0, f"{tag}: ONNX Runtime runs the QDQ model"):
        return None
    n = x.size // 784
    return np.fromfile(hout, np.float32).reshape(n, -1), np.fromfile(oout, np.float32).reshape(n, -1), kinds


def refusals(distill, data, tmp, qdq_file):
    p = run([distill, "eval", "--model", qdq_file, "--data", data, "--samples", "500", "--json"])
    if check(p.returncode == 0, "hant imports its QDQ export"):
        a = json.loads(p.stdout)["accuracy"]
        check(a > 0.85, f"the imported QDQ teacher classifies ({a:.4f} on 500 test images)")
    base = onnx.load(qdq_file)

    def tensor(m, name):
        return next(t for t in m.graph.initializer if t.name == name)

    def node(m, name):
        return next(n for n in m.graph.node if n.name == name)

    def set_floats(t, vals):
        t.ClearField("raw_data")
        t.ClearField("float_data")
        t.float_data.extend(vals)

    def zero_scale(m):
        t = tensor(m, "n1.weight_scale")
        v = list(np.frombuffer(t.raw_data, np.float32))
        v[3] = 0.0
        set_floats(t, v)
        return "n1.weight_DQ", "scales must be positive"

    def negative_scale(m):
        set_floats(tensor(m, "input_scale"), [-1.0 / 255])
        return "input_Q", "scales must be positive"

    def zp_range(m):
        t = tensor(m, "n3_zp")
        t.ClearField("raw_data")
        t.int32_data.extend([300])
        return "n3_Q", "outside uint8's 0..255"

    def axis_range(m):
        n = node(m, "n1.weight_DQ")
        n.attribute[0].i = 4
        return "n1.weight_DQ", "axis 4 is outside"

    def axis_mismatch(m):
        n = node(m, "n3.weight_DQ")  # [16, 16, 3, 3] weights: axis 2 has 3 values, the scale 16
        n.attribute[0].i = 2
        return "n3.weight_DQ", "has 16 values but axis 2"

    def zp_length(m):
        t = tensor(m, "n1.weight_zp")
        t.dims[0] = 15
        t.raw_data = t.raw_data[:15]
        return "n1.weight_DQ", "zero point 'n1.weight_zp' has 15 values, the scale 16"

    for case in (zero_scale, negative_scale, zp_range, axis_range, axis_mismatch, zp_length):
        m = onnx.ModelProto()
        m.CopyFrom(base)
        node_name, what = case(m)
        path = os.path.join(tmp, case.__name__ + ".onnx")
        onnx.save(m, path)
        p = run([distill, "eval", "--model", path, "--data", data, "--samples", "10"])
        check(p.returncode == 1 and f"'{node_name}'" in p.stderr and what in p.stderr,
              f"import refuses {case.__name__} naming node {node_name} and '{what}': {p.stderr.strip()}")


def main():
    distill, qdq_run, root = sys.argv[1:4]
    ort_js = os.path.join(root, "tests", "onnx", "ort_run.mjs")
    if not os.path.isdir(os.path.join(root, "tests", "onnx", "node_modules", "onnxruntime-node")):
        print("onnxruntime-node is not installed: run scripts/install-ort.sh", file=sys.stderr)
        return 1
    data = os.environ.get("HANT_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    teacher = os.path.join(root, "models", "teacher-fmnist.onnx")
    x = test_images(data, N_IMAGES)
    vnni = cpu_has_vnni()
    if not vnni:
        print("this CPU has no VNNI: ONNX Runtime's int8 sums saturate here, so hant's exact logits are compared"
              " with ORT's by prediction only")
    with tempfile.TemporaryDirectory() as tmp:
        r = compare(qdq_run, ort_js, tmp, "teacher", teacher, x)
        if r:
            h, o, kinds = r
            exact = float(np.mean(np.all(h == o, axis=1)))
            agree = float(np.mean(h.argmax(1) == o.argmax(1)))
            print(f"teacher: {exact:.4f} of rows bit-exact, predictions agree {agree:.4f}, "
                  f"max |diff| {np.abs(h - o).max():.3g}")
            check(kinds["add"] == 5 and kinds["gap"] == 1 and kinds["float"] == 0,
                  f"teacher: convs, adds and the pooling run in integer arithmetic ({kinds})")
            if vnni:
                check(exact >= 0.998, f"teacher: int8 logits equal ORT's bit for bit on {exact:.4f} of images")
            check(agree >= 0.995, f"teacher: predictions agree on {agree:.4f} of images")
        r = compare(qdq_run, ort_js, tmp, "zp", "arch:" + ZP, x)
        if r:
            h, o, kinds = r
            exact = float(np.mean(np.all(h == o, axis=1)))
            print(f"zp: {exact:.4f} of rows bit-exact, max |diff| {np.abs(h - o).max():.3g}")
            check(kinds["float"] == 0, f"zp: every node in integer arithmetic ({kinds})")
            # An untrained network's logits lie close together: without VNNI, ORT's saturated sums move its
            # predictions (93.6 % agree on an AVX2 EPYC), so there is nothing to compare them by.
            if vnni:
                check(exact >= 0.998, f"zp: int8 logits equal ORT's bit for bit on {exact:.4f} of images")
        r = compare(qdq_run, ort_js, tmp, "small", "arch:" + SMALL, x)
        if r:
            h, o, kinds = r
            agree = float(np.mean(h.argmax(1) == o.argmax(1)))
            bound = 0.03 * float(np.abs(o).max())
            diff = float(np.abs(h - o).max())
            print(f"small: predictions agree {agree:.4f}, max |diff| {diff:.3g} (bound {bound:.3g})")
            check(kinds["float"] > 0 and kinds["maxpool"] == 1, f"small: float-only and pooling nodes ({kinds})")
            check(agree >= 0.99, f"small: predictions agree on {agree:.4f} of images")
            if vnni:
                check(diff <= bound, f"small: logits within 3 % of their scale ({diff:.3g} > {bound:.3g})")

        out = os.path.join(tmp, "teacher-int8.onnx")
        p = run([distill, "export", "--model", teacher, "--out", out, "--precision", "int8", "--calib-images", "200",
                 "--val-images", "300", "--data", data, "--json"])
        if check(p.returncode == 0, "export --precision int8 runs on the teacher"):
            j = json.loads(p.stdout)
            check(j["precision"] == "int8" and j["calib"] in ("minmax", "percentile") and j["calib_images"] == 200
                  and j["val_images"] == 300 and 0.8 < j["val_accuracy_int8"] <= 1, f"export JSON: {j}")
            by = j.get("val_accuracy_by_calib", {})
            check(set(by) == {"minmax", "percentile"} and j["val_accuracy_int8"] == max(by.values())
                  and (j["calib"] == "minmax" or by["percentile"] > by["minmax"]),
                  f"the method kept is the best on validation, ties to min-max: {by}")
            try:
                onnx.checker.check_model(onnx.load(out), full_check=True)
                ok = True
            except Exception as e:  # noqa: BLE001
                print(e, file=sys.stderr)
                ok = False
            check(ok, "the exported QDQ file passes onnx.checker")
            po = run(["node", ort_js, "fmnist", out, data, "--samples", "1000"])
            pf = run([distill, "eval", "--model", teacher, "--data", data, "--samples", "1000", "--json"])
            if check(po.returncode == 0 and pf.returncode == 0, "ORT and hant evaluate 1000 test images"):
                a8, a32 = json.loads(po.stdout)["accuracy"], json.loads(pf.stdout)["accuracy"]
                print(f"export: ORT int8 {a8:.4f}, hant fp32 {a32:.4f} on 1000 test images")
                check(abs(a8 - a32) <= 0.01, f"int8 accuracy {a8:.4f} within 1 point of fp32 {a32:.4f}")
            refusals(distill, data, tmp, out)
        p = run([distill, "export", "--model", teacher, "--out", out, "--precision", "int4"])
        check(p.returncode == 2 and "--precision" in p.stderr, "export --precision int4 is a usage error")
        p = run([distill, "export", "--model", teacher, "--out", out, "--precision", "int8", "--calib", "entropy",
                 "--data", data])
        check(p.returncode == 2 and "--calib" in p.stderr, "export --calib entropy is a usage error")
    print(f"{checks.passed} checks passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
