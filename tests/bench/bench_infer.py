#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Inference latency, hant's runtime against ONNX Runtime (CPU), on the same exported ONNX models.

usage: /usr/bin/python3 tests/bench/bench_infer.py [--build DIR] [--rounds N] [--json]

Models: the teacher (models/teacher-fmnist.hant, or a random-weight resnet10, the default teacher's
architecture, when it is absent: latency does not depend on the weights) and one transformed network (resnet10
with four of its five residual blocks replaced by depthwise-separable and inverted-residual ones). Both are exported with `hant-distill export`; hant then reads
the exported .onnx file back, so both runtimes run the same model. For batch 1 and 64, at 1 and 2 threads
(hant: kernel threads, its --threads; ORT: intraOpNumThreads, sequential execution), each round runs hant then ORT, each timing
the median of many runs after a warm-up; the table shows the median over rounds of those medians, the spread
of the rounds (min-max), and hant / ORT. Needs the build (hant-distill, bench_infer, onnx_run) and
tests/onnx/node_modules (scripts/install-ort.sh).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TRANSFORMED = ("input 1x28x28; conv 16; dws 16; ir 32 e=2 s=2; res 32; ir 64 e=2 s=2; dws 64; gap; linear 10")
CONFIGS = [(1, 1), (1, 2), (64, 1), (64, 2)]  # (batch, threads)
RUNS = {1: (400, 40), 64: (40, 5)}  # batch -> (timed runs, warm-up runs)


def sh(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"bench_infer: {' '.join(cmd)} failed:\n{p.stderr}")
    return p.stdout


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description="hant vs ONNX Runtime inference latency")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    distill = os.path.join(a.build, "distill", "hant-distill")
    bench = os.path.join(a.build, "tests", "bench", "bench_infer")
    onnx_run = os.path.join(a.build, "tests", "onnx", "onnx_run")
    ort_js = os.path.join(ROOT, "tests", "bench", "ort_bench.mjs")
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        teacher = os.path.join(ROOT, "models", "teacher-fmnist.hant")
        teacher_label = "teacher (models/teacher-fmnist.hant)"
        if not os.path.exists(teacher):
            teacher = os.path.join(tmp, "teacher.hant")
            sh([onnx_run, "make", "resnet10", "1", teacher])
            teacher_label = "teacher stand-in (resnet10, random)"
        transformed = os.path.join(tmp, "transformed.hant")
        sh([onnx_run, "make", TRANSFORMED, "2", transformed])
        models = []
        for label, native in ((teacher_label, teacher), ("transformed (dws/ir blocks)", transformed)):
            path = native[:-5] + ".onnx" if native.startswith(tmp) else os.path.join(tmp, "teacher.onnx")
            sh([distill, "export", "--model", native, "--out", path])
            info = json.loads(sh([distill, "inspect", path, "--json"]))
            models.append((label, path, info["macs"], info["params"]))
        rows = []
        for label, path, macs, params in models:
            for batch, threads in CONFIGS:
                runs, warm = RUNS[batch]
                h, o = [], []
                for _ in range(a.rounds):
                    out = subprocess.run([bench, path, str(batch), str(threads), str(runs), str(warm)],
                                         capture_output=True, text=True, check=True).stdout
                    h.append(json.loads(out)["median_ms"])
                    o_out = json.loads(sh(["node", ort_js, path, str(batch), str(threads), str(runs), str(warm)]))
                    o.append(o_out["median_ms"])
                    ort_version = o_out["runtime"]
                hm, om = statistics.median(h), statistics.median(o)
                rows.append({"model": label, "macs": macs, "params": params, "batch": batch, "threads": threads,
                             "hant_ms": hm, "hant_spread": [min(h), max(h)], "ort_ms": om,
                             "ort_spread": [min(o), max(o)], "ratio": hm / om})
    load1 = os.getloadavg()
    machine = f"{cpu_name()}, {os.cpu_count()} cores, load average {load0[0]:.1f} before, {load1[0]:.1f} after"
    if a.json:
        print(json.dumps({"machine": machine, "ort": ort_version, "rounds": a.rounds, "rows": rows}, indent=1))
        return 0
    print(f"machine: {machine}")
    print(f"reference: {ort_version} (CPU execution provider, graph optimisation 'all', sequential)")
    print(f"each cell: median over {a.rounds} alternating rounds of the median of {RUNS[1][0]} (batch 1) or "
          f"{RUNS[64][0]} (batch 64) runs after warm-up; [min-max] over rounds\n")
    print(f"{'model':<44} {'batch':>5} {'thr':>3} {'hant ms':>22} {'ORT ms':>22} {'hant/ORT':>8}")
    for r in rows:
        hs = f"{r['hant_ms']:.3f} [{r['hant_spread'][0]:.3f}-{r['hant_spread'][1]:.3f}]"
        os_ = f"{r['ort_ms']:.3f} [{r['ort_spread'][0]:.3f}-{r['ort_spread'][1]:.3f}]"
        name = f"{r['model']} {r['macs'] / 1e6:.1f} MMAC"
        print(f"{name:<44} {r['batch']:>5} {r['threads']:>3} {hs:>22} {os_:>22} {r['ratio']:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
