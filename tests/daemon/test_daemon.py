#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_daemon.py: the real hantd on a real socket, driven by the real hant-client and by raw socket writes:
# round trips, every protocol error, garbage, oversize and split messages, 200 concurrent clients, reload and
# shutdown under load, jobs across a restart, peer uid checks, socket mode, stale sockets, and the places where
# hantd writes and reads the files another user names (run as that user: nobody).
#   test_daemon.py HANTD HANT_CLIENT HANT_DISTILL
import json
import os
import random
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time

HANTD, CLIENT, DISTILL = sys.argv[1:4]
with open(HANTD, "rb") as f:
    SANITIZED = b"__asan_init" in f.read()
SLOW = 4 if SANITIZED else 1  # timeouts scale under AddressSanitizer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402


# Answers are checked against schema/rpc/*.schema.json when python3-jsonschema is installed.
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schema", "rpc")
try:
    import jsonschema

    SCHEMAS = {}
    for _f in os.listdir(SCHEMA_DIR):
        with open(os.path.join(SCHEMA_DIR, _f)) as _fh:
            SCHEMAS[_f[:-len(".schema.json")]] = json.load(_fh)
except ImportError:
    SCHEMAS = None
    print("(answers not checked against schema/rpc: python3-jsonschema is not installed)")
SCHEMA_CHECKS = [0]


VALIDATORS = {}
SCHEMA_LOCK = threading.Lock()


def validator(method, part):
    key = (method, part)
    if key not in VALIDATORS:
        defs = SCHEMAS["envelope"]["$defs"] if method == "envelope" else None
        root = {"$ref": "#/$defs/" + part, "$defs": defs} if defs else dict(SCHEMAS[method], **{"$ref": "#/$defs/" + part})
        VALIDATORS[key] = jsonschema.Draft202012Validator(root)
    return VALIDATORS[key]


def schema_check(method, params, msg):
    """Validates a request's params and its answer against the method's schema and the envelope
    (up to 100 answers per method: validation is slow and the hammer sends thousands)."""
    if SCHEMAS is None or method not in SCHEMAS or msg is None:
        return
    with SCHEMA_LOCK:
        n = SCHEMA_CHECKS_BY.get(method, 0)
        if n >= 100:
            return
        SCHEMA_CHECKS_BY[method] = n + 1
        try:
            validator("envelope", "response").validate(msg)
            if params is not None:
                validator(method, "params").validate(params)
            if "result" in msg:
                validator(method, "result").validate(msg["result"])
            SCHEMA_CHECKS[0] += 1
        except jsonschema.ValidationError as e:
            check(False, "%s answer does not follow schema/rpc/%s.schema.json: %s at %s" %
                  (method, method, e.message[:200], list(e.absolute_path)))


SCHEMA_CHECKS_BY = {}


T = tempfile.mkdtemp(prefix="hant-daemon-test.")
os.chmod(T, 0o711)  # the uid test reaches the socket as another user
ALL_DAEMONS = []  # stopped at the end whatever happened
# hantd writes and reads the files a client names only in its places: each peer's own directory under its state
# directory (T/state-NAME/users/UID), and the directories configured here. The client places the files it asked
# for itself, so these are only for raw requests that name absolute paths.
OUTS = os.path.join(T, "out")        # output_dirs of the daemons that need one
MODELS = os.path.join(T, "models")   # model_dirs: models evaluated by jobs
os.makedirs(OUTS)
os.makedirs(MODELS)
PLACES = "output_dirs = %s\nmodel_dirs = %s\n" % (OUTS, MODELS)


def run(args, timeout=300, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout * SLOW, **kw)


class Daemon:
    """One hantd process on its own socket, with its log in T."""

    def __init__(self, name, db, config="", sock=None):
        self.name, self.db = name, db
        self.sock = sock or os.path.join(T, name + ".sock")
        self.state = os.path.join(T, "state-" + name)
        self.cfg = os.path.join(T, name + ".conf")
        self.log = os.path.join(T, name + ".log")
        with open(self.cfg, "w") as f:
            f.write(config)
        self.proc = None
        ALL_DAEMONS.append(self)

    def start(self, expect_ok=True):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([HANTD, "--foreground", "--db", self.db, "--socket", self.sock, "--state-dir",
                                      self.state, "--config", self.cfg, "--log-level", "info"], stdout=logf, stderr=logf)
        logf.close()
        deadline = time.time() + 30 * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return True
            except OSError:
                time.sleep(0.02)
        if expect_ok:
            check(False, "%s did not start: %s" % (self.name, self.tail()))
        return False

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "timeout"

    def tail(self, n=15):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))


