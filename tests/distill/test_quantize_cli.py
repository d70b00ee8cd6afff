#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_quantize_cli.py: the real hant-distill quantize on a real library: every quantisable candidate gets an int8 row
# whose score is its int8 accuracy minus the int8 teacher's, and some differ from the fp32 scores; a candidate with a
# mul (no int8 form) gets none and is named; killed with SIGKILL mid-way and rerun, it stores the same rows as one
# run; a library of schema version 6 migrates with no int8 rows; the real hantd then answers an int8 device with the
# int8 scores and an fp32 device (or an int8 one lacking scores) with the fp32 ones, saying which.
#   test_quantize_cli.py HANT_DISTILL HANTD HANT_CLIENT MAKE_MUL_CANDIDATE
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402
import daemon  # noqa: E402 - tests/pylib/daemon.py

HD, HANTD, CLIENT, MAKE_MUL = sys.argv[1:5]
T = tempfile.mkdtemp(prefix="hant-quantize-")
Q = ["--calib-images", "200", "--threads", "1"]

# Everything a row says but its time.
ROWS = "SELECT candidate_id, val_accuracy, score, calib, val_images FROM candidate_int8 ORDER BY candidate_id"
META = "SELECT key, value FROM meta WHERE key LIKE 'int8.%' AND key != 'int8.created' ORDER BY key"


def run(args, timeout=300):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def db(path, sql, args=()):
    con = sqlite3.connect(path)
    try:
        rows = con.execute(sql, args).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def transform(dbpath, name, device, extra=()):
    with daemon.hantd(HANTD, dbpath, T, name) as sock:
        r = run([CLIENT, "--socket", sock, "transform", "--device", device, "--budget", "50%energy", "--json"] +
                list(extra), 300)
        check(r.returncode == 0, "%s: transform on %s failed: %s" % (name, device, r.stderr[-300:]))
        if extra:  # the answer, then the job's last state
            return (json_lines(r.stdout) if r.returncode == 0 else [{}]), ""
        text = run([CLIENT, "--socket", sock, "transform", "--device", device, "--budget", "50%energy"], 120)
        return (json.loads(r.stdout) if r.returncode == 0 else {}), text.stdout


def add_mul_candidate(path):
    """Puts a candidate with a squeeze-and-excitation gate (a mul) in the library's second slot."""
    (sid, c, h, w, oc), = db(path, "SELECT id, in_c, in_h, in_w, out_c FROM slot WHERE idx = 1")
    f = os.path.join(T, "mul.hant")
    r = run([MAKE_MUL, "input %dx%dx%d; se_ir %d e=1 s=2 se=4" % (c, h, w, oc), f])
    check(r.returncode == 0, "the mul candidate was written: " + r.stderr[-300:])
    with open(f, "rb") as fh:
        blob = fh.read()
    db(path, "INSERT INTO candidate (slot_id, key, family, arch, hparams, init, seed, weights, params, macs, "
             "peak_act_bytes, loss_init, loss_final, val_accuracy, score, train_samples, train_seconds, cpu_seconds, "
             "created) VALUES (?, 'se_ir mul', 'kernel', 'se_ir', '{}', 'random', 0, ?, 0, 1000, 0, 1, 1, 0.1, -0.1, "
             "0, 0, 0, '2026-01-01T00:00:00Z')", (sid, blob))
    return db(path, "SELECT max(id) FROM candidate")[0][0]


