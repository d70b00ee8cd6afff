# SPDX-License-Identifier: MIT
"""The torchvision edge zoo end to end: train briefly, build, profile on rpi4, transform at half the teacher's
energy, and check the export in ONNX Runtime against the accuracy hant reports.

usage: zoo_transform.py --distill PATH --hantd PATH --client PATH [--arch A,B,...] [--steps N] [--batch B]
                        [--build-args "ARGS"] [--budget B] [--transform-args "ARGS"] [--eval-samples N]
                        [--tol POINTS] [--keep DIR] [--json]

For each architecture (default: resnet18, mobilenet_v2, mobilenet_v3_small, efficientnet_b0,
shufflenet_v2_x1_0):
  train      tests/onnx/zoo.py's builder (Debian's torchvision, num_classes=10, 1-channel stem) trained in
             PyTorch for --steps steps (default 100) of Adam (learning rate 1e-3, batch --batch, default 64) on
             hant's training split (the first 55,000 Fashion-MNIST training images, pixels in [0, 1]), seed 0,
             one thread; batch-norm statistics recomputed on 2048 training images; exported by
             torch.onnx.export at opset 13;
  build      hant-distill build --teacher M.onnx --db L.db --json plus --build-args (default --preset quick
             --samples 1024 --val-samples 500: the quick preset on a quarter of its training images);
  profile    hant-distill profile --db L.db --device rpi4 (modelled from devices/rpi4.json);
  transform  hantd on a private socket and state directory, then hant-client transform --device rpi4
             --budget 50%energy --out net.onnx --eval --eval-samples N --json plus --transform-args;
  ort        tests/onnx/ort_run.mjs (npm onnxruntime-node) on the teacher and on net.onnx, on the same first N
             Fashion-MNIST test images (N = --eval-samples, 0 or absent: all 10,000).
The data directory is HANT_FMNIST_DIR, else hant's default /usr/share/datasets/fashion-mnist.

It prints a table to stdout (with --json, one object per architecture): teacher test accuracy by hant and by
ONNX Runtime, slots, candidates, the chosen network's energy against the teacher's on rpi4, the chosen
network's test accuracy by hant and by ONNX Runtime and their difference, and the wall time of each step.
Progress goes to stderr. Exit status: 0 when every architecture went through and hant and ONNX Runtime agree
within --tol percentage points (default 0.1) on both networks, 1 otherwise, 2 on a usage error.
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "onnx"))
import zoo  # noqa: E402 - tests/onnx/zoo.py: the one builder of the zoo's networks

ARCHS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x1_0"]
ORT_JS = os.path.join(ROOT, "tests", "onnx", "ort_run.mjs")
TRAIN_IMAGES = 55000  # hant's training split: training images 0-54999


def log(msg):
    print("zoo_transform: " + msg, file=sys.stderr, flush=True)


def data_dir():
    e = os.environ.get("HANT_FMNIST_DIR")
    return e if e else "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (plain or .gz) as a numpy array of its dimensions."""
    import numpy as np
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] != 8:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


class StepError(Exception):
    """A step that failed: which step and what it said."""

    def __init__(self, step, msg):
        super().__init__(f"{step}: {msg}")
        self.step = step