class Conn:
    """A raw connection: requests as dicts or bytes, answers as dicts."""

    def __init__(self, path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(timeout * SLOW)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 1

    def send(self, obj):
        data = obj if isinstance(obj, bytes) else (json.dumps(obj) + "\n").encode()
        self.s.sendall(data)

    def recv(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.send(req)
        while True:
            m = self.recv()
            if m is None or m.get("id") == rid or ("error" in m and m.get("id") is None):
                schema_check(method, params, m)
                return m

    def close(self):
        self.s.close()


def client(d, *args, env=None, prefix=()):
    r = run(list(prefix) + [CLIENT, "--socket", d.sock] + list(args), timeout=120, env=env)
    return r.returncode, r.stdout, r.stderr


def code(m):
    return m["error"]["code"] if m and "error" in m else 0


def essence(result):
    """What must agree between two answers to the same question."""
    if not result or "result" not in result:
        return None
    r = result["result"]
    slots = [s["candidate"] for s in r["slots"]] if r.get("slots") else None
    return (r["status"], r.get("power_mode"), slots, json.dumps(r.get("totals"), sort_keys=True))


def timed(fn):
    t0 = time.time()
    before = checks.failed
    fn()
    print("%-28s %6.2f s  %s" % (fn.__name__, time.time() - t0, "ok" if checks.failed == before else "FAILED"), flush=True)


# ---- the library ----------------------------------------------------------------------------

LIB = os.path.join(T, "lib.db")
TEACHER = os.path.join(T, "teacher.hant")


def build_library():
    r = run([DISTILL, "teacher", "--arch", "tiny", "--epochs", "1", "--samples", "2000", "--val-samples", "200",
             "--out", TEACHER])
    check(r.returncode == 0, "hant-distill teacher: " + r.stderr[-400:])
    r = run([DISTILL, "build", "--teacher", TEACHER, "--db", LIB, "--samples", "256", "--val-samples", "100",
             "--families", "kernel,lowrank,dws", "--jobs", "1"])
    check(r.returncode == 0, "hant-distill build: " + r.stderr[-400:])
    # Costs modelled from the Jetson Nano profile (two power modes), by hant-distill profile.
    r = run([DISTILL, "profile", "--db", LIB, "--device", "jetson-nano"])
    check(r.returncode == 0, "hant-distill profile: " + r.stderr[-400:])


# ---- tests --------------------------------------------------------------------------------------

def test_empty_library():
    db = os.path.join(T, "fresh", "new.db")  # neither the file nor its directory exists
    d = Daemon("empty", db)
    if not d.start():
        return
    check(sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] >= 4, "new library migrated to version 4 or later")
    for cmd in ("version", "status", "devices", "library"):
        rc, out, err = client(d, cmd, "--json")
        check(rc == 0 and json.loads(out), "%s on an empty library: rc %d %s" % (cmd, rc, err))
    prob = os.path.join(T, "p.json")
    with open(prob, "w") as f:
        json.dump({"groups": [{"name": "s0", "items": [{"id": "a", "value": 1, "cost": {"latency_ms": 2}},
                                                       {"id": "b", "value": 0, "cost": {"latency_ms": 1}}]}],
                   "budgets": {"latency_ms": 1.5}}, f)
    rc, out, err = client(d, "solve", "--problem", prob, "--json")
    check(rc == 0 and json.loads(out)["choice"] == ["b"], "solve on an empty library: %d %s %s" % (rc, out, err))
    rc, out, err = client(d, "transform", "--device", "jetson-nano", "--budget", "2W")
    check(rc == 5 and "library is empty" in err, "transform on an empty library: rc %d %s" % (rc, err))
    c = Conn(d.sock)
    m = c.call("transform", {"device": "jetson-nano"})
    check(code(m) == -32003, "LIBRARY_EMPTY code: %s" % m)
    c.close()
    check(d.stop() == 0, "empty daemon exits 0")


D = None  # the main daemon
EXPECT = {}
BUDGETS = [["2W"], ["1.6W"], ["80us"], ["2W", "75us"], ["100uJ"], ["12KB"], ["30KMAC", "2W"]]


def test_start_and_mode():
    global D
    D = Daemon("main", LIB, "workers = 2\nqueue = 64\n" + PLACES)
    if not D.start():
        sys.exit(1)
    mode = stat.S_IMODE(os.stat(D.sock).st_mode)
    check(mode == 0o600, "socket mode is 0600, got %o" % mode)
    check(stat.S_ISSOCK(os.stat(D.sock).st_mode), "the socket is a socket")
    # A second daemon on the same path is refused while the first lives.
    r = run([HANTD, "--foreground", "--db", LIB, "--socket", D.sock, "--state-dir", D.state], timeout=30)
    check(r.returncode == 1 and ("is serving" in r.stderr or "holds" in r.stderr),
          "a live daemon on the same path is detected: rc %d %s" % (r.returncode, r.stderr[-300:]))


def test_round_trips():
    c = Conn(D.sock)
    for b in BUDGETS:
        m = c.call("transform", {"device": "jetson-nano", "budgets": b})
        EXPECT[tuple(b)] = essence(m)
        check(essence(m) is not None, "transform %s answered: %s" % (b, m))
    c.close()
    rc, out, err = client(D, "transform", "--device", "jetson-nano", "--budget", "2W", "--budget", "80us", "--json")
    r = json.loads(out) if rc == 0 else {}
    need = {"status", "slots", "predicted_accuracy", "teacher_accuracy", "totals", "co2e_g_per_million", "power_mode",
            "solve_ms", "library_version", "cache_hit", "grid_g_per_kwh"}
    check(rc == 0 and need <= set(r) and r["status"] == "optimal", "transform --json fields: %s" % sorted(r))
    if r.get("slots"):
        s0 = r["slots"][0]
        check({"slot", "candidate", "key", "family", "hparams", "score", "latency_ms", "energy_mj"} <= set(s0),
              "per-slot fields: %s" % sorted(s0))
        t = r["totals"]
        check({"latency_ms", "energy_mj", "power_w", "memory_bytes", "macs"} <= set(t), "totals: %s" % sorted(t))
        check(t["power_w"] <= 2 + 1e-9 and t["latency_ms"] <= 0.08 + 1e-9, "budgets met: %s" % t)
        check(abs(r["predicted_accuracy"] - r["teacher_accuracy"] - sum(x["score"] for x in r["slots"])) < 1e-9,
              "predicted accuracy = teacher + summed scores")
    rc, out, err = client(D, "transform", "--device", "jetson-nano", "--budget", "2W", "--budget", "80us", "--json")
    check(rc == 0 and json.loads(out)["cache_hit"] is True, "the same request is served from the cache")
    rc, out, err = client(D, "transform", "--device", "jetson-nano", "--budget", "2W", "--fps", "2000")
    check(rc == 0 and "power at 2000 fps" in out and "headroom" in out, "table output: %s %s" % (out, err))
    rc, out, err = client(D, "transform", "--device", "jetson-nano", "--budget", "1us")
    check(rc == 4 and "smallest total" in out, "infeasible budget: rc %d %s" % (rc, out))
    rc, out, err = client(D, "transform", "--device", "jetson-nano", "--budget", "2w")
    check(rc == 2 and "did you mean '2W'?" in err, "misspelled unit: rc %d %s" % (rc, err))
    rc, out, err = client(D, "transform", "--device", "rpi4", "--budget", "2W")
    check(rc == 5 and "hant-distill profile" in err, "device without costs: rc %d %s" % (rc, err))
    rc, out, err = client(D, "pareto", "--device", "jetson-nano", "--axis", "latency_ms", "--points", "5", "--json")
    check(rc == 0 and len(json.loads(out)["fronts"]) == 2, "pareto: rc %d %s" % (rc, err))
    rc, out, err = client(D, "pareto", "--device", "jetson-nano", "--axis", "energy")
    check(rc == 0 and "power mode 5W" in out, "pareto table: %s" % out)
    prob = os.path.join(T, "p2.json")
    with open(prob, "w") as f:
        json.dump({"groups": [{"items": [{"id": "a", "value": 1, "cost": {"t": 2}}]}], "budgets": {"t": 1}}, f)
    rc, out, err = client(D, "solve", "--problem", prob)
    check(rc == 4, "infeasible problem: rc %d %s" % (rc, err))
    for cmd in ("devices", "library", "status", "version"):
        rc, out, err = client(D, cmd, "--json")
        check(rc == 0 and json.loads(out), "%s --json: %d %s" % (cmd, rc, err))
        rc, out, err = client(D, cmd)
        check(rc == 0 and out, "%s table: %d %s" % (cmd, rc, err))
    st = json.loads(client(D, "status", "--json")[1])
    check({"uptime_s", "requests", "queue_depth", "cache_hits"} <= set(st) and st["cache_hits"] >= 1,
          "status fields: %s" % st)
    # Export as ONNX through a job, then evaluate it through another: hantd writes the file in this user's
    # directory of its state, the client copies it to --out, and the model directory lets hantd read it back.
    out_path = os.path.join(MODELS, "nano-2w.onnx")
    rc, out, err = client(D, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", out_path)
    check(rc == 0 and os.path.getsize(out_path) > 0 and "wrote" in out, "transform --out: rc %d %s %s" % (rc, out, err))
    try:
        import onnx
        onnx.checker.check_model(onnx.load(out_path))
        check(True, "")
    except ImportError:
        pass
    except Exception as e:  # noqa: BLE001
        check(False, "exported ONNX does not check: %s" % e)
    rc, out, err = client(D, "jobs", "eval", "--model", out_path, "--split", "val", "--samples", "300")
    check(rc == 0 and "accuracy" in out, "jobs eval: rc %d %s %s" % (rc, out, err))
    rc, out, err = client(D, "jobs", "list", "--json")
    jobs = json.loads(out)["jobs"] if rc == 0 else []
    check(len(jobs) == 2 and all(j["state"] == "done" for j in jobs), "jobs list: %s" % out[:300])
    if jobs:
        rc, out, err = client(D, "jobs", "wait", str(jobs[0]["id"]), "--json")
        check(rc == 0 and json.loads(out)["state"] == "done", "jobs wait on a finished job")
        rc, out, err = client(D, "jobs", "cancel", str(jobs[0]["id"]))
        check(rc == 0 and "done" in out, "cancel of a finished job leaves it done: %s" % out)
    rc, out, err = client(D, "jobs", "show", "999999")
    check(rc == 5 and "no job" in err, "unknown job: %s" % err)


def test_every_method_raw():
    """Each method once over a raw connection: answers checked against schema/rpc."""
    c = Conn(D.sock)
    calls = [
        ("transform", {"device": "jetson-nano", "budgets": ["2W", "80us"], "fps": 1000, "grid_g_per_kwh": 300,
                       "options": {"power_mode": "5W", "time_limit_ms": 1000}}),
        ("transform", {"device": "jetson-nano", "budgets": {"latency_ms": 0.001}}),
        ("pareto", {"device": "jetson-nano", "axis": "macs", "points": 3, "budgets": ["2W"]}),
        ("solve", {"problem": {"groups": [{"items": [{"id": "a", "value": 1, "cost": {"t": 1}}]}], "budgets": {"t": 2}}}),
        ("devices", None), ("library", {"candidates": True}), ("status", None), ("version", None),
        ("jobs.list", {"limit": 5}), ("jobs.get", {"id": 1}), ("jobs.wait", {"id": 1}), ("jobs.cancel", {"id": 1}),
        ("jobs.submit", {"kind": "eval", "params": {"model": os.path.join(MODELS, "nano-2w.onnx"), "samples": 100}}),
    ]
    for method, params in calls:
        m = c.call(method, params)
        check(m is not None and "result" in m, "%s answered: %s" % (method, str(m)[:300]))
    m = c.call("jobs.wait", {"id": c.call("jobs.list", {"limit": 1})["result"]["jobs"][0]["id"]})
    check(m and m["result"]["state"] == "done", "the submitted eval ends: %s" % str(m)[:200])
    c.close()


def test_protocol_errors():
    c = Conn(D.sock)
    cases = [
        (b"{\n", -32700, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"status"} x\n', -32700, None),
        (b"[]\n", -32600, None),
        (b'{"jsonrpc":"2.0","id":1}\n', -32600, None),
        (b'{"jsonrpc":"1.0","id":1,"method":"status"}\n', -32600, None),
        (b'{"jsonrpc":"2.0","id":{},"method":"status"}\n', -32600, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"nope"}\n', -32601, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"transform","params":{"device":"jetson-nano","budgets":["2Q"]}}\n',
         -32602, "budgets[0]"),
        (b'{"jsonrpc":"2.0","id":1,"method":"transform","params":{"device":"jetson-nano","fps":"x"}}\n', -32602, "fps"),
        (b'{"jsonrpc":"2.0","id":1,"method":"pareto","params":{"device":"jetson-nano"}}\n', -32602, "axis"),
        (b'{"jsonrpc":"2.0","id":1,"method":"jobs.wait","params":{}}\n', -32602, "id"),
        (b'{"jsonrpc":"2.0","id":1,"method":"transform","params":{"device":"rpi4"}}\n', -32004, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"jobs.get","params":{"id":4242}}\n', -32005, None),
    ]
    for raw, want, field in cases:
        c.send(raw)
        m = c.recv()
        got_field = m and m.get("error", {}).get("data", {}).get("field")
        check(code(m) == want and (field is None or got_field == field),
              "%r: want %d field %s, got %s" % (raw[:60], want, field, m))
    # A notification gets no answer; the next request still does.
    c.send(b'{"jsonrpc":"2.0","method":"status"}\n{"jsonrpc":"2.0","id":9,"method":"version"}\n')
    m = c.recv()
    check(m and m.get("id") == 9, "notification unanswered, next request answered: %s" % m)
    c.close()


def test_garbage_and_oversize():
    c = Conn(D.sock)
    random.seed(7)
    junk = bytes(random.getrandbits(8) for _ in range(65536))
    c.send(junk + b"\n")
    answers = 0
    c.s.settimeout(2 * SLOW)
    try:
        while True:
            m = c.recv()
            if m is None:
                break
            answers += 1
            if code(m) not in (-32700, -32600):
                check(False, "garbage answered with %s" % m)
    except (socket.timeout, ValueError):
        pass
    c.close()
    check(answers >= 1, "garbage gets parse errors (%d)" % answers)
    # 20 MiB without a newline (the limit is 16 MiB): an error, then the connection closes.
    c = Conn(D.sock)
    sent, chunk = 0, b"a" * 65536
    try:
        while sent < 20 << 20:
            c.s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    m = None
    try:
        m = c.recv()
        eof = c.recv() is None
    except OSError:
        eof = True
    check(code(m) == -32002 and eof, "20 MiB line: TOO_LARGE then close (sent %d): %s" % (sent, m))
    c.close()
    # A request split into 1-byte writes.
    c = Conn(D.sock)
    req = (json.dumps({"jsonrpc": "2.0", "id": 77, "method": "transform",
                       "params": {"device": "jetson-nano", "budgets": ["2W"]}}) + "\n").encode()
    for b in req:
        c.s.send(bytes([b]))
    m = c.recv()
    check(m and m.get("id") == 77 and essence(m) == EXPECT[("2W",)], "1-byte writes: %s" % (m and str(m)[:200]))
    c.close()
    m = Conn(D.sock).call("status")
    check(m and "result" in m, "the daemon is up after garbage and oversize input")


def test_half_close_and_slow_reader():
    # Answers still come after the client closes its writing side; a last line without a newline counts.
    c = Conn(D.sock)
    c.s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"transform","params":{"device":"jetson-nano","budgets":["2W"]}}\n'
                b'{"jsonrpc":"2.0","id":2,"method":"version"}')
    c.s.shutdown(socket.SHUT_WR)
    ids = []
    while True:
        m = c.recv()
        if m is None:
            break
        ids.append(m.get("id"))
    check(sorted(ids) == [1, 2], "both answers after a half-close, then EOF: %s" % ids)
    c.close()
    # A client that sends many requests with large answers and never reads must not
    # hold up others, nor make the daemon buffer without bound.
    rss0 = int(open("/proc/%d/statm" % D.proc.pid).read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    slow = Conn(D.sock)
    req = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "library", "params": {"candidates": True}}) + "\n").encode()

    def flood():
        try:
            for _ in range(4000):
                slow.s.sendall(req)
        except OSError:
            pass

    t = threading.Thread(target=flood)
    t.start()
    time.sleep(1.0 * SLOW)
    worst = 0
    for _ in range(20):
        t0 = time.time()
        m = Conn(D.sock).call("transform", {"device": "jetson-nano", "budgets": ["2W"]})
        worst = max(worst, time.time() - t0)
        check(essence(m) == EXPECT[("2W",)], "another client is answered while a reader is slow")
    check(worst < 1.0 * SLOW, "other clients are not held up by a slow reader (worst %.3f s)" % worst)
    rss1 = int(open("/proc/%d/statm" % D.proc.pid).read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    check(rss1 - rss0 < (64 << 20) * (2 if SANITIZED else 1),
          "the daemon does not buffer a slow reader's answers without bound (+%d MiB)" % ((rss1 - rss0) >> 20))
    st = Conn(D.sock).call("status")["result"]
    check(st["connections"] >= 2, "the slow reader is still connected (paused, not dropped)")
    slow.s.shutdown(socket.SHUT_RDWR)
    slow.close()
    t.join()


def hammer(path, n_clients, per_client, stop_at=None, allow_shutdown=False, garbage=True):
    """n_clients threads each send transform requests; returns (answered, wrong, errors)."""
    lock = threading.Lock()
    stats = {"ok": 0, "wrong": 0, "err": [], "shut": 0}
    keys = list(EXPECT)

    def worker(k):
        rnd = random.Random(k)
        try:
            c = Conn(path, timeout=60)
        except OSError as e:
            if not allow_shutdown:
                with lock:
                    stats["err"].append("connect: %s" % e)
            return
        i = 0
        while i < per_client or (stop_at is not None and time.time() < stop_at):
            i += 1
            b = keys[rnd.randrange(len(keys))]
            params = {"device": "jetson-nano", "budgets": list(b)}
            if rnd.random() < 0.2:  # uncached: a grid intensity only this request uses
                params["grid_g_per_kwh"] = 100 + k + i / 1000.0
            try:
                m = c.call("transform", params)
            except OSError as e:
                if allow_shutdown:
                    with lock:
                        stats["shut"] += 1
                    break
                with lock:
                    stats["err"].append("%s" % e)
                break
            with lock:
                if m is None:
                    if allow_shutdown:
                        stats["shut"] += 1
                        break
                    stats["err"].append("connection closed")
                    break
                if code(m) == -32006 and allow_shutdown:
                    stats["shut"] += 1
                    break
                if code(m):
                    stats["err"].append(str(m)[:200])
                elif essence(m) == EXPECT[b]:
                    stats["ok"] += 1
                else:
                    stats["wrong"] += 1
        c.close()

    def junk():
        try:
            c = Conn(path)
            rnd = random.Random(1)
            for _ in range(200):
                c.s.sendall(bytes(rnd.getrandbits(8) for _ in range(512)) + b"\n")
            c.close()
        except OSError:
            pass

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_clients)]
    if garbage:
        threads.append(threading.Thread(target=junk))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats


