#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_rerank.py: measured re-ranking through the real hantd and hant-client on a small library built from
# Fashion-MNIST: --rerank 3 lists three distinct candidates with predicted and measured validation accuracy and
# chooses the best measured; the measurement agrees with hant-distill eval of the exported network, in int8 on an
# int8 device; a repeated
# request is served from the cache, a different image count is not; misuse is refused.
#   test_rerank.py HANTD HANT_CLIENT HANT_DISTILL
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HANTD, CLIENT, DISTILL = sys.argv[1:4]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402

try:
    import jsonschema
    SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schema", "rpc",
                          "transform.schema.json")
    with open(SCHEMA) as fh:
        root = json.load(fh)
    RESULT = jsonschema.Draft202012Validator(dict(root, **{"$ref": "#/$defs/result"}))
except ImportError:
    RESULT = None
    print("(answers not checked against schema/rpc/transform.schema.json: python3-jsonschema is not installed)")

T = tempfile.mkdtemp(prefix="hant-rerank-test.")
SOCK = os.path.join(T, "s.sock")
daemon = None


def run(args, timeout=300):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def client(*args):
    r = run([CLIENT, "--socket", SOCK] + list(args), timeout=300)
    return r.returncode, r.stdout, r.stderr


def transform(*args):
    rc, out, err = client("transform", "--device", "rpi4", "--budget", "0.15MMAC", "--json", *args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, "%s\n%s" % (out, err)


def main():
    global daemon
    teacher, lib = os.path.join(T, "t.hant"), os.path.join(T, "l.db")
    r = run([DISTILL, "teacher", "--arch", "tiny", "--epochs", "1", "--samples", "2000", "--val-samples", "200",
             "--out", teacher])
    if not check(r.returncode == 0, "teacher: %s" % r.stderr[-500:]):
        return
    r = run([DISTILL, "build", "--teacher", teacher, "--db", lib, "--samples", "256", "--val-samples", "100",
             "--families", "kernel,lowrank,width"])
    if not check(r.returncode == 0, "build: %s" % r.stderr[-500:]):
        return
    for dev in ("rpi4", "cortex-m7"):
        r = run([DISTILL, "profile", "--db", lib, "--device", dev])
        if not check(r.returncode == 0, "profile %s: %s" % (dev, r.stderr[-500:])):
            return
    # int8 scores, so that cortex-m7 (int8) is answered, and re-ranked, in int8
    r = run([DISTILL, "quantize", "--db", lib, "--val-samples", "100", "--calib", "minmax", "-q"])
    if not check(r.returncode == 0, "quantize: %s" % r.stderr[-500:]):
        return
    log = open(os.path.join(T, "d.log"), "w")
    daemon = subprocess.Popen([HANTD, "--db", lib, "--socket", SOCK, "--state-dir", os.path.join(T, "state"),
                               "--foreground"], stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(SOCK)
            s.close()
            break
        except OSError:
            time.sleep(0.05)

    # Without re-ranking: the predicted optimum, nothing measured, and the prediction says it is uncalibrated.
    rc, a, err = transform()
    if not check(rc == 0 and a, "plain transform: rc %d %s" % (rc, err)):
        return
    check(a["chosen_by"] == "predicted" and a["rerank"] is None, "plain transform: chosen_by %s" % a["chosen_by"])
    check(a["prediction"] == "uncalibrated" and a["predicted_accuracy_error"] is None,
          "an uncalibrated library says so: %s %s" % (a["prediction"], a["predicted_accuracy_error"]))

    # --rerank 3: three distinct candidates, best predicted first, each measured on the same 100 images.
    rc, b, err = transform("--rerank", "3", "--rerank-images", "100")
    if not check(rc == 0 and b, "rerank transform: rc %d %s" % (rc, err)):
        return
    check(b["chosen_by"] == "measured" and b["cache_hit"] is False, "rerank: chosen_by %s, cache_hit %s"
          % (b["chosen_by"], b["cache_hit"]))
    rr = b["rerank"]
    cands = rr["candidates"] if rr else []
    check(rr and rr["k"] == 3 and rr["images"] == 100 and rr["split"] == "val" and len(cands) == 3,
          "rerank lists 3 candidates measured on 100 validation images: %s" % json.dumps(rr))
    ids = [tuple(c["candidates"]) for c in cands]
    check(len(set(ids)) == len(ids), "the candidates are distinct: %s" % ids)
    preds = [c["predicted_accuracy"] for c in cands]
    check(all(preds[i] >= preds[i + 1] - 1e-9 for i in range(len(preds) - 1)),
          "the candidates come best predicted first: %s" % preds)
    check(abs(preds[0] - a["predicted_accuracy"]) < 1e-9, "the first candidate is the predicted optimum: %s vs %s"
          % (preds[0], a["predicted_accuracy"]))
    meas = [c["measured_accuracy"] for c in cands]
    check(all(0 <= m <= 1 and abs(m * 100 - round(m * 100)) < 1e-6 for m in meas),
          "measured accuracies are fractions of 100 images: %s" % meas)
    chosen = [i for i, c in enumerate(cands) if c["chosen"]]
    check(chosen == [rr["chosen_rank"]], "exactly one candidate is chosen, at chosen_rank: %s" % chosen)
    best = max(range(len(meas)), key=lambda i: (meas[i], -i))
    check(rr["chosen_rank"] == best, "the best measured is chosen (ties: the higher predicted): rank %d, measured %s"
          % (rr["chosen_rank"], meas))
    check([s["candidate"] for s in b["slots"]] == list(cands[rr["chosen_rank"]]["candidates"]),
          "the answer's slots are the chosen candidate's")
    check(abs(b["predicted_accuracy"] - cands[rr["chosen_rank"]]["predicted_accuracy"]) < 1e-12,
          "the answer's predicted accuracy is the chosen candidate's")
    for c in cands:
        check(c["totals"]["macs"] <= 0.15e6 * (1 + 1e-9), "every candidate meets the budget: %s" % c["totals"])
    if RESULT:
        errs = sorted(RESULT.iter_errors(b), key=str)
        check(not errs, "rerank answer follows the schema: %s" % (errs[0].message if errs else ""))

    # The same request again is served from the cache, the same answer; another image count is measured anew.
    rc, c2, err = transform("--rerank", "3", "--rerank-images", "100")
    check(rc == 0 and c2 and c2["cache_hit"] is True, "a repeated rerank request hits the cache: %s" % err)
    if c2:
        check(c2["rerank"] == rr and c2["slots"] == b["slots"], "the cached answer is the same")
    rc, c3, err = transform("--rerank", "3", "--rerank-images", "50")
    check(rc == 0 and c3 and c3["cache_hit"] is False and c3["rerank"]["images"] == 50,
          "another image count is not served from the cache: %s" % err)
    rc, out, err = client("status", "--json")
    check(rc == 0 and json.loads(out).get("cache_hits", 0) >= 1 if rc == 0 else False,
          "status counts the cache hit: %s" % out[:300])

    # The table says what chose the network and lists the candidates.
    rc, out, err = client("transform", "--device", "rpi4", "--budget", "0.15MMAC", "--rerank", "3",
                          "--rerank-images", "100")
    check(rc == 0 and "(uncalibrated" in out and "chosen by measured validation accuracy on 100 images" in out
          and "<- chosen" in out, "rerank table: rc %d\n%s%s" % (rc, out, err))

    # The measurement agrees with an independent evaluation of the exported network on the same images.
    onnx = os.path.join(T, "chosen.onnx")
    rc, out, err = client("transform", "--device", "rpi4", "--budget", "0.15MMAC", "--rerank", "3",
                          "--rerank-images", "100", "--out", onnx)
    check(rc == 0 and os.path.exists(onnx), "rerank with --out: rc %d %s" % (rc, err))
    if os.path.exists(onnx):
        r = run([DISTILL, "eval", "--model", onnx, "--split", "val", "--samples", "100", "--json"])
        ev = json.loads(r.stdout) if r.returncode == 0 else {}
        want = cands[rr["chosen_rank"]]["measured_accuracy"]
        check(ev.get("n") == 100 and abs(ev.get("accuracy", -1) - want) <= 0.0101,
              "hant-distill eval of the export: %s, re-ranking measured %s" % (ev, want))

    # On an int8 device the candidates are measured in int8, as the device computes; the chosen network's figure
    # agrees with hant-distill eval of the QDQ model the same request exports: exactly when the export chose the
    # library's calibration method (it chooses on validation images), else within two images of 100.
    check(rr and rr["precision"] == "fp32", "rpi4 computes in fp32 and is measured so: %s" % (rr or {}).get("precision"))
    q = os.path.join(T, "chosen-int8.onnx")
    rc, out, err = client("transform", "--device", "cortex-m7", "--budget", "0.15MMAC", "--rerank", "3",
                          "--rerank-images", "100", "--out", q, "--json")
    # with --out the client prints the answer, then the job's events, one JSON object per line
    d = next((o for o in map(json.loads, out.splitlines()) if "rerank" in o), {}) if rc == 0 else {}
    rq = d.get("rerank") or {}
    check(rc == 0 and d.get("scores_precision") == "int8" and rq.get("precision") == "int8",
          "cortex-m7 is re-ranked in int8: rc %d %s %s" % (rc, rq.get("precision"), err[-300:]))
    if rq and os.path.exists(q):
        r = run([DISTILL, "eval", "--model", q, "--split", "val", "--samples", "100", "--json"])
        ev = json.loads(r.stdout) if r.returncode == 0 else {}
        want = rq["candidates"][rq["chosen_rank"]]["measured_accuracy"]
        job = next((o for o in map(json.loads, out.splitlines()) if "result" in o), {}).get("result", {})
        # the same method as the library's (quantize --calib minmax): the same ranges, the same figure
        tol = 1e-9 if (job.get("int8") or {}).get("calib") == "minmax" else 0.0201
        check(ev.get("n") == 100 and abs(ev.get("accuracy", -1) - want) <= tol,
              "hant-distill eval of the int8 export (%s): %s, re-ranking measured %s"
              % ((job.get("int8") or {}).get("calib"), ev, want))
        if RESULT:
            errs = sorted(RESULT.iter_errors(d), key=str)
            check(not errs, "int8 rerank answer follows the schema: %s" % (errs[0].message if errs else ""))

    rc, out, err = client("transform", "--device", "cortex-m7", "--budget", "0.15MMAC", "--rerank", "3",
                          "--rerank-images", "100")
    check(rc == 0 and "chosen by measured validation accuracy in int8 on 100 images" in out,
          "the int8 rerank table says what it measured in: rc %d\n%s%s" % (rc, out, err))

    # Misuse is refused with a message naming what is wrong.
    rc, out, err = client("transform", "--device", "rpi4", "--rerank-images", "100")
    check(rc == 2 and "--rerank-images needs --rerank" in err, "--rerank-images alone: rc %d %s" % (rc, err))
    rc, out, err = client("transform", "--device", "host", "--budget", "5ms", "--rerank", "2", "--measure")
    check(rc != 0 and "rerank_k" in err and "cannot be combined" in err, "--rerank with --measure: rc %d %s"
          % (rc, err))
    rc, out, err = client("transform", "--device", "rpi4", "--rerank", "33")
    check(rc == 2 and "--rerank" in err, "--rerank 33: rc %d %s" % (rc, err))


try:
    main()
finally:
    if daemon:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
    shutil.rmtree(T, ignore_errors=True)
print("test_rerank: %d passed, %d failed" % (checks.passed, checks.failed))
sys.exit(1 if checks.failed else 0)
