# SPDX-License-Identifier: MIT
# test_bench_quality.py: the quality benchmark end to end at toy size: a tiny teacher, its library with modelled
# costs on three devices, then bench_quality. Checks every budget gets a row per method, every chosen network is
# within its budget, no baseline reaches more of hant's objective than hant's exact optimum, and every network's
# paired counts against the teacher agree with the two accuracies. The figures themselves mean nothing at this size;
# docs/results.md has the full-size run. Then --precision int8 (issue 19) on the library scored by hant-distill quantize:
# refused without the int8 scores and on an fp32 device; its rows are int8-measured (hant's
# network as assembled gets exactly the int8 test accuracy the real hantd's transform --out --eval reports for it, and the
# teacher is quantised exactly as hant-distill export --precision int8 quantises it), losses are against the int8
# teacher, and fp32 and int8 never share a resume file's rows. And --choose-finetuned: hant's network is the best on
# validation after fine-tuning among its K best choices.
#   test_bench_quality.py HANT_DISTILL BENCH_QUALITY HANTD HANT_CLIENT
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

DISTILL, BENCH, HANTD, CLIENT = sys.argv[1:5]
T = tempfile.mkdtemp(prefix="hant-quality-test.")
LIB, TEACHER, OUT = (os.path.join(T, n) for n in ("lib.db", "teacher.hant", "q.json"))
DEVICES = ["cortex-m7", "rpi4", "jetson-nano"]
SE = re.compile(r"\| [+-]\d+\.\d\d ± \d+\.\d\d \(")  # a summary cell: hant's loss ± its paired standard error
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402
import daemon  # noqa: E402 - tests/pylib/daemon.py