def wait_idle(d):
    """Until the daemon counts only the asking connection, and that one is gone too."""
    for _ in range(200):
        c = Conn(d.sock)
        m = c.call("status")
        c.close()
        if m and m["result"]["connections"] <= 1:
            time.sleep(0.2)
            return m["result"]
        time.sleep(0.05)
    return None


def stable_fds(d):
    """The daemon's open fds once no connection is left."""
    wait_idle(d)
    n = d.fds()
    for _ in range(20):
        time.sleep(0.1)
        m = d.fds()
        if m == n:
            return n
        n = m
    return n


def test_200_clients():
    fds0 = stable_fds(D)
    s = hammer(D.sock, 200, 10)
    check(s["ok"] == 2000 and not s["wrong"] and not s["err"],
          "200 clients x 10: %d right, %d wrong, errors %s" % (s["ok"], s["wrong"], s["err"][:3]))
    fds1 = stable_fds(D)
    check(fds1 == fds0, "no fd leak: %d fds before, %d after" % (fds0, fds1))
    check(D.proc.poll() is None, "the daemon is still up")


def test_sighup_under_load():
    before = json.loads(client(D, "status", "--json")[1])["reloads"]
    stop_at = time.time() + 2.0 * SLOW
    result = {}
    t = threading.Thread(target=lambda: result.update(hammer(D.sock, 20, 0, stop_at=stop_at, garbage=False)))
    t.start()
    for _ in range(5):
        time.sleep(0.3 * SLOW)
        D.proc.send_signal(signal.SIGHUP)
    t.join()
    check(result.get("ok", 0) > 0 and not result["wrong"] and not result["err"],
          "SIGHUP under load: %d right, %d wrong, errors %s" % (result.get("ok", 0), result.get("wrong"),
                                                              result.get("err", [])[:3]))
    time.sleep(0.3 * SLOW)
    after = json.loads(client(D, "status", "--json")[1])["reloads"]
    check(after - before >= 2, "reloads happened (%d -> %d)" % (before, after))


