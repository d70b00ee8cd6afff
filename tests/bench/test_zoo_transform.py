# SPDX-License-Identifier: MIT
"""The zoo end to end at toy size: tests/bench/zoo_transform.py on mobilenet_v3_small (squeeze-and-excitation
inverted residuals, hard-swish), trained for 10 steps, a quick build cut to one candidate per family on 128
training images, profiled on rpi4, transformed at half the teacher's energy by the real hantd and hant-client, and the
export evaluated by ONNX Runtime on the first 1000 test images.

usage: test_zoo_transform.py HANT_DISTILL HANTD HANT_CLIENT SOURCE_ROOT
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402

N = 1000


def main():
    distill, hantd, client, root = sys.argv[1:5]
    p = subprocess.run([sys.executable, os.path.join(root, "tests", "bench", "zoo_transform.py"), "--distill", distill,
                        "--hantd", hantd, "--client", client, "--arch", "mobilenet_v3_small", "--steps", "10",
                        "--build-args", "--preset quick --per-family 1 --samples 128 --val-samples 100",
                        "--eval-samples", str(N), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=300)
    sys.stderr.write(p.stderr)
    check(p.returncode == 0, f"zoo_transform.py exit {p.returncode}")
    rows = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
    if not check(len(rows) == 1, f"one row for one architecture, got {len(rows)}"):
        return 1
    r = rows[0]
    print(json.dumps(r), flush=True)
    check(r["error"] is None, f"no step failed: {r['error']}")
    if r["error"] is None:
        check(r["slots"] == 15, f"mobilenet_v3_small has 15 slots, got {r['slots']}")
        check(r["candidates"] > r["slots"], f"more candidates ({r['candidates']}) than slots ({r['slots']})")
        check(r["test_images"] == N, f"hant evaluated {r['test_images']} test images, asked for {N}")
        check(0 < r["energy_mj"] <= 0.5 * r["teacher_energy_mj"] + 1e-9,
              f"chosen energy {r['energy_mj']} mJ within half the teacher's {r['teacher_energy_mj']} mJ")
        # PyTorch, hant and ONNX Runtime read the same teacher on the same images.
        check(abs(r["teacher_test_accuracy"] - r["torch_teacher_test_accuracy"]) <= 1.0 / N + 1e-9,
              f"teacher: hant {r['teacher_test_accuracy']} against PyTorch {r['torch_teacher_test_accuracy']}")
        check(abs(r["teacher_test_accuracy"] - r["ort_teacher_test_accuracy"]) <= 1e-3 + 1e-9,
              f"teacher: hant {r['teacher_test_accuracy']} against ONNX Runtime {r['ort_teacher_test_accuracy']}")
        check(abs(r["test_accuracy"] - r["ort_test_accuracy"]) <= 1e-3 + 1e-9,
              f"chosen: hant {r['test_accuracy']} against ONNX Runtime {r['ort_test_accuracy']}")
        # Ten steps already lift the teacher off chance (10 %), so the accuracies compared are not a constant.
        check(r["torch_teacher_test_accuracy"] > 0.2, f"teacher above chance: {r['torch_teacher_test_accuracy']}")
    print(f"zoo_transform: {checks.passed} checks passed, {checks.failed} failed", file=sys.stderr)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
