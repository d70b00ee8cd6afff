#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_calibrate_cli.py: the real hant-distill calibrate on a real library: killed with SIGKILL after a few committed
# samples, it resumes to the same fit as an uninterrupted run; the real hantd then serves calibrated predictions (and
# uncalibrated ones for a library without a fit); a library of schema version 3 is migrated and calibrated, its
# divergences measured as build measures them.
#   test_calibrate_cli.py HANT_DISTILL HANTD HANT_CLIENT
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402
import daemon  # noqa: E402 - tests/pylib/daemon.py

HD, HANTD, CLIENT = sys.argv[1:4]
T = tempfile.mkdtemp(prefix="hant-calibrate-")
CAL = ["--calibrate-samples", "20", "--calibrate-images", "200", "--threads", "1"]


def run(args, timeout=300):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def db(path, sql):
    con = sqlite3.connect(path)
    try:
        rows = con.execute(sql).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


# The fit without its timings: everything the solver reads, and the held-out figures.
FIT = ("SELECT scale, printf('%.17g', intercept), ridge, samples, folds, printf('%.17g', heldout_median_abs_err), "
       "printf('%.17g', heldout_p90_abs_err), printf('%.17g', heldout_kendall_tau), images FROM calib_fit")
COEF = "SELECT candidate_id, printf('%.17g', coef), printf('%.17g', prior), samples FROM calib_coef ORDER BY 1"
SAMPLES = "SELECT seed, idx, origin, selection, val_accuracy, val_images FROM calib_sample ORDER BY seed, idx"


# The grid of the divergences' chance floor (predictor.h's HANT_FLOOR_SCALES, after 0: the hard floor).
FLOOR_SCALES = (0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.12, 0.15, 0.2, 0.3)


def floor_predict(teacher, drop, chance, s):
    """predictor.h's hant_floor_predict: teacher - drop, bending onto chance over s (a softplus; s = 0: a hard floor)."""
    a = teacher - drop
    if not s > 0:
        return max(chance, a)
    u = (a - chance) / s
    return chance + s * (u + math.log1p(math.exp(-u)) if u > 0 else math.log1p(math.exp(u)))