def test_reload_sees_new_costs():
    r = run([DISTILL, "profile", "--db", LIB, "--device", "eyeriss"])
    if r.returncode != 0:
        print("  (skipped: hant-distill profile --device eyeriss failed: %s)" % r.stderr.strip()[-200:])
        return
    rc, out, err = client(D, "transform", "--device", "eyeriss", "--budget", "1W")
    check(rc == 5, "before SIGHUP the new device is unknown: %d %s" % (rc, err))
    D.proc.send_signal(signal.SIGHUP)
    ok = False
    for _ in range(100):
        time.sleep(0.05)
        rc, out, err = client(D, "transform", "--device", "eyeriss", "--json")
        if rc == 0:
            ok = True
            break
    check(ok, "after SIGHUP the new device is served: %s" % err)


def test_sigterm_under_load():
    global D
    stop_at = time.time() + 3.0 * SLOW
    result = {}
    t = threading.Thread(target=lambda: result.update(hammer(D.sock, 30, 0, stop_at=stop_at, allow_shutdown=True,
                                                             garbage=False)))
    t.start()
    time.sleep(0.5 * SLOW)
    rc = D.stop(signal.SIGTERM)
    t.join()
    check(rc == 0, "SIGTERM under load: exit %s\n%s" % (rc, D.tail()))
    check(not result.get("wrong") and not result.get("err"),
          "answers before shutdown were right: %d right, %d wrong, errors %s" %
          (result.get("ok", 0), result.get("wrong", 0), result.get("err", [])[:3]))
    check(not os.path.exists(D.sock), "the socket is removed on exit")


def test_stale_socket():
    d = Daemon("stale", LIB)
    if not d.start():
        return
    d.stop(signal.SIGKILL)
    check(os.path.exists(d.sock), "kill -9 leaves the socket file")
    check(d.start(), "a new daemon replaces the stale socket")
    with open(d.log) as f:
        check("replacing the stale socket" in f.read(), "the log says the stale socket was replaced")
    check(d.stop() == 0, "stale: exit 0")


def test_cancel_finetune():
    """A running fine-tuning job stops at its next step when canceled, not at the end of its epoch."""
    d = Daemon("cancel", LIB, "job_workers = 1\n" + PLACES)
    if not d.start():
        return
    c = Conn(d.sock)
    m = c.call("transform", {"device": "jetson-nano", "budgets": ["2W"]})
    cands = [s["candidate"] for s in m["result"]["slots"]] if m and "result" in m else None
    out = os.path.join(OUTS, "canceled.onnx")
    m = c.call("jobs.submit", {"kind": "transform", "params": {"candidates": cands, "out": out,
                                                                 "finetune_epochs": 3, "eval_samples": 200}})
    jid = m["result"]["job"]["id"] if m and "result" in m else None
    check(cands and jid, "a 3-epoch fine-tuning job on all 55,000 images is queued: %s" % m)
    note = ""
    for _ in range(3000):
        m = c.call("jobs.get", {"id": jid})
        note = m["result"]["note"] if m and "result" in m else ""
        if "fine-tuning: epoch 1 of 3, step" in note:
            break
        time.sleep(0.02)
    check("fine-tuning: epoch 1 of 3, step" in note, "the job reached its first epoch: %s" % note)
    m = c.call("jobs.cancel", {"id": jid})
    check(m and m["result"]["state"] in ("canceling", "canceled"), "cancel while running: %s" % m)
    rc, out_s, err = client(d, "jobs", "wait", str(jid), "--json")
    j = json.loads(out_s) if out_s.strip() else {}
    # Stopping only between phases would have run all three epochs (3 x 429 steps) first.
    import re
    at = re.search(r"fine-tuning canceled at step (\d+) of (\d+)", j.get("error") or "")
    check(j.get("state") == "canceled" and at and int(at.group(1)) < int(at.group(2)) / 3,
          "the job ends canceled inside its first epoch: %s" % {k: j.get(k) for k in ("state", "note", "error")})
    check(not os.path.exists(out), "a canceled job writes no model")
    c.close()
    check(d.stop() == 0, "cancel: exit 0")