def run(step, cmd, out=None, timeout=None):
    """Runs cmd; stdout to the file out (or captured); raises StepError naming the step on failure."""
    with open(out, "w") if out else open(os.devnull, "w") as sink:
        p = subprocess.run(cmd, stdout=sink if out else subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
    if p.returncode:
        tail = [ln for ln in p.stderr.strip().splitlines() if ln.strip()][-3:]
        raise StepError(step, f"{os.path.basename(cmd[0])} exit {p.returncode}: " + " | ".join(tail))
    return p


def train(name, steps, batch, onnx_path, eval_n):
    """Trains zoo's `name` on the training split and exports it; returns PyTorch's accuracy (0-1) on the first
    eval_n test images (0: all)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    # One thread: on a shared machine two threads that wait for each other made a step ten times slower.
    torch.set_num_threads(1)
    d = data_dir()
    x = read_idx(os.path.join(d, "train-images-idx3-ubyte"))[:TRAIN_IMAGES]
    y = read_idx(os.path.join(d, "train-labels-idx1-ubyte"))[:TRAIN_IMAGES]
    xt = read_idx(os.path.join(d, "t10k-images-idx3-ubyte"))
    yt = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte"))
    model = zoo.build(name, 1)  # seeds torch with 0 itself
    # zoo.build draws batch-norm statistics at random to test folding; a trained teacher starts from the
    # usual ones, so the running statistics describe this data once training has run.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    pos = 0
    for _ in range(steps):
        if pos + batch > len(order):
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos:pos + batch]
        pos += batch
        xb = torch.from_numpy(x[idx].astype(np.float32) / 255.0).unsqueeze(1)
        loss = F.cross_entropy(model(xb), torch.from_numpy(y[idx].astype(np.int64)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    # Batch-norm statistics recomputed once training is done, as a plain average over 2048 training images in
    # train mode: a few hundred steps are too few for torchvision's running averages (momentum 0.01 in
    # MobileNetV3 and EfficientNet) to forget their start.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        for b in range(0, 2048, 256):
            model(torch.from_numpy(x[order[b:b + 256]].astype(np.float32) / 255.0).unsqueeze(1))
    model.eval()
    n = len(xt) if not eval_n else min(eval_n, len(xt))
    correct = 0
    with torch.no_grad():
        for b in range(0, n, 500):
            e = min(b + 500, n)
            xb = torch.from_numpy(xt[b:e].astype(np.float32) / 255.0).unsqueeze(1)
            correct += int((model(xb).argmax(1).numpy() == yt[b:e]).sum())
        torch.onnx.export(model, torch.zeros(2, 1, 28, 28), onnx_path, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    return correct / n


def start_daemon(args, db, tmp):
    sock, state = os.path.join(tmp, "hantd.sock"), os.path.join(tmp, "hantd-state")
    errf = open(os.path.join(tmp, "hantd.log"), "w")
    proc = subprocess.Popen([args.hantd, "--db", db, "--socket", sock, "--state-dir", state, "--foreground",
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=errf)
    errf.close()
    for _ in range(300):
        if proc.poll() is not None:
            with open(os.path.join(tmp, "hantd.log")) as f:
                raise StepError("transform", "hantd exited: " + " | ".join(f.read().strip().splitlines()[-3:]))
        if subprocess.run([args.client, "--socket", sock, "status"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            return proc, sock
        time.sleep(0.1)
    stop_daemon(proc)
    raise StepError("transform", f"hantd did not answer on {sock} within 30 s")


def stop_daemon(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ort_accuracy(model, n):
    cmd = ["node", ORT_JS, "fmnist", model, data_dir(), "--threads", "2"]
    if n:
        cmd += ["--samples", str(n)]
    p = run("ort", cmd)
    return json.loads(p.stdout)


def json_lines(path):
    with open(path) as f:
        return [json.loads(ln) for ln in f if ln.strip()]


def run_one(args, name, tmp):
    row = {"arch": name, "train_steps": args.steps, "batch": args.batch, "transform_args": args.transform_args, "torch_teacher_test_accuracy": None,
           "slots": None, "candidates": None, "teacher_energy_mj": None, "energy_mj": None,
           "teacher_test_accuracy": None, "ort_teacher_test_accuracy": None, "test_accuracy": None,
           "ort_test_accuracy": None, "test_images": None, "seconds": {}, "error": None}
    model, db, net = os.path.join(tmp, "teacher.onnx"), os.path.join(tmp, "L.db"), os.path.join(tmp, "net.onnx")

    def timed(step, fn):
        t = time.monotonic()
        log(f"{name}: {step} ...")
        try:
            return fn()
        finally:
            row["seconds"][step] = round(time.monotonic() - t, 1)
            log(f"{name}: {step} done in {row['seconds'][step]} s")

    try:
        try:
            row["torch_teacher_test_accuracy"] = timed("train", lambda: train(name, args.steps, args.batch, model,
                                                                                   args.eval_samples))
        except Exception as e:  # noqa: BLE001 - a row reports whatever went wrong in PyTorch
            raise StepError("train", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        log(f"{name}: PyTorch teacher test accuracy {100 * row['torch_teacher_test_accuracy']:.2f} %")
        build_jsonl = os.path.join(tmp, "build.jsonl")
        timed("build", lambda: run("build", [args.distill, "build", "--teacher", model, "--db", db, "--json"] +
                                   args.build_args.split(), out=build_jsonl))
        summary = json_lines(build_jsonl)[-1]
        row["slots"], row["candidates"] = summary.get("slots"), summary.get("planned")
        timed("profile", lambda: run("profile", [args.distill, "profile", "--db", db, "--device", "rpi4", "-q"]))
        lib_json = os.path.join(tmp, "library.json")
        run("library", [args.distill, "library", "--db", db, "--json"], out=lib_json)
        with open(lib_json) as f:
            lib = json.load(f)
        # The teacher's own blocks summed on rpi4, as the solver sees the teacher (the 50% budget's base).
        row["teacher_energy_mj"] = sum(c["costs"]["rpi4"]["energy_mj"] for s in lib["slots"]
                                       for c in s["candidates"] if c["key"] == "teacher")

        def transform():
            proc, sock = start_daemon(args, db, tmp)
            try:
                cmd = [args.client, "--socket", sock, "transform", "--device", "rpi4", "--budget", args.budget,
                       "--out", net, "--eval", "--eval-samples", str(args.eval_samples), "--json"] + \
                    args.transform_args.split()
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                if p.returncode == 4:  # infeasible: say how far the library can go
                    least = json.loads(p.stdout.splitlines()[0]).get("min_totals") or {}
                    raise StepError("transform", f"infeasible at {args.budget}: the least energy the library "
                                                 f"reaches on rpi4 is {least.get('energy_mj', float('nan')):.3g} mJ "
                                                 f"against the teacher's {row['teacher_energy_mj']:.3g} mJ")
                if p.returncode:
                    tail = [ln for ln in p.stderr.strip().splitlines() if ln.strip()][-3:]
                    raise StepError("transform", f"hant-client exit {p.returncode}: " + " | ".join(tail))
                return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
            finally:
                stop_daemon(proc)
        lines = timed("transform", transform)
        answer = lines[0]
        job = next((ln["result"] for ln in lines[1:] if isinstance((ln.get("result") or {}).get("measured"), dict)),
                   None)
        if answer.get("status") == "infeasible" or job is None:
            raise StepError("transform", "no evaluated export in the answer: " + json.dumps(lines)[:300])
        row["energy_mj"] = answer["totals"]["energy_mj"]
        row["teacher_energy_mj"] = answer["teacher"]["totals"]["energy_mj"]  # the base of the relative budget
        m = job["measured"]
        row["teacher_test_accuracy"], row["test_accuracy"] = m["teacher_test_accuracy"], m["test_accuracy"]
        row["test_images"] = m["test_images"]

        def ort():
            t = ort_accuracy(model, args.eval_samples)
            c = ort_accuracy(net, args.eval_samples)
            if t["n"] != row["test_images"] or c["n"] != row["test_images"]:
                raise StepError("ort", f"ONNX Runtime read {t['n']} and {c['n']} test images, hant "
                                       f"{row['test_images']}")
            return t["accuracy"], c["accuracy"]
        row["ort_teacher_test_accuracy"], row["ort_test_accuracy"] = timed("ort", ort)
        for what, a, b in (("teacher", row["teacher_test_accuracy"], row["ort_teacher_test_accuracy"]),
                           ("chosen network", row["test_accuracy"], row["ort_test_accuracy"])):
            if abs(a - b) * 100 > args.tol + 1e-9:
                raise StepError("ort", f"{what}: hant {100 * a:.2f} % against ONNX Runtime {100 * b:.2f} % "
                                       f"on the same {row['test_images']} test images (more than {args.tol} points)")
    except StepError as e:
        row["error"] = str(e)
    except subprocess.TimeoutExpired as e:
        row["error"] = f"timeout: {e}"
    if args.keep:
        dst = os.path.join(args.keep, name)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(tmp, dst, ignore=shutil.ignore_patterns("*.sock"))
        with open(os.path.join(dst, "row.json"), "w") as f:
            json.dump(row, f)
    return row


def pct(v):
    return "-" if v is None else f"{100 * v:.2f}"


def print_table(rows):
    head = ("architecture", "teacher hant", "teacher ORT", "slots", "candidates", "energy rpi4 (mJ)",
            "chosen hant", "chosen ORT", "diff", "test images", "seconds: train/build/profile/transform/ort")
    out = []
    for r in rows:
        energy = "-"
        if r["energy_mj"] is not None and r["teacher_energy_mj"]:
            energy = (f"{r['teacher_energy_mj']:.3g} -> {r['energy_mj']:.3g} "
                      f"({100 * r['energy_mj'] / r['teacher_energy_mj']:.0f}%)")
        diff = "-"
        if r["test_accuracy"] is not None and r["ort_test_accuracy"] is not None:
            diff = f"{100 * (r['test_accuracy'] - r['ort_test_accuracy']):+.2f}"
        secs = "/".join(str(r["seconds"].get(s, "-")) for s in ("train", "build", "profile", "transform", "ort"))
        out.append((r["arch"], pct(r["teacher_test_accuracy"]), pct(r["ort_teacher_test_accuracy"]),
                    "-" if r["slots"] is None else str(r["slots"]),
                    "-" if r["candidates"] is None else str(r["candidates"]), energy, pct(r["test_accuracy"]),
                    pct(r["ort_test_accuracy"]), diff, "-" if r["test_images"] is None else str(r["test_images"]),
                    secs))
    w = [max(len(x[i]) for x in out + [head]) for i in range(len(head))]
    for x in [head] + out:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(x)).rstrip(), flush=True)
    for r in rows:
        if r["error"]:
            print(f"{r['arch']}: {r['error']}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--distill", required=True, help="hant-distill (build/distill/hant-distill)")
    ap.add_argument("--hantd", required=True, help="hantd (build/daemon/hantd)")
    ap.add_argument("--client", required=True, help="hant-client (build/client/hant-client)")
    ap.add_argument("--arch", default=",".join(ARCHS), help="comma-separated architectures (default: the five)")
    ap.add_argument("--steps", type=int, default=100, help="teacher training steps (default 100)")
    ap.add_argument("--batch", type=int, default=64, help="teacher training batch (default 64)")
    ap.add_argument("--build-args", default="--preset quick --samples 1024 --val-samples 500",
                    help="hant-distill build options after --teacher/--db/--json (default '--preset quick "
                         "--samples 1024 --val-samples 500')")
    ap.add_argument("--budget", default="50%energy", help="hant-client transform's budget (default 50%%energy)")
    ap.add_argument("--transform-args", default="",
                    help="more hant-client transform options, e.g. '--finetune 1 --finetune-samples 4096'")
    ap.add_argument("--eval-samples", type=int, default=0,
                    help="the first N test images for hant and ONNX Runtime (default 0: all 10,000)")
    ap.add_argument("--tol", type=float, default=0.1, help="largest hant - ORT difference, points (default 0.1)")
    ap.add_argument("--keep", default=None, help="copy each architecture's files and its row (row.json) into DIR/ARCH")
    ap.add_argument("--json", action="store_true", help="one JSON object per architecture on stdout")
    args = ap.parse_args()
    archs = [a for a in args.arch.split(",") if a]
    unknown = [a for a in archs if a not in zoo.ARCHS]
    if unknown or args.steps < 1 or args.batch < 1 or args.eval_samples < 0:
        print("zoo_transform.py: " + (f"unknown architecture(s) {', '.join(unknown)}; known: {', '.join(zoo.ARCHS)}"
                                      if unknown else "--steps and --batch must be >= 1, --eval-samples >= 0"),
              file=sys.stderr)
        return 2
    if not os.path.isdir(os.path.join(ROOT, "tests", "onnx", "node_modules", "onnxruntime-node")):
        print("zoo_transform.py: onnxruntime-node is missing: run scripts/install-ort.sh", file=sys.stderr)
        return 1
    for p in (args.distill, args.hantd, args.client):
        if not os.access(p, os.X_OK):
            print(f"zoo_transform.py: {p} is not an executable (build first)", file=sys.stderr)
            return 2
    args.distill, args.hantd, args.client = (os.path.abspath(p) for p in (args.distill, args.hantd, args.client))
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    rows = []
    for name in archs:
        with tempfile.TemporaryDirectory(prefix=f"hant-zoo-{name}.") as tmp:
            row = run_one(args, name, tmp)
        rows.append(row)
        if row["error"]:
            log(f"{name}: failed at {row['error']}")
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        print_table(rows)
    ok = sum(1 for r in rows if not r["error"])
    log(f"{ok} of {len(rows)} architectures trained, built, profiled, transformed and matched in ONNX Runtime")
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