def slot_weights_oracle(path, kl_slope, folds):
    """The slot weights and their cross-validated errors, recomputed from the library's own rows: least squares
    with w >= 0 of teacher - accuracy = sum_s w_s kl_s over the samples at twice chance or more (cyclic coordinate
    descent from kl_slope, as calibration.c), each sample i predicted by the weights fitted without fold i % folds,
    on the chance floor fitted on the other folds' such predictions. Returns (weights, (cv median |error|, its floor scale), (one
    slope's median |error|, its floor scale), samples fitted)."""
    teacher, classes = db(path, "SELECT val_accuracy, classes FROM teacher")[0]
    chance = 1.0 / classes
    kl = dict(db(path, "SELECT candidate_id, kl FROM candidate_divergence"))
    slot_of = dict(db(path, "SELECT c.id, s.idx FROM candidate c JOIN slot s ON s.id = c.slot_id"))
    ns = 1 + max(slot_of.values())
    rows = []
    for sel, acc in db(path, "SELECT selection, val_accuracy FROM calib_sample ORDER BY seed, idx"):
        f = [0.0] * ns
        for cid in map(int, sel.split(",")):
            f[slot_of[cid]] += kl[cid]
        rows.append((f, acc))

    def fit(use):
        w = [kl_slope] * ns
        for _ in range(2000):
            moved = 0
            for s in range(ns):
                num = den = 0.0
                for (f, acc), u in zip(rows, use):
                    if u:
                        r = teacher - acc - sum(w[t] * f[t] for t in range(ns) if t != s)
                        num += f[s] * r
                        den += f[s] * f[s]
                v = max(0.0, num / den) if den > 0 else kl_slope
                moved = max(moved, abs(v - w[s]))
                w[s] = v
            if moved < 1e-12:
                break
        return w

    def drop(w, f):
        d = 0.0
        for a, b in zip(w, f):
            d += a * b
        return d

    def median(x):
        x = sorted(x)
        return x[len(x) // 2] if len(x) % 2 else 0.5 * (x[len(x) // 2 - 1] + x[len(x) // 2])

    def scale(pairs):
        """The floor's scale fitted on (drop, accuracy) pairs: least mean |error|, the first of the grid on a tie."""
        best = None
        for s in FLOOR_SCALES:
            total = 0.0
            for d, acc in pairs:
                total += abs(floor_predict(teacher, d, chance, s) - acc)
            if pairs and (best is None or total < best[0]):
                best = (total, s)
        return best[1] if best else 0

    def errors(drops):
        """The scale fitted on every drop, and each sample's error on the scale fitted without its fold."""
        pairs = [(d, acc) for d, (f, acc) in zip(drops, rows)]
        held = [scale([p for j, p in enumerate(pairs) if j % folds != i % folds]) for i in range(len(pairs))]
        return scale(pairs), [abs(floor_predict(teacher, d, chance, s) - acc) for (d, acc), s in zip(pairs, held)]
    fitted = sum(acc >= 2 * chance for f, acc in rows)
    one_floor, one_err = errors([drop([kl_slope] * ns, f) for f, acc in rows])
    one = (median(one_err), one_floor)
    if fitted < 2 * ns:
        return None, None, one, fitted
    cv = [0.0] * len(rows)
    for k in range(folds):
        w = fit([i % folds != k and acc >= 2 * chance for i, (f, acc) in enumerate(rows)])
        for i in range(k, len(rows), folds):
            cv[i] = drop(w, rows[i][0])
    cv_floor, cv_err = errors(cv)
    return fit([acc >= 2 * chance for f, acc in rows]), (median(cv_err), cv_floor), one, fitted


def transform(dbpath, name, budgets=("1000ms",)):
    """The real daemon's answer at the first of the budgets that has a choice whose candidates diverge from the
    teacher's blocks (at the last one: whatever it answers)."""
    with daemon.hantd(HANTD, dbpath, T, name) as sock:
        for b in budgets:
            r = run([CLIENT, "--socket", sock, "transform", "--device", "rpi4", "--budget", b, "--json"], 120)
            ans = json.loads(r.stdout) if r.returncode == 0 else {}
            if any((e.get("divergence") or 0) > 0 for e in ans.get("slots", [])):
                break
        check(r.returncode == 0, "%s: transform failed: %s" % (name, r.stderr[-300:]))
        return ans


def main():
    teacher = os.path.join(T, "teacher.hant")
    r = run([HD, "teacher", "--arch", "tiny", "--epochs", "1", "--samples", "1000", "--val-samples", "200", "--out",
             teacher])
    if not check(r.returncode == 0, "teacher training failed: " + r.stderr[-300:]):
        return
    a = os.path.join(T, "a.db")
    r = run([HD, "build", "--teacher", teacher, "--samples", "512", "--val-samples", "200", "--batch", "32",
             "--families", "kernel,lowrank,dws", "--chunk", "2", "--db", a])
    if not check(r.returncode == 0, "build failed: " + r.stderr[-300:]):
        return
    # Build measures every candidate's divergence from the teacher beside its score (issue 15); the teacher's own
    # block does not diverge.
    n, lo = db(a, "SELECT count(*), min(kl) FROM candidate_divergence")[0]
    check(n == db(a, "SELECT count(*) FROM candidate")[0][0] and lo is not None and lo >= 0,
          "build stored a divergence >= 0 for each candidate (%s of them, least %s)" % (n, lo))
    tk = db(a, "SELECT max(d.kl) FROM candidate_divergence d JOIN candidate c ON c.id = d.candidate_id "
               "WHERE c.family = 'teacher'")[0][0]
    check(tk is not None and tk < 1e-6, "the teacher's own block diverges by %s" % tk)
    r = run([HD, "profile", "--db", a, "--device", "rpi4"])
    check(r.returncode == 0, "profile failed: " + r.stderr[-300:])
    b, c, old = (os.path.join(T, n + ".db") for n in ("b", "c", "old"))
    for p in (b, c, old):
        shutil.copy(a, p)

    # Uninterrupted.
    r = run([HD, "calibrate", "--db", a] + CAL + ["--json"])
    if not check(r.returncode == 0, "calibrate failed: " + r.stderr[-300:]):
        return
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    planned = summary["planned"]
    check(summary["measured"] == planned and planned >= 20, "measured %d of %d planned" % (summary["measured"], planned))
    check(summary["scale"] in ("accuracy", "log_error", "log_odds", "log_odds_chance") and summary["folds"] == 5,
          "summary names the scale and 5 folds: %s" % summary)
    # Without --calibrate-objective the measured check decides: the fit is the objective exactly when its own
    # choices at the plan's budgets, measured, lose nowhere and gain on average (issue 15).
    chk = summary.get("objective_check") or {}
    passed = chk.get("differ", 0) > 0 and chk.get("fit_worse", 1) == 0 and chk.get("mean_gain", 0) > 0
    check(chk.get("budgets", 0) >= 3 and summary["additive_kendall_tau"] is not None,
          "the objective check covers the plan's budgets: %s" % summary)
    check(summary["objective"] == ("calibrated" if passed else "additive"),
          "the objective follows the measured check: %s" % summary)
    stored = db(a, "SELECT value FROM meta WHERE key = 'calibration_check'")
    check(stored and json.loads(stored[0][0])["budgets"] == chk.get("budgets"), "the check is kept in the library: %s"
          % stored)
    # One weight per slot for the divergences (cuts compound more in some slots): recomputed here from the
    # library's rows, they and their cross-validated error are calibrate's; the prediction takes them exactly when
    # that error is below the one slope's, the objective only when their measured choices lose nowhere.
    sw = summary.get("slot_weights") or {}
    slope = json.loads(run([HD, "library", "--db", a, "--json"]).stdout)["divergence"]["kl_slope"]
    w_want, cv_want, one_want, fitted = slot_weights_oracle(a, slope, 5)
    check(sw.get("samples_fitted") == fitted, "slot weights fitted on %s samples at twice chance (recomputed: %s)"
          % (sw.get("samples_fitted"), fitted))
    if w_want is None:  # fewer than two per slot: no weights, no held-out figures
        check(sw.get("prediction") is False and sw.get("cv_median_abs_err") is None,
              "too few samples for slot weights, and none used: %s" % sw)
    else:
        check(abs((sw.get("cv_median_abs_err") or -1) - cv_want[0]) < 1e-6 and sw.get("floor_scale") == cv_want[1] and
              sw.get("prediction") == (cv_want[0] < one_want[0]) and
              sw.get("objective") == (sw.get("prediction") and sw.get("worse") == 0 and sw.get("mean_gain", -1) >= 0),
              "slot weights predict when they err less held out (%s against one slope's %s), and choose only when "
              "their choices lose nowhere: %s" % (cv_want, one_want, sw))
        got = sw.get("weights") or []
        check(not sw.get("prediction") or (len(got) == len(w_want) and
                                           all(abs(x - y) <= 1e-6 * max(1, abs(y)) for x, y in zip(got, w_want))),
              "the stored slot weights are the least-squares ones: %s vs %s" % (got, w_want))
    # The prediction's chance floor is the one fitted on the drops of the prediction used (the weights' held-out
    # ones when they predict, else the one slope's), and the library keeps it.
    floor_want = (cv_want if sw.get("prediction") else one_want)[1]
    lib_floor = json.loads(run([HD, "library", "--db", a, "--json"]).stdout)["divergence"].get("floor_scale")
    check(summary.get("floor_scale") == floor_want and lib_floor == floor_want,
          "the floor's scale is fitted on the prediction's own drops: calibrate %s, library %s, recomputed %s"
          % (summary.get("floor_scale"), lib_floor, floor_want))
    origins = {o for (o,) in db(a, "SELECT DISTINCT origin FROM calib_sample")}
    check(origins == {"teacher", "solver", "random"}, "samples come from the teacher, the solver and random draws: %s"
          % origins)
    check(db(a, "SELECT count(*) FROM calib_sample WHERE note LIKE 'rpi4 energy_mj%' OR note LIKE 'rpi4 latency_ms%'"
             )[0][0] >= 1, "the solver's choices on the costed device rpi4 are sampled")
    ncand = db(a, "SELECT count(*) FROM candidate")[0][0]
    check(db(a, "SELECT count(*) FROM calib_coef")[0][0] == ncand, "one coefficient per candidate")

    # Killed after a few committed samples, then resumed.
    p = subprocess.Popen([HD, "calibrate", "--db", b] + CAL + ["--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    events = 0
    for line in p.stdout:
        events += '"event":"sample"' in line.replace(" ", "")
        if events >= 5:
            p.kill()
            break
    p.wait()
    p.stdout.close()
    killed_at = db(b, "SELECT count(*) FROM calib_sample")[0][0]
    check(5 <= killed_at < planned, "killed after %d of %d samples" % (killed_at, planned))
    check(db(b, "SELECT count(*) FROM calib_fit")[0][0] == 0, "no fit was written before the kill")
    r = run([HD, "calibrate", "--db", b] + CAL + ["--json"])
    check(r.returncode == 0, "resumed calibrate failed: " + r.stderr[-300:])
    if r.returncode == 0:
        s2 = json.loads(r.stdout.strip().splitlines()[-1])
        check(s2["existing"] == killed_at and s2["measured"] == planned - killed_at,
              "the resumed run measured only what was missing: %s" % s2)
    check(db(a, SAMPLES) == db(b, SAMPLES), "resumed samples equal the uninterrupted run's")
    # Bit for bit: the same samples, in the same order, through the same arithmetic.
    check(db(a, FIT) == db(b, FIT), "resumed fit equals the uninterrupted one: %s vs %s" % (db(a, FIT), db(b, FIT)))
    check(db(a, COEF) == db(b, COEF), "resumed coefficients equal the uninterrupted ones bit for bit")

    # A rerun measures nothing and refits to the same numbers.
    r = run([HD, "calibrate", "--db", a] + CAL + ["--json"])
    check(r.returncode == 0 and json.loads(r.stdout.strip().splitlines()[-1])["measured"] == 0,
          "a rerun of a finished calibration measures nothing")
    check(db(a, COEF) == db(b, COEF), "a refit of the same samples gives the same coefficients")

    # library prints the statistics.
    r = run([HD, "library", "--db", a, "--json"])
    lib = json.loads(r.stdout) if r.returncode == 0 else {}
    cal = lib.get("calibration") or {}
    check(cal.get("used") is True and cal.get("samples") == planned and "heldout_kendall_tau" in cal,
          "library --json reports the calibration: %s" % cal)
    dv = lib.get("divergence") or {}
    check(dv.get("measured") == ncand and dv.get("ranks_candidates") is True and dv.get("kl_slope", 0) > 0,
          "library --json reports the divergences: %s" % dv)
    r = run([HD, "library", "--db", a])
    check("held out (5-fold" in r.stdout, "library prints the held-out figures")
    check("divergences: every candidate's" in r.stdout, "library prints the divergences' line")
    r = run([HD, "library", "--db", c, "--json"])
    check(r.returncode == 0 and json.loads(r.stdout)["calibration"] is None, "an uncalibrated library says so")

    # The daemon's answers.
    ans = transform(a, "cal")
    fit = db(a, "SELECT heldout_median_abs_err FROM calib_fit")[0][0]
    check(ans.get("prediction") == "calibrated", "a calibrated library answers prediction=calibrated: %s"
          % {k: ans.get(k) for k in ("prediction", "predicted_accuracy", "predicted_accuracy_error")})
    # The prediction is the fit's, or the divergences' when they predicted the samples better; the error is that
    # of the one used.
    by = summary.get("prediction")
    dmed = summary.get("divergence_median_abs_err")
    check(by in ("fit", "divergence") and dmed is not None and (by == "divergence") == (dmed < fit),
          "the better predictor of the samples predicts: %s (divergences %s, fit %s)" % (by, dmed, fit))
    want = dmed if by == "divergence" else fit
    check(abs((ans.get("predicted_accuracy_error") or -1) - want) < 1e-5, "predicted_accuracy_error is the "
          "calibration's median error of the prediction used: %s vs %s" % (ans.get("predicted_accuracy_error"), want))
    # A library whose calibration weighed the divergences by slot (written here, as calibrate writes them when
    # its samples ask): the daemon's prediction is the teacher's accuracy less each slot's weighed divergence, and
    # library reports the weights; without the objective flag the choice is the one slope's.
    sw_db = os.path.join(T, "weighed.db")
    shutil.copy(a, sw_db)
    n_slots = db(a, "SELECT count(*) FROM slot")[0][0]
    ws = [0.25 * (i + 1) for i in range(n_slots)]
    # With a wide chance floor too (scale 0.3: the bend shows a few points above chance, where the hard floor
    # would be exact).
    db(sw_db, "INSERT OR REPLACE INTO meta(key, value) VALUES ('calibration_prediction', 'divergence'), "
              "('calibration_slot_kl_weights', '%s'), ('calibration_slot_kl_objective', 'false'), "
              "('calibration_floor_scale', '0.3')" % ",".join(map(str, ws)))
    lib_w = json.loads(run([HD, "library", "--db", sw_db, "--json"]).stdout)["divergence"]
    check(lib_w.get("slot_weights") == ws and lib_w.get("slot_weights_objective") is False and
          lib_w.get("floor_scale") == 0.3, "library --json reports the slot weights and the floor: %s" % lib_w)
    picks = []
    for path, weights in ((a, None), (sw_db, ws)):
        got = transform(path, "weighed" if weights else "cal2", ("50%energy", "70%energy", "85%energy", "95%energy"))
        picks.append([e.get("candidate") for e in got.get("slots", [])])
        if path == a and by != "divergence":
            continue
        slots = got.get("slots") or []
        drop = sum((weights[i] if weights else slope) * e["divergence"] for i, e in enumerate(slots))
        scale = 0.3 if weights else floor_want
        chance = 1.0 / db(a, "SELECT classes FROM teacher")[0][0]
        pw = floor_predict(got.get("teacher_accuracy", 0), drop, chance, scale)
        check(slots and drop > 0 and abs(got.get("predicted_accuracy", -1) - pw) < 1e-6 and
              (not weights or abs(pw - max(chance, got.get("teacher_accuracy", 0) - drop)) > 1e-4),
              "the divergences' prediction weighs each slot (%s), on the floor of scale %s: %s vs %s, a drop of %s" %
              (weights, scale, got.get("predicted_accuracy"), pw, drop))
    check(picks[0] and picks[0] == picks[1], "slot weights outside the objective leave the choice alone: %s" % picks)
    ans = transform(c, "uncal")
    check(ans.get("prediction") == "uncalibrated" and ans.get("predicted_accuracy_error") is None,
          "an uncalibrated library answers prediction=uncalibrated without an error figure")
    check(ans.get("objective_values") == "divergence" and all(
        isinstance(e.get("divergence"), float) for e in ans.get("slots") or [{}]),
        "with divergences the solver ranks by them, and each slot shows its own: %s" % ans.get("objective_values"))

    # A library of schema version 3 (before teacher files and calibration) opens, migrates and calibrates.
    con = sqlite3.connect(old)
    con.executescript("DROP TABLE calib_coef; DROP TABLE calib_fit; DROP TABLE calib_sample; DROP TABLE teacher_file; "
                      "DROP TABLE IF EXISTS host_kernel; DROP TABLE IF EXISTS candidate_int8; "
                      "DROP TABLE IF EXISTS candidate_divergence; PRAGMA user_version = 3;")
    con.close()
    r = run([HD, "calibrate", "--db", old] + CAL)
    check(r.returncode == 0, "calibrating a version-3 library failed: " + r.stderr[-300:])
    check(db(old, "PRAGMA user_version")[0][0] >= 8, "the old library was migrated")
    # Calibrate measured the divergences build would have, on assembled networks rather than inside the build's
    # pipeline: the same numbers up to float summation order.
    KL = "SELECT candidate_id, kl, val_images FROM candidate_divergence ORDER BY 1"
    built, filled = db(a, KL), db(old, KL)
    check(len(filled) == len(built) and all(
        i == j and n == m and abs(x - y) <= 1e-4 * max(x, y) + 1e-7 for (i, x, n), (j, y, m) in zip(built, filled)),
        "calibrate's divergences match build's: %s" % [(x, y) for (_, x, _), (_, y, _) in zip(built, filled)
                                                       if abs(x - y) > 1e-4 * max(x, y) + 1e-7][:5])
    # The coefficients' priors come from the divergences, so the fit is the same up to that rounding.
    NUM = "SELECT candidate_id, coef, prior, samples FROM calib_coef ORDER BY 1"
    mine, theirs = db(old, NUM), db(a, NUM)
    check(len(mine) == len(theirs) and all(
        i == j and n == m and abs(x - y) <= 1e-3 * abs(y) + 1e-6 and abs(p - q) <= 1e-3 * abs(q) + 1e-6
        for (i, x, p, n), (j, y, q, m) in zip(mine, theirs)), "and calibrates to the same fit")


try:
    main()
finally:
    shutil.rmtree(T, ignore_errors=True)
print("calibrate_cli: %d passed, %d failed" % (checks.passed, checks.failed))
sys.exit(1 if checks.failed else 0)