def wait_note(c, jid, text, seconds=60):
    """Polls job jid until its note contains text, or it ends, or seconds pass; the last note."""
    note, deadline = "", time.time() + seconds * SLOW
    while time.time() < deadline:
        m = c.call("jobs.get", {"id": jid})
        r = m["result"] if m and "result" in m else {}
        note = r.get("note", "")
        if text in note or r.get("state") in ("done", "failed", "canceled"):
            break
        time.sleep(0.02)
    return note


def second_epoch_job(d, params, out):
    """Submits a 2-epoch fine-tuning job writing out, and waits until its first epoch is done (and checkpointed):
    its second has begun. The job's id, and its note then."""
    c = Conn(d.sock)
    m = c.call("jobs.submit", {"kind": "transform", "params": dict(params, out=os.path.join(OUTS, out))})
    jid = m["result"]["job"]["id"] if m and "result" in m else None
    note = wait_note(c, jid, "epoch 2 of 2, step") if jid else str(m)
    c.close()
    check(jid and "epoch 2 of 2, step" in note, "a fine-tuning job for %s finished its first epoch: %s" % (out, note))
    return jid, note


def test_finetune_resumes_after_restart():
    """A fine-tuning job interrupted by a shutdown resumes after the restart at the epoch it had finished, from a
    checkpoint the daemon keeps in STATE/jobs (its alone, mode 0700); the file goes once the job ends, whether done
    or canceled."""
    d = Daemon("resume", LIB, "job_workers = 1\n" + PLACES)
    if not d.start():
        return
    jobs_dir = os.path.join(d.state, "jobs")
    check(stat.S_IMODE(os.stat(jobs_dir).st_mode) == 0o700, "STATE/jobs is mode 0700: %o" % os.stat(jobs_dir).st_mode)
    c = Conn(d.sock)
    m = c.call("transform", {"device": "jetson-nano", "budgets": ["2W"]})
    cands = [s["candidate"] for s in m["result"]["slots"]] if m and "result" in m else None
    c.close()
    check(cands, "a network to fine-tune: %s" % m)
    params = {"candidates": cands, "finetune_epochs": 2, "finetune_samples": 20000, "eval_samples": 200}
    jid, _ = second_epoch_job(d, params, "resumed.onnx")
    check(d.stop(signal.SIGTERM) == 0, "stop during fine-tuning: exit 0\n%s" % d.tail())
    kept = sorted(os.listdir(jobs_dir))
    check(len(kept) == 1 and kept[0].split("-")[1] == str(jid) and kept[0].endswith(".ckpt"),
          "the interrupted job's checkpoint is kept: %s" % kept)
    # The restart sweeps this library's checkpoints of jobs no longer queued or running (a job id never
    # used here), and leaves the queued job's own and another library's alone.
    prefix = kept[0].split("-")[0] if kept else "x"
    orphan, foreign = "%s-99999-0123456789abcdef.ckpt" % prefix, "0123456789abcdef-%d-0123456789abcdef.ckpt" % jid
    for f in (orphan, foreign):
        with open(os.path.join(jobs_dir, f), "wb") as fh:
            fh.write(b"HANTCKPT")
    if not d.start():
        return
    for _ in range(int(200 * SLOW)):
        if not os.path.exists(os.path.join(jobs_dir, orphan)):
            break
        time.sleep(0.05)
    check(not os.path.exists(os.path.join(jobs_dir, orphan)) and os.path.exists(os.path.join(jobs_dir, foreign)),
          "an orphaned checkpoint is swept at start, another library's kept: %s" % os.listdir(jobs_dir))
    os.remove(os.path.join(jobs_dir, foreign))
    rc, out_s, err = client(d, "jobs", "wait", str(jid), "--json")
    j = json.loads(out_s) if rc == 0 else {}
    ft = (j.get("result") or {}).get("finetune") or {}
    check(rc == 0 and j.get("state") == "done" and j.get("attempts") == 2 and ft.get("resumed_epochs") == 1
          and ft.get("restarted") is False and os.path.exists(os.path.join(OUTS, "resumed.onnx")),
          "the job resumed after its finished epochs and wrote its model: rc %d %s %s" % (rc, err, ft))
    check(os.listdir(jobs_dir) == [], "no checkpoint stays after the job is done: %s" % os.listdir(jobs_dir))
    # A checkpoint fine-tuning refuses (damaged here) is removed, and fine-tuning starts over.
    jid2, _ = second_epoch_job(d, params, "restarted.onnx")
    check(d.stop(signal.SIGTERM) == 0, "stop during the second fine-tuning: exit 0")
    files = os.listdir(jobs_dir)
    check(len(files) == 1, "the second job's checkpoint is kept: %s" % files)
    for f in files:
        path = os.path.join(jobs_dir, f)
        with open(path, "r+b") as fh:
            fh.seek(os.path.getsize(path) // 2)
            b = fh.read(1)
            fh.seek(-1, 1)
            fh.write(bytes([b[0] ^ 0x40]))
    if not d.start():
        return
    rc, out_s, err = client(d, "jobs", "wait", str(jid2), "--json")
    j = json.loads(out_s) if rc == 0 else {}
    ft = (j.get("result") or {}).get("finetune") or {}
    check(rc == 0 and j.get("state") == "done" and ft.get("restarted") is True and ft.get("resumed_epochs") == 0,
          "a damaged checkpoint is refused and fine-tuning starts over: rc %d %s %s" % (rc, err, ft))
    check(os.listdir(jobs_dir) == [], "nothing stays after the restarted job: %s" % os.listdir(jobs_dir))
    # A canceled job will not run again: its checkpoint goes.
    jid3, _ = second_epoch_job(d, params, "canceled2.onnx")
    files = os.listdir(jobs_dir)
    check(len(files) == 1, "the third job checkpoints its first epoch: %s" % files)
    c = Conn(d.sock)
    c.call("jobs.cancel", {"id": jid3})
    rc, out_s, err = client(d, "jobs", "wait", str(jid3), "--json")
    j = json.loads(out_s) if out_s.strip() else {}
    check(j.get("state") == "canceled" and os.listdir(jobs_dir) == [],
          "a canceled job's checkpoint is removed: %s %s" % (j.get("state"), os.listdir(jobs_dir)))
    c.close()
    check(d.stop() == 0, "resume: exit 0")


def test_job_survives_restart():
    model = os.path.join(MODELS, "nano-2w.onnx")
    d = Daemon("jobs", LIB, "job_workers = 1\n" + PLACES)
    if not d.start():
        return
    c = Conn(d.sock)
    ids = []
    for _ in range(2):
        m = c.call("jobs.submit", {"kind": "eval", "params": {"model": model, "split": "test", "samples": 0}})
        ids.append(m["result"]["job"]["id"] if m and "result" in m else None)
    check(None not in ids, "two eval jobs queued: %s" % ids)
    running = False
    for _ in range(400):
        m = c.call("jobs.get", {"id": ids[0]})
        if m and m["result"]["state"] == "running":
            running = True
            break
        time.sleep(0.02)
    check(running, "the first job runs")
    w = Conn(d.sock, timeout=60)
    w.send({"jsonrpc": "2.0", "id": 5, "method": "jobs.wait", "params": {"id": ids[1]}})
    time.sleep(0.1)
    rc = d.stop(signal.SIGTERM)
    check(rc == 0, "stop with a job running: exit %s\n%s" % (rc, d.tail()))
    m = None
    try:
        while True:
            m = w.recv()
            if m is None or "id" in m:
                break
    except OSError:
        pass
    check(code(m) == -32006, "a waiting client hears SHUTTING_DOWN: %s" % m)
    c.close()
    w.close()
    db = sqlite3.connect(LIB)
    states = dict(db.execute("SELECT id, state FROM job WHERE id IN (?, ?)", ids).fetchall())
    check(states.get(ids[0]) == "queued", "the interrupted job is queued again: %s" % states)
    n_jobs = db.execute("SELECT count(*) FROM job").fetchone()[0]
    db.close()
    if not d.start():
        return
    for jid in ids:
        rc, out, err = client(d, "jobs", "wait", str(jid), "--json")
        j = json.loads(out) if rc == 0 else {}
        check(rc == 0 and j.get("state") == "done" and j["result"]["n"] == 10000,
              "job %s done after the restart: rc %d %s" % (jid, rc, err))
        if jid == ids[0]:
            check(j.get("attempts") == 2, "the interrupted job ran twice in all: %s" % j.get("attempts"))
    db = sqlite3.connect(LIB)
    check(db.execute("SELECT count(*) FROM job").fetchone()[0] == n_jobs, "no job duplicated")
    db.close()
    check(d.stop() == 0, "jobs daemon exits 0")


def test_limits():
    d = Daemon("limits", LIB, "workers = 1\nqueue = 1\nidle_timeout_s = 1.5\nmax_clients = 4\n")
    if not d.start():
        return
    # Busy: 50 distinct requests at once on a queue of one.
    c = Conn(d.sock)
    batch = b"".join((json.dumps({"jsonrpc": "2.0", "id": i, "method": "transform",
                                  "params": {"device": "jetson-nano", "budgets": ["2W"],
                                             "grid_g_per_kwh": 100 + i}}) + "\n").encode() for i in range(50))
    c.send(batch)
    codes = [code(c.recv()) for _ in range(50)]
    check(-32001 in codes and set(codes) <= {0, -32001}, "a full queue answers busy: %s" % codes)
    c.close()
    wait_idle(d)
    # Too many clients.
    conns = [Conn(d.sock) for _ in range(4)]
    for k in conns:
        k.call("version")
    extra = Conn(d.sock)
    m = extra.recv()
    check(code(m) == -32009, "the fifth client is refused: %s" % m)
    for k in conns + [extra]:
        k.close()
    time.sleep(0.2)
    # Idle timeout.
    c = Conn(d.sock)
    c.call("version")
    t0 = time.time()
    m = c.recv()
    check(code(m) == -32008 and c.recv() is None and time.time() - t0 < 5 * SLOW,
          "an idle connection times out: %s" % m)
    c.close()
    check(d.stop() == 0, "limits daemon exits 0")


def test_disallowed_uid():
    d = Daemon("uid", LIB, "socket_mode_unsafe = 0666\n")
    if not d.start():
        return
    check(stat.S_IMODE(os.stat(d.sock).st_mode) == 0o666, "configured socket mode 0666")
    if os.geteuid() != 0:
        print("  (skipped: the test runs as uid %d and cannot act as another uid)" % os.geteuid())
        d.stop()
        return
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    try:
        rc, out, err = client(d, "status", prefix=prefix)
        check(rc == 5 and "permission denied" in err, "uid nobody is refused: rc %d %s" % (rc, err))
    except FileNotFoundError:
        pid = os.fork()
        if pid == 0:  # raw, as nobody
            os.setgid(65534)
            os.setuid(65534)
            m = Conn(d.sock).recv()
            os._exit(0 if code(m) == -32007 else 1)
        check(os.waitpid(pid, 0)[1] == 0, "uid nobody is refused (raw)")
    rc, out, err = client(d, "status")
    check(rc == 0, "our own uid is still served")
    with open(d.log) as f:
        check("refused a connection from uid 65534" in f.read(), "the refusal is logged")
    check(d.stop() == 0, "uid daemon exits 0")


def test_systemd():
    """sd_notify readiness, reload and stop messages, and socket activation (when built with libsystemd)."""
    ldd = run(["ldd", HANTD], timeout=30).stdout
    if "libsystemd" not in ldd:
        print("  (skipped: hantd was built without the systemd feature)")
        return
    ns_path = os.path.join(T, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(ns_path)
    ns.settimeout(30 * SLOW)
    sock = os.path.join(T, "sd.sock")
    env = dict(os.environ, NOTIFY_SOCKET=ns_path)
    logf = open(os.path.join(T, "sd.log"), "a")
    # No --foreground: under systemd (NOTIFY_SOCKET) hantd must not detach.
    p = subprocess.Popen([HANTD, "--db", LIB, "--socket", sock, "--state-dir", os.path.join(T, "state-sd")], env=env,
                         stdout=logf, stderr=logf)
    msgs = []

    def until(word):
        while True:
            m = ns.recv(4096).decode()
            msgs.append(m)
            if word in m:
                return m

    try:
        m = until("READY=1")
        check("MAINPID=%d" % p.pid in m, "READY=1 with MAINPID: %r" % m)
        check(Conn(sock).call("version") is not None, "serving once ready")
        p.send_signal(signal.SIGHUP)
        until("RELOADING=1")
        until("READY=1")
        p.send_signal(signal.SIGTERM)
        until("STOPPING=1")
        check(p.wait(30 * SLOW) == 0, "exit 0 after STOPPING")
    except socket.timeout:
        check(False, "sd_notify messages: got %r" % msgs)
        p.kill()
        p.wait()
    ns.close()
    # Socket activation: systemd-socket-activate binds the socket and passes it.
    act = "/usr/bin/systemd-socket-activate"
    if not os.path.exists(act):
        print("  (socket activation skipped: no systemd-socket-activate)")
        logf.close()
        return
    asock = os.path.join(T, "activated.sock")
    p = subprocess.Popen([act, "-l", asock, HANTD, "--foreground", "--db", LIB, "--socket", asock, "--state-dir",
                          os.path.join(T, "state-sd")],
                         stdout=logf, stderr=logf)
    ok = False
    for _ in range(200 * SLOW):
        if os.path.exists(asock):
            try:
                m = Conn(asock).call("version")
                ok = m is not None and "result" in m
                break
            except OSError:
                pass
        time.sleep(0.05)
    check(ok, "socket activation: the daemon answers on the passed socket")
    p.send_signal(signal.SIGTERM)
    check(p.wait(30 * SLOW) == 0, "activated daemon exits 0")
    logf.close()
    with open(os.path.join(T, "sd.log")) as f:
        check("socket activation" in f.read(), "the log says the socket came from systemd")


# ---- the places: where hantd writes and reads the files a client names (issue 13) --------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_fields(buf):
    """The fields of one protobuf message: (number, wire type, value), value bytes for length-delimited ones."""
    i, out = 0, []
    while i < len(buf):
        key, shift = 0, 0
        while True:
            b = buf[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, shift = 0, 0
            while True:
                b = buf[i]
                i += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
        elif wt == 2:
            n, shift = 0, 0
            while True:
                b = buf[i]
                i += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            v = buf[i:i + n]
            i += n
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((num, wt, v))
    return out


def pb_encode(fields):
    out = bytearray()
    for num, wt, v in fields:
        out += varint(num << 3 | wt)
        if wt == 0:
            out += varint(v)
        elif wt == 2:
            out += varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def with_external_data(model, location):
    """An ONNX model (bytes) with its float initializers moved to the file `location` next to it:
    TensorProto.raw_data (9) becomes external_data (13) entries and data_location (14) EXTERNAL."""
    data = bytearray()

    def entry(k, v):
        return (13, 2, pb_encode([(1, 2, k.encode()), (2, 2, v.encode())]))

    def tensor(t):
        f = pb_fields(t)
        raw = [v for n, w, v in f if n == 9]
        if not raw or [v for n, w, v in f if n == 2] != [1]:
            return t
        off = len(data)
        data.extend(raw[0])
        f = [x for x in f if x[0] != 9] + [entry("location", location), entry("offset", str(off)),
                                            entry("length", str(len(raw[0]))), (14, 0, 1)]
        return pb_encode(f)

    def graph(g):
        return pb_encode([(n, w, tensor(v)) if n == 5 else (n, w, v) for n, w, v in pb_fields(g)])

    out = pb_encode([(n, w, graph(v)) if n == 7 else (n, w, v) for n, w, v in pb_fields(model)])
    return out, bytes(data)


NOBODY_CALL = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(300)
s.connect(sys.argv[1])
s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2], "params": json.loads(sys.argv[3])}) + "\n").encode())
buf = b""
while b"\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
print(buf.split(b"\n")[0].decode())
"""


def test_places():
    """Another user (nobody) names files: hantd writes and reads only in that user's places."""
    if os.geteuid() != 0:
        print("  (skipped: the checks of the places need root to start hantd as root and act as nobody; "
              "this test runs as uid %d)" % os.geteuid())
        return
    import pwd
    try:
        nob = pwd.getpwnam("nobody")
    except KeyError:
        print("  (skipped: this system has no user nobody)")
        return
    uid, gid = nob.pw_uid, nob.pw_gid
    as_nobody = dict(user=uid, group=gid, extra_groups=[])
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable  # one nobody may run
    pout = os.path.join(T, "places-out")      # an output directory, with the library and the socket in it
    pmod = os.path.join(T, "places-models")   # a model directory
    os.makedirs(pout)
    os.makedirs(pmod)
    os.chmod(pout, 0o755)
    db = os.path.join(pout, "lib.db")
    src, dst = sqlite3.connect(LIB), sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.close()
    sock = os.path.join(pout, "places.sock")
    d = Daemon("places", db, "socket_mode_unsafe = 0666\nallowed_uids = nobody\njob_workers = 1\n"
               "output_dirs = %s\nmodel_dirs = %s\n" % (pout, pmod), sock=sock)
    own = os.path.join(d.state, "users", str(uid))
    # A crash left a temporary in the output directory: removed at start, and only it.
    stale = os.path.join(pout, ".y.onnx.tmp-0123456789ab")
    open(stale, "w").write("stale")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))  # a fresh one could be a write in progress
    if not d.start():
        return
    check(not os.path.exists(stale) and os.path.exists(db), "a stale temporary is removed at start")
    check(stat.S_IMODE(os.stat(d.state).st_mode) == 0o711 and stat.S_IMODE(os.stat(os.path.join(d.state, "users"))
                                                                           .st_mode) == 0o711,
          "the state directory and users/ are 0711")

    def call(method, params):
        r = run([py, "-c", NOBODY_CALL, d.sock, method, json.dumps(params)], timeout=300, **as_nobody)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"error": {"code": 0, "message": "no answer: " + r.stderr[-300:]}}

    def wait(jid):
        c = Conn(d.sock, timeout=120)
        m = c.call("jobs.wait", {"id": jid})
        c.close()
        return m["result"] if m and "result" in m else {}

    def transform(out):
        return call("transform", {"device": "jetson-nano", "budgets": ["2W"], "out": out})

    def refused(m, field):
        e = m.get("error", {})
        return e.get("code") == -32602 and e.get("data", {}).get("field") == field

    # A root-only file, /etc, '..', the library and its journal, the socket and its lock: refused, untouched.
    victim = os.path.join(T, "victim")
    open(victim, "w").write("root only")
    os.chmod(victim, 0o600)
    lib_sum = open(db, "rb").read()
    for target in (victim, "/etc/hant-issue13", os.path.join(own, "..", "0", "x.onnx"), "../x.onnx", db,
                   db + "-wal", db + "-journal", sock, sock + ".lock"):
        m = transform(target)
        check(refused(m, "out"), "out %s is refused: %s" % (target, str(m)[:300]))
    check(open(victim).read() == "root only" and stat.S_IMODE(os.stat(victim).st_mode) == 0o600
          and os.stat(victim).st_uid == 0, "the root-only file is untouched")
    check(not os.path.exists("/etc/hant-issue13"), "nothing is created in /etc")
    check(open(db, "rb").read() == lib_sum or sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok",
          "the library is intact")
    check(stat.S_ISSOCK(os.stat(sock).st_mode) and not os.path.islink(sock + ".lock"), "the socket is still a socket")
    m = transform("/etc/hant-issue13")
    check("is outside the directories hantd writes for uid %d (%s" % (uid, own) in m.get("error", {}).get("message", ""),
          "the refusal names the places: %s" % m)

    # The same file name written for nobody: in its own directory, its own, 0600; and in the output directory.
    for name, where in (("x.onnx", os.path.join(own, "x.onnx")), (os.path.join(pout, "y.onnx"),
                                                                   os.path.join(pout, "y.onnx"))):
        m = transform(name)
        job = m.get("result", {}).get("job") or {}
        check(job.get("out") == where, "the answer reports the absolute path %s: %s" % (where, str(m)[:300]))
        j = wait(job.get("id", 0))
        st = os.stat(where) if os.path.exists(where) else None
        check(j.get("state") == "done" and st and st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o600,
              "%s written for nobody, owned by it, mode 0600: %s %s" % (where, j.get("error"), st))
    st = os.stat(own)
    check(st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o700, "nobody's directory is its own, 0700")

    # Links in nobody's own directory are not followed out of it.
    victim2 = os.path.join(T, "victim2")
    open(victim2, "w").write("keep")
    os.chmod(victim2, 0o600)
    r = run(["ln", "-s", "/etc", os.path.join(own, "etcdir")], **as_nobody)
    r = run(["ln", "-s", victim2, os.path.join(own, "link.onnx")], **as_nobody)
    check(r.returncode == 0, "nobody plants links in its directory: %s" % r.stderr)
    m = transform("etcdir/hant-issue13")
    check(refused(m, "out") and "symbolic link" in m["error"]["message"], "a linked directory is refused: %s" % m)
    check(not os.path.exists("/etc/hant-issue13"), "nothing is created through the link")
    m = transform("link.onnx")
    j = wait((m.get("result", {}).get("job") or {}).get("id", 0))
    check(j.get("state") == "done" and not os.path.islink(os.path.join(own, "link.onnx"))
          and open(victim2).read() == "keep" and os.stat(victim2).st_uid == 0,
          "a link at the name is replaced, its target untouched: %s" % j.get("error"))

    # Inputs: outside the places refused with the same words whether the file exists or not.
    def model_msg(path):
        m = call("jobs.submit", {"kind": "eval", "params": {"model": path, "samples": 100}})
        check(refused(m, "params.model"), "model %s is refused: %s" % (path, m))
        return m.get("error", {}).get("message", "").replace(path, "PATH")
    a, b = model_msg(victim), model_msg(os.path.join(T, "no-such-model.onnx"))
    check(a == b and "outside" in a, "existing and missing files outside get one message: %r / %r" % (a, b))
    check(model_msg("/etc/shadow") == model_msg("/etc/no-such-file"), "the same for /etc")
    m = call("jobs.submit", {"kind": "eval", "params": {"model": "x.onnx", "data": "/etc", "samples": 100}})
    check(refused(m, "params.data"), "a data directory outside is refused: %s" % m)

    # A model through a link in nobody's directory is not read.
    r = run(["ln", "-s", os.path.join(MODELS, "nano-2w.onnx"), os.path.join(own, "m-link.onnx")], **as_nobody)
    m = call("jobs.submit", {"kind": "eval", "params": {"model": "m-link.onnx", "samples": 100}})
    j = wait(m.get("result", {}).get("job", {}).get("id", 0))
    check(j.get("state") == "failed" and "symbolic link" in (j.get("error") or ""), "a linked model fails: %s" % j)
    # nobody's own output, read back.
    m = call("jobs.submit", {"kind": "eval", "params": {"model": "x.onnx", "samples": 100}})
    j = wait(m.get("result", {}).get("job", {}).get("id", 0))
    check(j.get("state") == "done", "nobody evaluates its own output: %s" % j.get("error"))

    # A FIFO as model fails at once, and the next job still runs.
    fifo = os.path.join(pmod, "fifo.onnx")
    os.mkfifo(fifo)
    t0 = time.time()
    m = call("jobs.submit", {"kind": "eval", "params": {"model": fifo, "samples": 100}})
    j = wait(m.get("result", {}).get("job", {}).get("id", 0))
    check(j.get("state") == "failed" and "not a regular file" in (j.get("error") or "") and time.time() - t0 < 20 * SLOW,
          "a FIFO fails promptly (%.1f s): %s" % (time.time() - t0, j.get("error")))
    shutil_copy = open(os.path.join(MODELS, "nano-2w.onnx"), "rb").read()
    open(os.path.join(pmod, "m.onnx"), "wb").write(shutil_copy)
    m = call("jobs.submit", {"kind": "eval", "params": {"model": os.path.join(pmod, "m.onnx"), "samples": 100}})
    j = wait(m.get("result", {}).get("job", {}).get("id", 0))
    check(j.get("state") == "done", "a later job runs: %s" % j.get("error"))

    # ONNX external data: read next to the model, never through a link.
    model, data = with_external_data(shutil_copy, "ext.data")
    open(os.path.join(pmod, "ext.onnx"), "wb").write(model)
    open(os.path.join(pmod, "ext.data"), "wb").write(data)
    m = call("jobs.submit", {"kind": "eval", "params": {"model": os.path.join(pmod, "ext.onnx"), "samples": 100}})
    j = wait(m.get("result", {}).get("job", {}).get("id", 0))
    check(j.get("state") == "done", "a model with external data is read: %s" % j.get("error"))
    real = os.path.join(T, "ext-real.data")
    os.rename(os.path.join(pmod, "ext.data"), real)
    os.chmod(real, 0o600)
    os.symlink(real, os.path.join(pmod, "ext.data"))
    m = call("jobs.submit", {"kind": "eval", "params": {"model": os.path.join(pmod, "ext.onnx"), "samples": 100}})
    j = wait(m.get("result", {}).get("job", {}).get("id", 0))
    check(j.get("state") == "failed" and "symbolic link" in (j.get("error") or ""),
          "external data behind a link is refused: %s" % j.get("error"))

    # hant-client as nobody: --out ./x.onnx lands in its working directory, with its umask.
    home = os.path.join(T, "nobody-cwd")
    os.makedirs(home)
    os.chown(home, uid, gid)
    r = run(["sh", "-c", "umask 022 && exec \"$0\" --socket \"$1\" transform --device jetson-nano --budget 2W "
             "--out ./x.onnx", os.path.abspath(CLIENT), d.sock], cwd=home, **as_nobody)
    placed = os.path.join(home, "x.onnx")
    st = os.stat(placed) if os.path.exists(placed) else None
    check(r.returncode == 0 and "wrote %s" % placed in r.stdout and st and st.st_uid == uid
          and stat.S_IMODE(st.st_mode) == 0o644, "transform --out ./x.onnx as nobody: rc %d %s %s %s" %
          (r.returncode, r.stdout[-300:], r.stderr[-300:], st))
    r = run([os.path.abspath(CLIENT), "--socket", d.sock, "transform", "--device", "jetson-nano", "--budget", "2W",
             "--out", "./j.onnx", "--json"], cwd=home, **as_nobody)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    res = lines[-1].get("result", {}) if lines else {}
    check(r.returncode == 0 and res.get("out") == os.path.join(own, "j.onnx") and res.get("placed") ==
          os.path.join(home, "j.onnx") and os.path.exists(os.path.join(home, "j.onnx")),
          "--json shows hantd's path and the placed one: %s" % res)
    check(d.stop() == 0, "places daemon exits 0")