def run(args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
    return r


def product_int8(lib, n, job_args=("--eval",)):
    """The network hantd chooses on cortex-m7 at half the teacher's energy, and its int8 test accuracy on the first n
    test images as transform --out measures it (deploy.c; --eval, or fine-tuning), through the real daemon and
    client."""
    with daemon.hantd(HANTD, lib, T) as sock:
        r = run([CLIENT, "--socket", sock, "transform", "--device", "cortex-m7", "--budget", "50%energy", "--out",
                 os.path.join(T, "hant8.onnx"), "--eval-samples", str(n), "--json"] + list(job_args))
        check(r.returncode == 0, "transform --out on cortex-m7: exit %d" % r.returncode)
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        job = lines[-1] if lines else {}
        return job.get("params", {}).get("candidates"), job.get("result", {}).get("int8", {}).get("test_accuracy")
        proc.wait(60)
        log.close()


def int8_checks():
    one8 = [BENCH, "--db", LIB, "--devices", "cortex-m7", "--kinds", "energy", "--divisors", "2,4", "--epochs", "1",
            "--finetune-samples", "300", "--test-samples", "300", "--precision", "int8"]
    r = run(one8)
    check(r.returncode == 1 and "no int8 score" in r.stderr and "hant-distill quantize" in r.stderr,
          "int8 without int8 scores is refused, naming the fix: " + r.stderr[-300:])
    r = run(one8[:4] + ["rpi4"] + one8[5:])
    check(r.returncode == 1 and "rpi4 computes in fp32" in r.stderr, "int8 on an fp32 device is refused: " +
          r.stderr[-300:])
    r = run([BENCH, "--db", LIB, "--precision", "int4"])
    check(r.returncode == 2 and "int4" in r.stderr, "an unknown precision is refused: " + r.stderr[-300:])
    if not check(run([DISTILL, "quantize", "--db", LIB, "--calib-images", "200", "--threads", "1", "-q"]).returncode
                 == 0, "hant-distill quantize"):
        return
    r = run(one8[:-2] + ["--no-train"])
    check(r.returncode == 1 and "cortex-m7 computes in int8" in r.stderr and "--precision int8" in r.stderr,
          "an fp32 bench on an int8 device of an int8-scored library is refused: " + r.stderr[-300:])
    # Fine-tuned, resumable: int8 rows never reuse the fp32 rows of the same resume file.
    RES = os.path.join(T, "resume.tsv")
    r = run(one8 + ["--json", OUT + "8", "--resume", RES])
    check(r.returncode == 0, "bench_quality --precision int8 exit %d" % r.returncode)
    check("0 networks already evaluated" in r.stderr, "int8 reused fp32 rows of the resume file: " + r.stderr[-300:])
    check("against the int8 teacher's" in r.stdout and "fp32 in parentheses" in r.stdout, "int8 tables: " +
          r.stdout[-800:])
    res = json.load(open(OUT + "8"))
    fp32 = json.load(open(OUT))
    check(res["precision"] == "int8" and len(res["rows"]) == 2 * 4, "int8 run: %s, %d rows" % (res["precision"],
                                                                                              len(res["rows"])))
    check(res["teacher_test_accuracy_fp32"] == fp32["teacher_test_accuracy"],
          "the fp32 teacher beside the int8 one is the fp32 run's: %s vs %s" % (res["teacher_test_accuracy_fp32"],
                                                                                  fp32["teacher_test_accuracy"]))
    differs = False
    for row in res["rows"]:
        check(row["precision"] == "int8", "row precision %s" % row["precision"])
        if row["feasible"]:
            a8, a32 = row["test_accuracy"], row["test_accuracy_fp32"]
            check(set(a8) == set(a32) == {"assembled", "finetune_1"}, "int8 and fp32 figures: %s %s" % (a8, a32))
            # paired with the int8 teacher: the counts give the int8 accuracies' difference
            pv = row.get("paired_vs_teacher", {})
            check(set(pv) == set(a8) and all(
                pv[k]["c"] - pv[k]["b"] == round((a8[k] - res["teacher_test_accuracy"]) * res["test_images"])
                for k in pv), "int8 row paired with the int8 teacher: %s %s" % (pv, a8))
            differs = differs or any(a8[k] != a32[k] for k in a8)
    check(differs, "every int8 accuracy equals its fp32 one: not measured in int8")
    h = [row for row in res["rows"] if row["method"] == "hant" and row["feasible"]]
    check(len(h) >= 1, "hant chose nothing on cortex-m7")
    loss = "%+.2f" % (100 * (h[0]["test_accuracy"]["assembled"] - res["teacher_test_accuracy"]))
    check("| E/%g | " % h[0]["divisor"] in r.stdout and loss in r.stdout.split("int8 teacher's")[-1],
          "hant's loss %s against the int8 teacher in the summary: %s" % (loss, r.stdout[-600:]))
    r2 = run(one8 + ["--json", OUT + "8b", "--resume", RES])
    n8 = sum(1 for x in open(RES) if "precision=int8" in x)
    check(r2.returncode == 0 and "%d networks already evaluated" % n8 in r2.stderr and "ep " not in r2.stderr,
          "the int8 rerun evaluated again: " + r2.stderr[-400:])
    check([x["test_accuracy_fp32"] for x in json.load(open(OUT + "8b"))["rows"] if x["feasible"]] ==
          [x["test_accuracy_fp32"] for x in res["rows"] if x["feasible"]], "resumed fp32 figures differ")
    # As assembled the bench calibrates as transform --out --eval does without fine-tuning: the same network gets
    # the same int8 test accuracy as the product path, and the teacher is quantised as export --precision int8 does.
    r = run(one8[:5] + ["--kinds", "energy", "--divisors", "2", "--methods", "hant", "--no-train",
                        "--test-samples", "300", "--precision", "int8", "--json", OUT + "8n"])
    check(r.returncode == 0, "bench_quality --precision int8 --no-train exit %d" % r.returncode)
    res = json.load(open(OUT + "8n"))
    row = res["rows"][0]
    ids, acc8 = product_int8(LIB, 300)
    check(row["feasible"] and ids and row["network"] == "ids " + ",".join(map(str, ids)),
          "the bench's hant network %s is hantd's %s" % (row.get("network"), ids))
    # equal up to the digits the JSON writers print (accuracies on 300 images differ by 1/300 at least)
    check(acc8 is not None and abs(row["test_accuracy"]["assembled"] - acc8) < 1e-9,
          "hant's int8 accuracy %s, transform --out's %s" % (row["test_accuracy"]["assembled"], acc8))
    r = run([DISTILL, "export", "--model", TEACHER, "--out", os.path.join(T, "t8.onnx"), "--precision", "int8",
             "--val-images", "300", "--json"])
    ex = json.loads(r.stdout) if r.returncode == 0 else {}
    check(ex.get("calib") == res["teacher_int8_calib"] and
          abs(ex.get("val_accuracy_int8", -1) - res["teacher_int8_calib_val_accuracy"]) < 1e-9,
          "the int8 teacher (%s, %s) is quantised as export does (%s, %s)" % (
              res["teacher_int8_calib"], res["teacher_int8_calib_val_accuracy"], ex.get("calib"),
              ex.get("val_accuracy_int8")))
    # Quantisation-aware fine-tuning: in the bench (its own resume rows) and in transform --out on an int8 device.
    r = run(one8 + ["--qat", "--json", OUT + "8q", "--resume", RES])
    check(r.returncode == 0 and "0 networks already evaluated" in r.stderr,
          "--qat ran on its own resume rows: exit %d, %s" % (r.returncode, r.stderr[-300:]))
    res = json.load(open(OUT + "8q")) if r.returncode == 0 else {"rows": []}
    check(res.get("qat") is True and all(0 <= x["test_accuracy"]["finetune_1"] <= 1 for x in res["rows"]
                                         if x["feasible"]), "--qat rows: %s" % res["rows"][:1])
    r = run(one8[:1] + ["--db", LIB, "--qat"])
    check(r.returncode == 2 and "--qat needs --precision int8" in r.stderr, "--qat in fp32 refused: " +
          r.stderr[-200:])
    ids, acc8 = product_int8(LIB, 300, ("--finetune", "1", "--finetune-samples", "300"))
    check(ids and acc8 is not None and 0 <= acc8 <= 1, "transform --out --finetune on cortex-m7 (QAT): %s, %s" %
          (ids, acc8))


def auto_checks():
    """--epochs auto gives each network the epochs transform --finetune auto gives it, from the same validation
    loss; resumed runs keep them; a bad epoch count is refused by name."""
    RES = os.path.join(T, "resume-auto.tsv")
    one = [BENCH, "--db", LIB, "--devices", "rpi4", "--kinds", "energy", "--divisors", "2,8", "--methods",
           "hant,greedy", "--epochs", "auto", "--finetune-samples", "300", "--test-samples", "300", "--resume", RES]
    r = run(one + ["--json", OUT + "a"])
    check(r.returncode == 0 and "FT auto" in r.stdout, "bench_quality --epochs auto: exit %d %s" %
          (r.returncode, r.stdout[-600:]))
    rows = [x for x in json.load(open(OUT + "a"))["rows"] if x["feasible"]] if r.returncode == 0 else []
    check(len(rows) >= 2, "--epochs auto: %d feasible rows" % len(rows))
    hant_ep = {x["divisor"]: x.get("finetune_auto_epochs", 0) for x in rows if x["method"] == "hant"}
    for row in rows:
        loss, ep = row.get("finetune_auto_val_loss_points"), row.get("finetune_auto_epochs")
        want = None if loss is None else 3 if loss <= 2 else 8 if loss <= 8 else 16 if loss <= 16 else 40
        if want is not None and row["method"] != "hant":  # never fewer epochs than hant's at the budget
            want = max(want, hant_ep.get(row["divisor"], 0))
        check(ep == want and "finetune_auto" in row["test_accuracy"] and "(%d ep)" % ep in r.stdout,
              "%s E/%g: %s epochs for a loss of %s" % (row["method"], row["divisor"], ep, loss))
        # every fine-tuned network is measured on validation too, which is what a schedule is chosen by
        v = row.get("val_accuracy_finetuned", {}).get("finetune_auto")
        check(v is not None and 0 < v <= 1 and "(validation %.4f)" % v in r.stderr,
              "%s E/%g: validation accuracy after fine-tuning: %s" % (row["method"], row["divisor"], v))
    r2 = run(one + ["--json", OUT + "a2"])
    fig = ("network", "test_accuracy", "finetune_auto_epochs", "finetune_auto_val_loss_points",
           "val_accuracy_finetuned")
    again = [x for x in json.load(open(OUT + "a2"))["rows"] if x["feasible"]] if r2.returncode == 0 else []
    check(r2.returncode == 0 and "ep " not in r2.stderr and
          [[x.get(k) for k in fig] for x in again] == [[x.get(k) for k in fig] for x in rows],
          "the resumed auto run differs or evaluated again: " + r2.stderr[-400:])
    # the product's choice of epochs for the same network, on the same 300 validation images
    h = [x for x in rows if x["method"] == "hant" and x["divisor"] == 2]
    with daemon.hantd(HANTD, LIB, T) as sock:
        r = run([CLIENT, "--socket", sock, "transform", "--device", "rpi4", "--budget", "50%energy", "--out",
                 os.path.join(T, "auto.onnx"), "--finetune", "auto", "--finetune-samples", "300", "--eval-samples",
                 "300", "--json"])
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    job = lines[-1] if lines else {}
    ids, res = job.get("params", {}).get("candidates"), job.get("result", {})
    check(h and ids and h[0]["network"] == "ids " + ",".join(map(str, ids)) and
          res.get("finetune_epochs") == h[0]["finetune_auto_epochs"] and
          abs(res.get("finetune", {}).get("assembled_val_loss_points", 1e9) - h[0]["finetune_auto_val_loss_points"])
          < 1e-6, "the bench's auto epochs and loss are transform --finetune auto's: %s, %s" %
          (h[:1], {k: res.get(k) for k in ("finetune_epochs", "finetune")}))
    r = run(one[:-2] + ["--epochs", "auto,3,auto"])
    check(r.returncode == 2 and "'auto' is given twice" in r.stderr, "auto twice refused: " + r.stderr[-200:])
    for bad in ("0", "3x", "auto8"):
        r = run(one[:-2] + ["--epochs", bad])
        check(r.returncode == 2 and "'%s'" % bad in r.stderr, "--epochs %s refused: %s" % (bad, r.stderr[-200:]))


def choose_checks(plain):
    """--choose-finetuned K: hant fine-tunes its K best choices by prediction (each two slots or more from every
    better one kept) and keeps the best on validation; the first is the plain run's network with the same figures;
    resumed runs evaluate nothing again; it needs one --epochs value."""
    RES = os.path.join(T, "resume-choose.tsv")
    one = [BENCH, "--db", LIB, "--devices", "rpi4", "--kinds", "energy", "--divisors", "2,4", "--methods",
           "hant,greedy", "--epochs", "1", "--finetune-samples", "300", "--test-samples", "300",
           "--choose-finetuned", "3", "--resume", RES]
    runs = []
    for i in range(2):
        r = run(one + ["--json", OUT + "c%d" % i])
        runs.append(json.load(open(OUT + "c%d" % i))["rows"] if r.returncode == 0 else [])
        check(r.returncode == 0, "bench_quality --choose-finetuned, run %d: exit %d" % (i + 1, r.returncode))
    check("ep " not in r.stderr, "the resumed --choose-finetuned run evaluated again: " + r.stderr[-400:])
    fig = ("network", "test_accuracy", "finetuned_choices", "finetuned_chosen_rank")
    check([[x.get(k) for k in fig] for x in runs[0]] == [[x.get(k) for k in fig] for x in runs[1]],
          "the resumed --choose-finetuned run differs")
    hants = [x for x in runs[0] if x["method"] == "hant" and x["feasible"]]
    check(hants and any(len(h.get("finetuned_choices", [])) >= 2 for h in hants),
          "--choose-finetuned: no feasible hant row chose among two or more: %s" % hants)
    for h in hants:
        ch = h.get("finetuned_choices", [])
        ids = [x["network"].split()[1].split(",") for x in ch]
        vals = [x["val_accuracy_finetuned"] for x in ch]
        best = vals.index(max(vals)) if vals else -1
        near = [(i, j) for i in range(len(ids)) for j in range(i)
                if sum(a != b for a, b in zip(ids[i], ids[j])) < 2]
        base = [x for x in plain if x["device"] == "rpi4" and x["kind"] == "energy_mj" and x["method"] == "hant"
                and x["divisor"] == h["divisor"]]
        check(1 <= len(ch) <= 3 and not near and all(0 <= v <= 1 for v in vals) and
              all(ch[i]["predicted_accuracy"] >= ch[i + 1]["predicted_accuracy"] - 1e-12 for i in range(len(ch) - 1))
              and all(x["energy_mj"] <= h["budget"] * (1 + 1e-6) for x in ch),
              "E/%g: the choices fine-tuned: %s" % (h["divisor"], ch))
        check(best >= 0 and h["finetuned_chosen_rank"] == best and h["network"] == ch[best]["network"] and
              h["test_accuracy"] == ch[best]["test_accuracy"] and h["energy_mj"] == ch[best]["energy_mj"],
              "E/%g: hant kept choice %s, not the best on validation %d: %s" %
              (h["divisor"], h.get("finetuned_chosen_rank"), best, vals))
        check(base and ch and ch[0]["network"] == base[0]["network"] and
              ch[0]["test_accuracy"] == base[0]["test_accuracy"],
              "E/%g: the first choice is not the plain run's network and figures: %s vs %s" %
              (h["divisor"], ch[:1], base[:1]))
    r = run(one[:-2] + ["--epochs", "1,2"])
    check(r.returncode == 2 and "one --epochs value" in r.stderr, "--choose-finetuned with two lengths refused: " +
          r.stderr[-200:])
    # --choose-also adds greedy's choice and the latency budget's (when it fits) to the K best, each once
    r = run(one[:-2] + ["--choose-also", "greedy,other-kind", "--resume", RES, "--json", OUT + "ca"])
    rows = json.load(open(OUT + "ca"))["rows"] if r.returncode == 0 else []
    check(r.returncode == 0 and rows, "--choose-also greedy,other-kind: exit %d" % r.returncode)
    for h in [x for x in rows if x["method"] == "hant" and x["feasible"]]:
        ch = h.get("finetuned_choices", [])
        nets = [x["network"] for x in ch]
        srcs = [x["source"] for x in ch]
        vals = [x["val_accuracy_finetuned"] for x in ch]
        greedy = [x["network"] for x in rows if x["method"] == "greedy" and x["divisor"] == h["divisor"] and
                  x["feasible"]]
        check(len(set(nets)) == len(nets) and all(re.fullmatch(r"prediction \d+|greedy|latency budget", x)
                                                  for x in srcs) and
              all(x["energy_mj"] <= h["budget"] * (1 + 1e-6) for x in ch) and
              (not greedy or greedy[0] in nets) and h["network"] == nets[vals.index(max(vals))],
              "E/%g with --choose-also: %s" % (h["divisor"], list(zip(srcs, nets, vals))))
    # greedy's choice is added, or said to be one of hant's, at every budget where both chose
    both = [x for x in rows if x["method"] == "hant" and x["feasible"] and
            any(g["method"] == "greedy" and g["divisor"] == x["divisor"] and g["feasible"] for g in rows)]
    added = sum(1 for x in both for c in x.get("finetuned_choices", []) if c["source"] == "greedy")
    check(both and added + r.stderr.count("greedy's choice is hant's choice") == len(both),
          "greedy's choice neither added nor found among hant's: %d added, %d budgets" % (added, len(both)))
    for bad, why in ((["--choose-also", "random"], "'random' is neither"),
                     (["--choose-finetuned", "0", "--choose-also", "greedy"], "needs --choose-finetuned")):
        r = run(one[:-2] + bad)
        check(r.returncode == 2 and why in r.stderr, "%s refused: %s" % (bad, r.stderr[-200:]))


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
    # Paired against the teacher on the same images: b only the teacher gets right, c only the network, so c - b is
    # the accuracy difference in images and se_points its paired standard error.
    n_img, t_acc = res["test_images"], res["teacher_test_accuracy"]
    for row in rows:
        if not row["feasible"]:
            continue
        pv = row.get("paired_vs_teacher", {})
        bad = []
        for col, acc in row["test_accuracy"].items():
            p = pv.get(col, {})
            b, c = p.get("b"), p.get("c")
            if not (type(b) is int and type(c) is int and b >= 0 and c >= 0 and b + c <= n_img and
                    c - b == round((acc - t_acc) * n_img) and
                    abs(p.get("se_points", -1) - 100 * math.sqrt((b + c) - (b - c) ** 2 / n_img) / n_img) < 1e-9):
                bad.append((col, acc, p))
        check(set(pv) == set(row["test_accuracy"]) and not bad, "%s %s E/%g: paired against the teacher %s: %s" %
              (row["device"], row["method"], row["divisor"], pv, bad))
    check(SE.search(r.stdout), "no ± in the summary:\n" + r.stdout[-800:])
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
    acc = [[[row.get(k) for k in ("test_accuracy", "paired_vs_teacher")] for row in json.load(open(f))["rows"]]
           for f in (OUT + "1", OUT + "2")]
    check(acc[0] == acc[1], "resumed accuracies differ: %s vs %s" % tuple(acc))
    # A resume file written before the paired counts were kept still loads, its standard errors unknown.
    lines = open(RES).read().splitlines()
    check(all("\tpaired\t" in x for x in lines), "resume lines without the paired counts: %s" % lines[:1])
    OLD = os.path.join(T, "resume-old.tsv")
    with open(OLD, "w") as f:
        f.writelines(x.split("\tpaired")[0] + "\n" for x in lines)
    r = run(one[:-1] + [OLD, "--json", OUT + "o"])
    old = json.load(open(OUT + "o"))["rows"] if r.returncode == 0 else []
    check(r.returncode == 0 and "%d networks already evaluated" % n_lines in r.stderr and "ep " not in r.stderr and
          old and all("paired_vs_teacher" not in x for x in old) and not SE.search(r.stdout) and
          [x["test_accuracy"] for x in old if x["feasible"]] ==
          [x["test_accuracy"] for x in json.load(open(OUT + "1"))["rows"] if x["feasible"]],
          "a resume file of before the paired counts: exit %d, %s" % (r.returncode, r.stderr[-400:]))
    r3 = run(one[:-2] + ["--epochs", "2", "--resume", RES, "--no-train"])
    check(r3.returncode == 0 and "0 networks already evaluated" in r3.stderr,
          "other settings reused a network: " + r3.stderr[-300:])

    auto_checks()
    choose_checks(rows)
    int8_checks()

    r = run([BENCH, "--db", os.path.join(T, "missing.db")])
    check(r.returncode == 1 and "missing.db" in r.stderr, "a missing library is named: " + r.stderr[-300:])
    r = run([BENCH, "--db", LIB, "--kinds", "power"])
    check(r.returncode == 2 and "power" in r.stderr, "an unknown kind is refused: " + r.stderr[-300:])
finally:
    shutil.rmtree(T, ignore_errors=True)
print("test_bench_quality: %d passed, %d failed" % (checks.passed, checks.failed))
sys.exit(1 if checks.failed else 0)
