# SPDX-License-Identifier: MIT
# test_regen.py: hant-client regen end to end against the real hantd on a tiny library: idempotence, per-device
# incrementality, per-entry errors, parseable SVG plots with one marker per chosen point, and a headless-Chromium
# screenshot of the HTML report.
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib

HANTD, CLIENT, DISTILL, ARTIFACTS = sys.argv[1:5]
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
T = tempfile.mkdtemp(prefix="hant-regen-test.")
LIB = os.path.join(T, "lib.db")
SOCK = os.path.join(T, "hantd.sock")
DEVS = os.path.join(T, "devices")
ENV = dict(os.environ, HANT_SOCKET=SOCK, HANT_DEVICES=DEVS)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
import chromium  # noqa: E402 - tests/pylib/chromium.py
from checks import check  # noqa: E402


def run(args, timeout=300):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, env=ENV)


def step(name):
    print("-- %s (%.1f s)" % (name, time.time() - T0), flush=True)


def rpc(method, params=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def snapshot(d):
    """Every file under d with its size and mtime."""
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            out[os.path.relpath(p, d)] = (st.st_size, st.st_mtime_ns)
    return out


def regen(fleet, out, *extra):
    r = run([CLIENT, "regen", fleet, "--out", out, "--json"] + list(extra))
    try:
        summary = json.loads(r.stdout)
    except ValueError:
        summary = {}
    return r.returncode, summary, r.stderr


def by_name(summary):
    return {(e["device"], e["name"]): e for e in summary.get("entries", [])}


def png_pixels(path):
    """Decodes an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes) into rows of bytes."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


T0 = time.time()
step("library: tiny teacher, build, costs on jetson-nano and rpi4 (from a copied profile)")
os.makedirs(DEVS)
shutil.copy(os.path.join(SRC, "devices", "rpi4.json"), os.path.join(DEVS, "rpi4.json"))
TEACHER = os.path.join(T, "teacher.hant")
for args in ([DISTILL, "teacher", "--arch", "tiny", "--epochs", "1", "--samples", "2000", "--val-samples", "200",
              "--out", TEACHER],
             [DISTILL, "build", "--teacher", TEACHER, "--db", LIB, "--samples", "256", "--val-samples", "100",
              "--families", "kernel,lowrank,dws", "--jobs", "1"],
             [DISTILL, "profile", "--db", LIB, "--device", "jetson-nano"],
             [DISTILL, "profile", "--db", LIB, "--device", "rpi4"]):
    r = run(args)
    if not check(r.returncode == 0, "%s: %s" % (" ".join(args[1:3]), r.stderr[-400:])):
        sys.exit(1)

log = open(os.path.join(T, "hantd.log"), "w")
# hantd writes each entry's ONNX file in this user's directory of its state; hant-client regen copies it to --out.
STATE = os.path.join(T, "state")
daemon = subprocess.Popen([HANTD, "--foreground", "--db", LIB, "--socket", SOCK, "--state-dir", STATE], stdout=log,
                          stderr=log, env=ENV)
try:
    for _ in range(200):
        if os.path.exists(SOCK):
            break
        time.sleep(0.05)
    check(os.path.exists(SOCK), "hantd serves its socket")

    step("transform --finetune: predicted and measured accuracy side by side")
    onnx = os.path.join(T, "ft.onnx")
    r = run([CLIENT, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", onnx, "--finetune", "1",
             "--finetune-samples", "500", "--eval-samples", "300"])
    check(r.returncode == 0 and "predicted" in r.stdout and "measured val" in r.stdout and os.path.getsize(onnx) > 0,
          "transform --finetune: rc %d %s %s" % (r.returncode, r.stdout[-400:], r.stderr[-400:]))
    check("before 1 epoch of KD fine-tuning" in r.stdout and "1 epochs" not in r.stdout,
          "one epoch in the singular: %s" % r.stdout[-300:])
    step("transform --finetune auto: as many epochs as the assembled network's validation loss asks")
    r = run([CLIENT, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", onnx, "--finetune", "auto",
             "--finetune-samples", "200", "--eval-samples", "300", "--json"])
    job = {}
    try:  # the answer's line, then the job's
        job = [json.loads(line) for line in r.stdout.splitlines() if line.strip()][-1].get("result") or {}
    except (ValueError, IndexError):
        pass
    ft, meas = job.get("finetune", {}), job.get("measured", {})
    loss = ft.get("assembled_val_loss_points")
    want = None if loss is None else 3 if loss <= 2 else 8 if loss <= 8 else 16
    check(r.returncode == 0 and ft.get("epochs_chosen") == "auto" and job.get("finetune_epochs") == want and
          abs(loss - 100 * (meas["teacher_val_accuracy"] - meas["val_accuracy_before_finetune"])) < 1e-6,
          "transform --finetune auto: rc %d, epochs %s for a loss of %s: %s %s" %
          (r.returncode, job.get("finetune_epochs"), loss, r.stdout[-600:], r.stderr[-300:]))
    r = run([CLIENT, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", onnx, "--finetune", "lots"])
    check(r.returncode == 2 and "--finetune: expected a whole number of epochs" in r.stderr and "auto" in r.stderr,
          "--finetune lots is a usage error naming the option: %s" % r.stderr)
    m = rpc("transform", {"device": "jetson-nano", "budgets": ["2W"], "out": onnx, "finetune_epochs": "many"})
    check(m.get("error", {}).get("code") is not None and "finetune_epochs" in json.dumps(m["error"]) and
          "auto" in json.dumps(m["error"]), "finetune_epochs \"many\" is refused by name: %s" % m)
    r = run([CLIENT, "transform", "--device", "rpi4", "--budget", "1ms"])
    check(r.returncode == 0 and "1 mode tried" in r.stdout, "one power mode in the singular: %s" % r.stdout[-300:])
    r = run([CLIENT, "transform", "--help"])
    check("[--measure]" in r.stdout, "transform's usage line lists --measure: %s" % r.stdout[:400])
    r = run([CLIENT, "transform", "--device", "jetson-nano", "--budget", "2W", "--finetune", "1"])
    check(r.returncode == 2 and "--out" in r.stderr, "--finetune without --out is a usage error: %s" % r.stderr)

    step("devices: per-device digests")
    devs = {d["name"]: d for d in rpc("devices")["result"]["devices"]}
    check(all(len(devs[n].get("costs_sha256", "")) == 64 and len(devs[n].get("profile_sha256", "")) == 64
              for n in ("jetson-nano", "rpi4")), "devices has profile_sha256 and costs_sha256: %s" % devs.keys())
    check(devs["jetson-nano"]["teacher_costs"] and devs["jetson-nano"]["teacher_costs"][0]["energy_mj"] > 0,
          "devices has the teacher's costs: %s" % devs["jetson-nano"].get("teacher_costs"))

    FLEET = os.path.join(T, "fleet.json")
    json.dump({"fleet": "test", "defaults": {"finetune_samples": 500, "eval_samples": 300},
               "devices": [{"device": "jetson-nano", "entries": [{"budgets": ["2W"], "fps": 30, "finetune_epochs": 1},
                                                                 {"budgets": ["45us", "12KB"]}]},
                           {"device": "rpi4", "entries": [{"budgets": ["0.2ms"]}]}]}, open(FLEET, "w"))
    OUT = os.path.join(T, "out")

    step("regen: first run generates every entry")
    rc, s, err = regen(FLEET, OUT)
    check(rc == 0 and s.get("generated") == 3 and s.get("failed") == 0, "first run: rc %d %s %s" % (rc, s, err[-600:]))
    names = [("jetson-nano", "2W_30fps"), ("jetson-nano", "45us_12KB"), ("rpi4", "0.2ms")]
    for dev, name in names:
        base = os.path.join(OUT, dev, name)
        ok = os.path.getsize(base + ".onnx") > 0 if os.path.exists(base + ".onnx") else False
        check(ok, "%s.onnx written" % base)
        try:
            d = json.load(open(base + ".json"))
        except (OSError, ValueError) as e:
            check(False, "%s.json: %s" % (base, e))
            continue
        check(0 <= d["measured"]["test_accuracy"] <= 1 and "accuracy" in d["predicted"] and d["choice"]
              and d["library_version"] > 0 and set(d["inputs"]) >= {"teacher_sha256", "candidates_sha256",
                                                                    "device_profile_sha256", "device_costs_sha256",
                                                                    "entry_sha256", "hant_version"},
              "%s.json has the choice, predicted, measured, library version and input hashes" % base)
    check(not [f for f in snapshot(OUT) if ".tmp" in f], "no temporary files left")
    own = os.path.join(STATE, "users", str(os.geteuid()))
    check(os.path.exists(os.path.join(own, "jetson-nano@2W_30fps.onnx")),
          "hantd wrote in this user's directory of its state, the client placed the files: %s" %
          (os.listdir(own) if os.path.isdir(own) else "no " + own))
    for f in ("report.md", "report.html"):
        check(os.path.exists(os.path.join(OUT, f)), f + " written")

    plan = s.get("plan", {})
    check(len(plan.get("entries", [])) == 3 and plan.get("estimate_s", 0) > 0 and plan.get("mac_per_s", 0) > 0
          and all(x["finetune_images"] == 500 and x["macs"] > 0 for x in plan["entries"]),
          "the plan lists every entry with its images, MACs and an estimate: %s" % plan)

    step("regen: a second run does nothing")
    before = snapshot(OUT)
    rc, s, err = regen(FLEET, OUT)
    check(rc == 0 and s.get("unchanged") == 3 and s.get("generated") == 0, "second run: rc %d %s" % (rc, s))
    check(snapshot(OUT) == before, "second run left every file untouched")

    step("re-profiling rpi4 with a changed profile regenerates only its entries")
    p = os.path.join(DEVS, "rpi4.json")
    prof = json.load(open(p))
    prof["overhead"]["value"] = prof["overhead"]["value"] * 2
    json.dump(prof, open(p, "w"), indent=2)
    v0 = rpc("version")["result"]["library_version"]
    r = run([DISTILL, "profile", "--db", LIB, "--device", "rpi4"])
    check(r.returncode == 0, "re-profile rpi4: " + r.stderr[-300:])
    daemon.send_signal(signal.SIGHUP)
    for _ in range(200):
        if rpc("version")["result"]["library_version"] != v0:
            break
        time.sleep(0.05)
    before = snapshot(OUT)
    rc, s, err = regen(FLEET, OUT)
    e = by_name(s)
    check(rc == 0 and e.get(("rpi4", "0.2ms"), {}).get("status") == "generated"
          and e.get(("jetson-nano", "2W_30fps"), {}).get("status") == "unchanged"
          and e.get(("jetson-nano", "45us_12KB"), {}).get("status") == "unchanged",
          "only rpi4 regenerated: rc %d %s %s" % (rc, s, err[-300:]))
    after = snapshot(OUT)
    check(all(after[f] == before[f] for f in before if f.startswith("jetson-nano/")),
          "jetson-nano's files untouched by rpi4's re-profiling")
    check(after["rpi4/0.2ms.json"] != before["rpi4/0.2ms.json"], "rpi4's .json rewritten")

    step("the plan up front; --finetune-epochs and --finetune-images win over the fleet")
    FT = os.path.join(T, "ft-fleet.json")
    json.dump({"defaults": {"finetune_images": 400, "finetune_epochs": 2, "eval_samples": 200},
               "devices": [{"device": "jetson-nano", "entries": [{"budgets": ["2W"]},
                                                                 {"budgets": ["3W"], "finetune_images": 1,
                                                                  "finetune_samples": 1}]}]}, open(FT, "w"))
    OUT3 = os.path.join(T, "out3")
    r = run([CLIENT, "regen", FT, "--out", OUT3])
    plan_text = r.stderr.split("regen: jetson-nano/2W ...")[0]
    check(r.returncode == 6 and "regen plan: 1 of 2 entries to make, about" in plan_text
          and "jetson-nano/2W: fine-tune 400 images x 2 epochs, evaluate 200;" in plan_text
          and "GMAC/s, built-in figure" in plan_text,
          "the plan comes before the work, with images, epochs and an estimate: rc %d %s" % (r.returncode, r.stderr))
    check("finetune_samples: the older name of finetune_images" in r.stderr,
          "an entry giving both names fails alone: %s" % r.stderr[-500:])
    doc = json.load(open(os.path.join(OUT3, "jetson-nano", "2W.json")))
    check(doc["finetune"]["samples"] == 400 and doc["finetune_epochs"] == 2, "the fleet's finetune_images: %s" %
          doc.get("finetune"))
    check(doc["finetune"]["clip_norm"] == 0 and doc["finetune"]["retried_clipped"] is False,
          "fine-tuned without a clip, no second run needed: %s" % doc.get("finetune"))
    rc, s3, err = regen(FT, OUT3, "--finetune-epochs", "1", "--finetune-images", "300")
    pe = {x["name"]: x for x in s3.get("plan", {}).get("entries", [])}
    check(by_name(s3).get(("jetson-nano", "2W"), {}).get("status") == "generated" and
          pe.get("2W", {}).get("finetune_epochs") == 1 and pe["2W"].get("finetune_images") == 300 and
          s3["plan"]["mac_per_s_source"] == "recorded", "the command line wins and remakes the entry: %s %s" % (s3, err))
    doc = json.load(open(os.path.join(OUT3, "jetson-nano", "2W.json")))
    check(doc["finetune"]["samples"] == 300 and doc["finetune_epochs"] == 1, "fine-tuned as the command line said: %s"
          % doc.get("finetune"))
    rc, s4, err = regen(FT, OUT3, "--finetune-epochs", "auto", "--finetune-images", "300")
    pe = {x["name"]: x for x in s4.get("plan", {}).get("entries", [])}
    doc = json.load(open(os.path.join(OUT3, "jetson-nano", "2W.json")))
    loss = doc.get("finetune", {}).get("assembled_val_loss_points")
    want = None if loss is None else 3 if loss <= 2 else 8 if loss <= 8 else 16
    check(by_name(s4).get(("jetson-nano", "2W"), {}).get("status") == "generated" and
          pe.get("2W", {}).get("finetune_epochs") == "auto" and doc["finetune"].get("epochs_chosen") == "auto" and
          doc["finetune_epochs"] == want, "--finetune-epochs auto remakes the entry with the epochs its loss asks: "
          "%s %s %s" % (pe.get("2W"), doc.get("finetune"), doc.get("finetune_epochs")))
    LOTS = os.path.join(T, "lots-fleet.json")
    json.dump({"devices": [{"device": "jetson-nano", "entries": [{"budgets": ["2W"], "finetune_epochs": "lots"}]}]},
              open(LOTS, "w"))
    r = run([CLIENT, "regen", LOTS, "--out", os.path.join(T, "out-lots")])
    check(r.returncode == 6 and "finetune_epochs" in r.stderr and 'expected a whole number of epochs or "auto"'
          in r.stderr, "a fleet's finetune_epochs \"lots\" fails its entry by name: rc %d %s" % (r.returncode,
                                                                                                r.stderr[-400:]))
    r = run([CLIENT, "regen", FT, "--out", OUT3, "--finetune-epochs", "some"])
    check(r.returncode == 2 and "--finetune-epochs: expected a whole number of epochs" in r.stderr,
          "--finetune-epochs some is a usage error: %s" % r.stderr)
    r = run([CLIENT, "regen", FT, "--out", OUT3, "--finetune-images", "60000"])
    check(r.returncode == 2 and "finetune-images" in r.stderr, "--finetune-images out of range: %s" % r.stderr)

    step("a fleet with an unknown device, a bad unit and an infeasible budget")
    BAD = os.path.join(T, "bad-fleet.json")
    json.dump({"devices": [{"device": "jetson-nano", "entries": [{"budgets": ["2W"]}]},
                           {"device": "no-such-board", "entries": [{"budgets": ["2W"]}]},
                           {"device": "rpi4", "entries": [{"budgets": ["2w"]}, {"budgets": ["1uJ"]}]}]},
              open(BAD, "w"))
    OUT2 = os.path.join(T, "out2")
    rc, s, err = regen(BAD, OUT2)
    e = by_name(s)
    check(rc == 6 and s.get("generated") == 1 and s.get("failed") == 3, "bad fleet: rc %d %s" % (rc, s))
    check("no-such-board" in (e.get(("no-such-board", "2W"), {}).get("error") or ""), "unknown device named: %s" % e)
    check(any("did you mean '2W'" in (x.get("error") or "") and "budgets[0]" in x["error"] for x in e.values()),
          "bad unit gets a suggestion naming the field: %s" % e)
    check("infeasible" in (e.get(("rpi4", "1uJ"), {}).get("error") or ""), "infeasible budget reported: %s" % e)
    check("3 of 4 entries failed" in err and "no-such-board/2W" in err, "failure summary on stderr: %s" % err[-600:])
    check(os.path.exists(os.path.join(OUT2, "jetson-nano", "2W.json")), "the good entry still succeeded")

    r = run([CLIENT, "regen", os.path.join(T, "nope.json"), "--out", OUT2])
    check(r.returncode == 1 and "nope.json" in r.stderr, "a missing fleet file: rc %d %s" % (r.returncode, r.stderr))
    open(os.path.join(T, "broken.json"), "w").write("{\"devices\": [")
    r = run([CLIENT, "regen", os.path.join(T, "broken.json"), "--out", OUT2])
    check(r.returncode == 1 and "broken.json: line" in r.stderr, "malformed JSON: rc %d %s" % (r.returncode, r.stderr))

    step("SVG plots parse and mark each chosen point once")
    for out, chosen in ((OUT, {"jetson-nano": 2, "rpi4": 1}), (OUT2, {"jetson-nano": 1, "rpi4": 0})):
        for dev, n in chosen.items():
            for axis in ("energy", "latency"):
                path = os.path.join(out, "plots", "%s-%s.svg" % (dev, axis))
                try:
                    root = ET.parse(path).getroot()
                except (OSError, ET.ParseError) as ex:
                    check(False, "%s parses: %s" % (path, ex))
                    continue
                circles = [el for el in root.iter("{http://www.w3.org/2000/svg}circle")
                           if "chosen" in el.get("class", "").split()]
                refs = [el for el in root.iter("{http://www.w3.org/2000/svg}rect")
                        if "reference" in el.get("class", "").split()]
                check(len(circles) == n, "%s: %d chosen markers, expected %d" % (path, len(circles), n))
                check(len(refs) == 1, "%s: the teacher marked once (%d)" % (path, len(refs)))

    step("the HTML report in headless Chromium")
    if not chromium.find():
        print("  (skipped: chromium is not installed; scripts/install-deps.sh installs it)")
    else:
        png = os.path.join(ARTIFACTS, "regen-report.png")
        r = chromium.screenshot(os.path.join(OUT, "report.html"), png, 1000, 800, T)
        if check(os.path.exists(png) and os.path.getsize(png) > 0, "screenshot written: rc %d %s" %
                 (r.returncode, r.stderr[-400:])):
            w, h, bpp, rows = png_pixels(png)
            px = [row[i:i + 3] for row in rows[::8] for i in range(0, len(row), bpp * 8)]
            colours = len(set(px))
            dark = sum(1 for p in px if sum(p) < 300) / max(1, len(px))
            check(w == 1000 and colours >= 4 and 0.001 < dark < 0.9,
                  "screenshot is not blank: %dx%d, %d colours, %.3f dark" % (w, h, colours, dark))
        g, err = chromium.geometry(os.path.join(OUT, "report.html"), 1400, 1800, T)
        if check(g is not None, "the report's geometry: %s" % err[-300:]):
            check(sorted(x["cells"][0] for x in g["rows"] if x["cls"] == "teacher") == ["jetson-nano", "rpi4"],
                  "a teacher row per device: %s" % [x for x in g["rows"] if x["cls"] == "teacher"])
            for sv in g["svgs"]:
                bad = [b for b in sv["chosen"] + sv["measured"] + sv["reference"]
                       if not chromium.centre_inside(b, sv["plot"])]
                check(not bad and not chromium.overlap(sv["title"], sv["legend"]),
                      "%s: markers inside the plot, title clear of the legend: %s" % (sv["title_text"], bad))
                check(len(sv["measured"]) == len(sv["chosen"]), "%s: a measured point per evaluated entry" %
                      sv["title_text"])

    step("the example fleet follows schema/fleet.schema.json")
    try:
        import jsonschema
        schema = json.load(open(os.path.join(SRC, "schema", "fleet.schema.json")))
        for f in (os.path.join(SRC, "docs", "examples", "example-fleet.json"), FLEET, BAD):
            try:
                jsonschema.Draft202012Validator(schema).validate(json.load(open(f)))
                check(True, "")
            except jsonschema.ValidationError as ex:
                check(False, "%s does not follow the schema: %s" % (f, ex.message))
    except ImportError:
        print("  (skipped: python3-jsonschema is not installed)")
finally:
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
    log.close()

print("%d passed, %d failed (%.1f s)" % (checks.passed, checks.failed, time.time() - T0))
if checks.failed:
    print("kept " + T, file=sys.stderr)
    sys.exit(1)
shutil.rmtree(T, ignore_errors=True)