def test_lock_link():
    """A link planted at SOCKET.lock is not followed: the daemon refuses to start and creates nothing."""
    sock = os.path.join(T, "locklink.sock")
    target = os.path.join(T, "lock-target")
    os.symlink(target, sock + ".lock")
    d = Daemon("locklink", LIB, sock=sock)
    started = d.start(expect_ok=False)
    rc = d.proc.wait(30 * SLOW) if not started else d.stop()
    check(not started and rc == 1 and not os.path.exists(target), "a linked lock is refused: rc %s, target %s" %
          (rc, "created" if os.path.exists(target) else "absent"))
    check("symbolic link" in d.tail(), "the log says why: %s" % d.tail(3))


def main():
    t0 = time.time()
    timed(build_library)
    if checks.failed:
        print("test_daemon: %d passed, %d failed" % (checks.passed, checks.failed))
        sys.exit(1)
    for fn in (test_empty_library, test_start_and_mode, test_round_trips, test_every_method_raw, test_protocol_errors,
               test_garbage_and_oversize, test_half_close_and_slow_reader, test_200_clients, test_sighup_under_load, test_reload_sees_new_costs,
               test_sigterm_under_load, test_stale_socket, test_job_survives_restart, test_finetune_resumes_after_restart,
               test_cancel_finetune, test_limits, test_disallowed_uid, test_places, test_lock_link, test_systemd):
        try:
            timed(fn)
        except Exception as e:  # noqa: BLE001 - a crashed test is a failed test, and the others still run
            import traceback
            traceback.print_exc()
            check(False, "%s raised %r" % (fn.__name__, e))
    for d in ALL_DAEMONS:
        if d.proc and d.proc.poll() is None:
            d.stop()
    if SANITIZED:
        for name in ("main", "empty", "stale", "jobs", "resume", "limits", "uid", "places", "sd"):
            p = os.path.join(T, name + ".log")
            if os.path.exists(p):
                with open(p) as f:
                    text = f.read()
                check("ERROR: AddressSanitizer" not in text and "ERROR: LeakSanitizer" not in text
                      and "runtime error" not in text, "sanitizer report in %s.log" % name)
    if SCHEMAS is not None:
        check(SCHEMA_CHECKS[0] > 100 and len(SCHEMA_CHECKS_BY) >= 10,
              "answers checked against the schemas: %d (%s)" % (SCHEMA_CHECKS[0], sorted(SCHEMA_CHECKS_BY)))
    print("test_daemon: %.1f s, %d answers checked against schema/rpc" % (time.time() - t0, SCHEMA_CHECKS[0]))
    print("test_daemon: %d passed, %d failed" % (checks.passed, checks.failed))
    if not checks.failed:
        subprocess.run(["rm", "-rf", T])
    else:
        print("logs kept in " + T)
    sys.exit(1 if checks.failed else 0)


main()
