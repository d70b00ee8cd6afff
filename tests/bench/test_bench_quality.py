# SPDX-License-Identifier: MIT
# test_bench_quality.py: the quality benchmark end to end at toy size: a tiny teacher, its library with modelled
# costs on three devices, then bench_quality. Checks every budget gets a row per method, every chosen network is
# within its budget, and no baseline reaches more of hant's objective than hant's exact optimum. The figures themselves mean nothing
# at this size; docs/results.md has the full-size run.
import json
import os
import shutil
import subprocess
import sys
import tempfile

DISTILL, BENCH = sys.argv[1:3]
T = tempfile.mkdtemp(prefix="hant-quality-test.")
LIB, TEACHER, OUT = (os.path.join(T, n) for n in ("lib.db", "teacher.hant", "q.json"))
DEVICES = ["cortex-m7", "rpi4", "jetson-nano"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402


def run(args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
    return r


try:
    steps = [[DISTILL, "teacher", "--arch", "tiny", "--epochs", "1", "--samples", "2000", "--val-samples", "300",
              "--out", TEACHER],
             [DISTILL, "build", "--teacher", TEACHER, "--db", LIB, "--samples", "256", "--val-samples", "300",
              "--epochs", "1", "--epochs-teacher", "1", "--jobs", "1"]]
    steps += [[DISTILL, "profile", "--db", LIB, "--device", d] for d in DEVICES]
    for args in steps:
        if not check(run(args).returncode == 0, " ".join(args[1:3])):
            sys.exit(1)
    r = run([BENCH, "--db", LIB, "--devices", ",".join(DEVICES), "--epochs", "1", "--finetune-samples", "300",
             "--test-samples", "300", "--json", OUT])
    check(r.returncode == 0, "bench_quality exit %d" % r.returncode)
    check(r.stdout.count("\n| ") >= 3 * 6 * 4, "one table row per device, budget and method:\n" + r.stdout[-1500:])
    res = json.load(open(OUT))
    rows = res["rows"]
    check(len(rows) == 3 * 6 * 4, "%d JSON rows, expected 72" % len(rows))
    check(0 < res["teacher_test_accuracy"] <= 1 and res["test_images"] == 300, "teacher figures: %s" %
          {k: v for k, v in res.items() if k != "rows"})
    budgets = {}
    for row in rows:
        budgets.setdefault((row["device"], row["kind"], row["divisor"]), {})[row["method"]] = row
    check(len(budgets) == 18, "%d budgets, expected 18" % len(budgets))
    for key, m in sorted(budgets.items()):
        check(set(m) == {"hant", "uniform", "random", "greedy"}, "%s: methods %s" % (key, sorted(m)))
        for name, row in m.items():
            if not row["feasible"]:
                check(row["note"] != "", "%s %s infeasible without a reason" % (key, name))
                continue
            spent = row["energy_mj"] if key[1] == "energy_mj" else row["latency_ms"]
            check(spent <= row["budget"] * (1 + 1e-6), "%s %s spends %g of %g" % (key, name, spent, row["budget"]))
            acc = row["test_accuracy"]
            check(0 <= acc["assembled"] <= 1 and 0 <= acc["finetune_1"] <= 1, "%s %s accuracies %s" % (key, name, acc))
        h = m["hant"]
        if h["feasible"]:
            for name in ("random", "greedy"):
                if m[name]["feasible"]:
                    check(m[name]["objective"] <= h["objective"] + 1e-9,
                          "%s: %s reaches objective %.4f above hant's %.4f" % (key, name, m[name]["objective"],
                                                                                h["objective"]))
        # The teacher fits a budget of half its cost nowhere, so hant must have chosen something cheaper.
        check(not h["feasible"] or h["network"] != "", "%s: hant row without a network" % (key,))
    # Resuming: a second run with the same settings evaluates nothing again and reports the same accuracies.
    RES = os.path.join(T, "resume.tsv")
    one = [BENCH, "--db", LIB, "--devices", "cortex-m7", "--kinds", "energy", "--divisors", "2,4", "--epochs", "1",
           "--finetune-samples", "300", "--test-samples", "300", "--resume", RES]
    r1 = run(one + ["--json", OUT + "1"])
    r2 = run(one + ["--json", OUT + "2"])
    n_lines = sum(1 for _ in open(RES)) if os.path.exists(RES) else 0
    check(r1.returncode == 0 and r2.returncode == 0 and n_lines >= 1, "resumable runs: exit %d, %d, %d lines"
          % (r1.returncode, r2.returncode, n_lines))
    check("%d networks already evaluated" % n_lines in r2.stderr and "ep " not in r2.stderr,
          "the second run evaluated again: " + r2.stderr[-500:])
    acc = [[row["test_accuracy"] for row in json.load(open(f))["rows"]] for f in (OUT + "1", OUT + "2")]
    check(acc[0] == acc[1], "resumed accuracies differ: %s vs %s" % tuple(acc))
    r3 = run(one[:-2] + ["--epochs", "2", "--resume", RES, "--no-train"])
    check(r3.returncode == 0 and "0 networks already evaluated" in r3.stderr,
          "other settings reused a network: " + r3.stderr[-300:])

    r = run([BENCH, "--db", os.path.join(T, "missing.db")])
    check(r.returncode == 1 and "missing.db" in r.stderr, "a missing library is named: " + r.stderr[-300:])
    r = run([BENCH, "--db", LIB, "--kinds", "power"])
    check(r.returncode == 2 and "power" in r.stderr, "an unknown kind is refused: " + r.stderr[-300:])
finally:
    shutil.rmtree(T, ignore_errors=True)
print("test_bench_quality: %d passed, %d failed" % (checks.passed, checks.failed))
sys.exit(1 if checks.failed else 0)