def main():
    teacher = os.path.join(T, "teacher.hant")
    # two epochs on 4000 images: a teacher near chance predicts the same classes in int8 and fp32 everywhere
    r = run([HD, "teacher", "--arch", "tiny", "--epochs", "2", "--samples", "4000", "--val-samples", "200", "--out",
             teacher])
    if not check(r.returncode == 0, "teacher training failed: " + r.stderr[-300:]):
        return
    a = os.path.join(T, "a.db")
    r = run([HD, "build", "--teacher", teacher, "--samples", "512", "--val-samples", "200", "--batch", "32",
             "--families", "kernel,dws", "--per-family", "2", "--chunk", "2", "--db", a])
    if not check(r.returncode == 0, "build failed: " + r.stderr[-300:]):
        return
    for dev in ("cortex-m7", "rpi4"):
        r = run([HD, "profile", "--db", a, "--device", dev, "-q"])
        check(r.returncode == 0, "profile %s failed: %s" % (dev, r.stderr[-300:]))
    plain = os.path.join(T, "plain.db")  # without the mul candidate, for the int8 answer
    shutil.copy(a, plain)
    mul = add_mul_candidate(a)
    r = run([HD, "profile", "--db", a, "--device", "cortex-m7", "-q"])  # cost it too, so the solver considers it
    check(r.returncode == 0, "profile cortex-m7 with the mul candidate: " + r.stderr[-300:])
    b, old = os.path.join(T, "b.db"), os.path.join(T, "old.db")
    shutil.copy(a, b)
    shutil.copy(a, old)
    n = db(a, "SELECT count(*) FROM candidate")[0][0]
    v0 = db(a, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'library_version'")[0][0]

    # One uninterrupted run.
    r = run([HD, "quantize", "--db", a, "--json"] + Q)
    check(r.returncode == 0, "quantize exits 0 when a candidate has no int8 form: " + r.stderr[-300:])
    ev = json_lines(r.stdout)
    summ = [e for e in ev if e.get("event") == "summary"]
    if not check(len(summ) == 1, "one summary event: %s" % r.stdout[-300:]):
        return
    s = summ[0]
    check(s["candidates"] == n and s["scored"] == n - 1 and s["measured"] == n - 1 and s["refused"] == 1,
          "every candidate but the mul one scored: %s" % s)
    refused = s["refused_candidates"]
    check(len(refused) == 1 and refused[0]["id"] == mul and "mul" in refused[0]["reason"],
          "the mul candidate is named with the reason: %s" % refused)
    check(len([e for e in ev if e.get("event") == "candidate"]) == n - 1, "a progress event per scored candidate")
    rows = db(a, ROWS)
    check(len(rows) == n - 1 and mul not in [x[0] for x in rows], "a row for every quantisable candidate only")
    meta = dict(db(a, META))
    t8 = float(meta.get("int8.teacher_val_accuracy", "nan"))
    check(meta.get("int8.calib") in ("minmax", "percentile") and meta.get("int8.calib_images") == "200" and
          meta.get("int8.val_images") == "200", "the calibration is recorded: %s" % meta)
    check(all(float(x[2]) == float(x[1]) - t8 for x in rows), "every score is its int8 accuracy minus the teacher's")
    check(all(x[3] == meta.get("int8.calib") and x[4] == 200 for x in rows), "every row names the fixed method")
    fp32 = dict(db(a, "SELECT id, score FROM candidate"))
    differ = [x[0] for x in rows if abs(float(x[2]) - fp32[x[0]]) > 1e-9]
    check(len(differ) >= 1, "some int8 score differs from its fp32 score (measured in int8): %d of %d" %
          (len(differ), len(rows)))
    v1 = db(a, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'library_version'")[0][0]
    check(v1 > v0, "int8 rows bump the library version (%d -> %d)" % (v0, v1))

    # A rerun measures nothing again; the mul candidate is tried and named again.
    r = run([HD, "quantize", "--db", a] + Q)
    check(r.returncode == 0 and "0 measured now" in r.stdout and "1 without an int8 form" in r.stdout and
          "se_ir mul" in r.stdout, "a rerun skips done candidates: " + r.stdout[-400:])
    check(db(a, ROWS) == rows, "a rerun leaves the rows as they were")
    # Asking for another method than the rows were measured with is refused.
    other = "minmax" if meta.get("int8.calib") == "percentile" else "percentile"
    r = run([HD, "quantize", "--db", a, "--calib", other] + Q)
    check(r.returncode == 1 and meta.get("int8.calib", "?") in r.stderr,
          "--calib %s on a library quantised with %s is refused naming it: %s" % (other, meta.get("int8.calib"),
                                                                                r.stderr[-300:]))
    r = run([HD, "quantize", "--db", a, "--calib", "median"])
    check(r.returncode == 2 and "--calib" in r.stderr, "an unknown --calib is a usage error: " + r.stderr[-200:])

    # Killed after a few committed rows, then resumed: the same rows as one run.
    p = subprocess.Popen([HD, "quantize", "--db", b, "--json"] + Q, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    seen = 0
    for line in p.stdout:
        if '"event":"candidate"' in line:
            seen += 1
            if seen == 4:
                break
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    p.stdout.close()
    part = len(db(b, ROWS))
    check(4 <= part < n - 1, "the killed run committed some rows, not all: %d of %d" % (part, n - 1))
    r = run([HD, "quantize", "--db", b, "--json"] + Q)
    s = (json_lines(r.stdout) or [{}])[-1]
    check(r.returncode == 0 and s.get("existing") == part and s.get("measured") == n - 1 - part,
          "the rerun resumes where the killed run stopped: %s" % s)
    check(db(b, ROWS) == rows, "killed and resumed: the same rows as one run")
    check(db(b, META) == db(a, META), "killed and resumed: the same int8 teacher and calibration")

    # The listing.
    r = run([HD, "library", "--db", a, "--json"])
    lj = json.loads(r.stdout) if r.returncode == 0 else {}
    i8 = lj.get("int8") or {}
    check(i8.get("candidates_scored") == n - 1 and i8.get("teacher_val_accuracy") == t8 and
          isinstance(i8.get("median_abs_score_diff"), (int, float)), "library --json: the int8 summary: %s" % i8)
    cands = {c["id"]: c for sl in lj.get("slots", []) for c in sl["candidates"]}
    check(all(abs(cands[x[0]]["int8_score"] - float(x[2])) < 1e-12 for x in rows) and "int8_score" not in
          cands.get(mul, {"int8_score": 0}), "library --json: int8_score on scored candidates only")
    r = run([HD, "library", "--db", a])
    check("%d of %d candidates scored in int8" % (n - 1, n) in r.stdout and "median |int8 score - fp32 score|" in
          r.stdout, "library: the int8 lines: " + r.stdout[-400:])

    # A library of schema version 6 migrates and has no int8 rows.
    db(old, "DROP TABLE candidate_int8")
    db(old, "DROP TABLE candidate_divergence")
    db(old, "PRAGMA user_version = 6")
    r = run([HD, "profile", "--db", old, "--device", "cortex-m7", "-q"])
    check(r.returncode == 0, "a version 6 library opens for writing: " + r.stderr[-300:])
    check(db(old, "PRAGMA user_version")[0][0] >= 7, "the old library was migrated")
    check(db(old, "SELECT count(*) FROM candidate_int8")[0][0] == 0, "the migrated library has no int8 rows")
    r = run([HD, "library", "--db", old, "--json"])
    check(r.returncode == 0 and json.loads(r.stdout).get("int8", 1) is None, "library --json: int8 is null")

    # Answers. An int8 device on a library whose costed candidates all have int8 scores: int8 throughout.
    r = run([HD, "quantize", "--db", plain, "-q"] + Q)
    check(r.returncode == 0, "quantize the library without the mul candidate: " + r.stderr[-300:])
    p8 = dict(db(plain, "SELECT candidate_id, score FROM candidate_int8"))
    pt8 = float(dict(db(plain, META))["int8.teacher_val_accuracy"])
    pfp = dict(db(plain, "SELECT id, score FROM candidate"))
    (tfp,), = db(plain, "SELECT val_accuracy FROM teacher")
    ans, text = transform(plain, "m7", "cortex-m7")
    check(ans.get("precision") == "int8" and ans.get("scores_precision") == "int8" and
          ans.get("int8_scores_missing") == 0, "int8 device: int8 scores: %s" % {k: ans.get(k) for k in (
              "precision", "scores_precision", "int8_scores_missing")})
    slots = ans.get("slots") or []
    check(slots and all(sl["precision"] == "int8" and abs(sl["score"] - p8[sl["candidate"]]) < 1e-12 for sl in slots),
          "int8 device: every slot int8, with its int8 score")
    # With every candidate's divergence (build measures them) the int8 view ranks and predicts by the divergences
    # plus each candidate's int8 cost, min(0, int8 score - fp32 score); kl_slope is fitted through the origin on
    # the candidates with 0 < kl <= 0.5 (library.h). Without, by the int8 scores, additively.
    kl = dict(db(plain, "SELECT candidate_id, kl FROM candidate_divergence"))
    num = sum(kl[c] * -pfp[c] for c in kl if 0 < kl[c] <= 0.5)
    den = sum(kl[c] ** 2 for c in kl if 0 < kl[c] <= 0.5)
    slope = num / den if den > 0 else 0
    by_div = len(kl) == len(pfp) and slope > 0
    if by_div:
        want = max(0.1, pt8 - slope * sum(kl[sl["candidate"]] for sl in slots) +
                   sum(min(0.0, p8[sl["candidate"]] - pfp[sl["candidate"]]) for sl in slots))
    else:
        want = pt8 + sum(p8[sl["candidate"]] for sl in slots)
    check(ans.get("objective_values") == ("divergence" if by_div else "scores"),
          "int8 device: the objective is %s: %s" % ("divergence" if by_div else "scores", ans.get("objective_values")))
    check(abs(ans.get("teacher_accuracy", 0) - pt8) < 1e-12 and ans.get("prediction") == "uncalibrated" and
          abs(ans.get("predicted_accuracy", 0) - want) < 1e-9,
          "int8 device: the int8 teacher is the baseline, the prediction uncalibrated, by %s: %s against %s" % (
              "divergences plus int8 costs" if by_div else "the summed int8 scores", ans.get("predicted_accuracy"),
              want))
    check("measured in int8" in text, "the client's table names the precisions: " + text[-600:])
    # The network it writes for the int8 device is the QDQ model the device runs, evaluated in int8.
    out = os.path.join(T, "m7.onnx")
    docs, _ = transform(plain, "m7out", "cortex-m7", ["--out", out, "--eval", "--eval-samples", "200"])
    print("int8 transform with out:", json.dumps(docs)[-1500:])
    job = docs[-1].get("result") or docs[-1].get("job", {}).get("result") or {}
    data = open(out, "rb").read() if os.path.exists(out) else b""
    check(job.get("precision") == "int8" and b"QuantizeLinear" in data and b"DequantizeLinear" in data,
          "int8 device: the file written is QDQ ONNX and the job says int8: %s" % job.get("precision"))
    q8 = job.get("int8") or {}
    check(q8.get("calib") in ("minmax", "percentile") and 0 < (q8.get("val_accuracy") or 0) <= 1 and
          0 < (q8.get("test_accuracy") or 0) <= 1, "int8 device: the int8 network's accuracy is reported: %s" % q8)
    ans, text = transform(plain, "pi", "rpi4")
    slots = ans.get("slots") or []
    check(ans.get("precision") == "fp32" and ans.get("scores_precision") == "fp32" and
          abs(ans.get("teacher_accuracy", 0) - tfp) < 1e-12 and slots and
          all(sl["precision"] == "fp32" and abs(sl["score"] - pfp[sl["candidate"]]) < 1e-12 for sl in slots),
          "fp32 device: fp32 scores and teacher")
    # An int8 device where a costed candidate lacks an int8 score (the mul one), or all do (an old library).
    ans, _ = transform(a, "m7mul", "cortex-m7")
    check(ans.get("precision") == "int8" and ans.get("scores_precision") == "fp32" and
          ans.get("int8_scores_missing") == 1, "one candidate without an int8 score: fp32 scores, said so: %s" %
          {k: ans.get(k) for k in ("precision", "scores_precision", "int8_scores_missing")})
    ans, text = transform(old, "m7old", "cortex-m7")
    check(ans.get("scores_precision") == "fp32" and ans.get("int8_scores_missing") == n and
          "runs in int8 on this device; accuracy and scores measured in fp32" in text,
          "an old library on an int8 device: accuracy measured in fp32, said so")


    # A teacher without an int8 form (its squeeze-and-excitation gate is a mul): a clear error, nothing stored.
    se = os.path.join(T, "se.hant")
    r = run([HD, "teacher", "--arch", "input 1x28x28; conv 8 s=2; se_ir 16 e=1 s=2 se=4; gap; linear 10", "--epochs",
             "1", "--samples", "300", "--val-samples", "100", "--out", se])
    sedb = os.path.join(T, "se.db")
    if check(r.returncode == 0, "the SE teacher trains: " + r.stderr[-300:]):
        r = run([HD, "build", "--teacher", se, "--samples", "128", "--val-samples", "100", "--batch", "32",
                 "--families", "kernel", "--chunk", "1", "--db", sedb])
        check(r.returncode == 0, "the SE library builds: " + r.stderr[-300:])
        r = run([HD, "quantize", "--db", sedb] + Q)
        check(r.returncode == 1 and "the teacher has no int8 form" in r.stderr and "mul" in r.stderr,
              "a teacher without an int8 form is refused naming the operator: " + r.stderr[-300:])
        check(db(sedb, "SELECT count(*) FROM candidate_int8")[0][0] == 0 and not db(sedb, META),
              "nothing is stored for it")

try:
    main()
finally:
    shutil.rmtree(T, ignore_errors=True)
print("quantize_cli: %d passed, %d failed" % (checks.passed, checks.failed))
sys.exit(1 if checks.failed else 0)
