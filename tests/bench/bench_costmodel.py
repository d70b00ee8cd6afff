#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The host latency models against measurement, on a copy of a library: measures every candidate and a fresh
# kernel table in one session, then prints the kernel model's and the calibrated roofline's held-out error
# (overall and by family) with the load average before and after. Run it on a quiet machine.
#   python3 tests/bench/bench_costmodel.py [--db LIBRARY.db] [--passes 3] [--threads 1] [--sweep-scale 1]
# Without --db it builds the resnet10 library of docs/costs.md first (a few minutes).
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(cmd):
    print("$ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout


def figures(errs):
    a = sorted(abs(e) for e in errs)
    if not a:
        return "n = 0"
    p90 = a[min(len(a) - 1, int(0.9 * len(a)))]
    return "median %5.1f%%  p90 %5.1f%%  within 10%% %5.1f%%  (n = %d)" % (
        100 * statistics.median(a), 100 * p90, 100 * sum(e <= 0.10 for e in a) / len(a), len(a))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", help="library to profile (a copy is used; default: build the resnet10 one)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build directory")
    ap.add_argument("--passes", default="3")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--sweep-scale", default="1")
    a = ap.parse_args()
    distill = os.path.join(a.build, "distill", "hant-distill")
    tmp = tempfile.mkdtemp(prefix="hant-costmodel-")
    try:
        db = os.path.join(tmp, "library.db")
        if a.db:
            shutil.copy(a.db, db)
        else:
            teacher = os.path.join(tmp, "R10.hant")
            run([distill, "teacher", "--arch", "resnet10", "--epochs", "1", "--max-steps", "3", "--samples", "2000",
                 "--val-samples", "200", "--out", teacher])
            run([distill, "build", "--teacher", teacher, "--db", db, "--samples", "128", "--val-samples", "100",
                 "--jobs", "1"])
        res = os.path.join(tmp, "residuals.csv")
        before = load()
        out = json.loads(run([distill, "profile", "--db", db, "--device", "host", "--remeasure-kernels", "--passes",
                              a.passes, "--threads", a.threads, "--sweep-scale", a.sweep_scale, "--residuals", res,
                              "--json", "-q"]))
        after = load()
        km, cal = out["kernel_model"], out["calibration"]
        print("machine   %s, %s thread(s); load average before %s, after %s" % (km["cpu"], km["threads"], before,
                                                                                after))
        print("library   %s: %d candidates; kernel table %d kernels; plan fixed cost %.3f us %+.3f us per kernel" % (
            a.db or "resnet10 (built)", out["candidates"], km["kernels"], km["fixed_us"], km["per_kernel_us"]))
        print("          %d table rows are shapes the library's candidates run; %.1f per fold left out when their "
              "candidates are held out" % (km["shared_rows"], km["held_rows_per_fold"]))
        e = km["held_out_error"]
        print("kernel model, held-out     median %5.1f%%  p90 %5.1f%%  within 10%% %5.1f%%  (n = %d)" % (
            100 * e["median"], 100 * e["p90"], 100 * e["within10"], e["n"]))
        e = cal["held_out_error"]
        print("roofline, 5-fold held-out  median %5.1f%%  p90 %5.1f%%  within 10%% %5.1f%%  (n = %d)" % (
            100 * e["median"], 100 * e["p90"], 100 * e["within10"], e["n"]))
        for c in km["classes"]:
            l = c["leave_one_out_error"]
            print("  kernels %-9s %4d measured, %-8s base, block %2d, %d neighbours, x%.3f in plans; "
                  "leave-one-out median %5.1f%% within 10%% %5.1f%%" % (
                      c["class"], c["kernels"], c["form"], c["channel_block"], c["neighbours"], c["compose"],
                      100 * l["median"], 100 * l["within10"]))
        fam = {}
        with open(res) as f:
            for r in csv.DictReader(f):
                if r.get("kernel_ms"):
                    fam.setdefault(r["family"], []).append(float(r["kernel_ms"]) / float(r["measured_ms"]) - 1)
        for name in sorted(fam):
            print("  family %-10s kernel model %s" % (name, figures(fam[name])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
