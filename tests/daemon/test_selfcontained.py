#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_selfcontained.py: issue 17's first ten minutes on the real hantd and hant-client: a library built with a
# relative teacher path holds its teacher, so a detached hantd (in /) exports after the teacher file is gone; an
# older library says how to store its teacher (hant-distill library --store-teacher) and then works; a failed
# --out names the user's path and prints no answer; a non-root hantd without XDG_RUNTIME_DIR names its socket,
# suggests --socket and creates nothing; and, in a mount namespace with hantd.service's private /tmp and read-only
# home, --out under /tmp and under a home directory still land where the user asked (the client copies them).
#   test_selfcontained.py HANTD HANT_CLIENT HANT_DISTILL
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

HANTD, CLIENT, DISTILL = [os.path.abspath(p) for p in sys.argv[1:4]]
with open(HANTD, "rb") as f:
    SANITIZED = b"__asan_init" in f.read()
SLOW = 4 if SANITIZED else 1

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import checks  # noqa: E402 - tests/pylib/checks.py, found through the path above
from checks import check  # noqa: E402

T = tempfile.mkdtemp(prefix="hant-selfcontained.")
# Sockets and state outside /tmp: the namespace test hides the host's /tmp from its daemon.
W = tempfile.mkdtemp(prefix="hant-selfcontained.", dir=os.getcwd())
os.chmod(T, 0o755)
os.chmod(W, 0o755)
RUN = os.path.join(T, "run")            # where the library is built, with a relative teacher path
LIB = os.path.join(RUN, "libs", "L.db")  # not beside the teacher: models/ is in RUN, not in libs/
MOVED = os.path.join(T, "moved.hant")   # the teacher file, once moved away
PIDS = []                               # detached daemons, stopped at the end


def run(args, timeout=300, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout * SLOW, **kw)


def daemon_pid(sock):
    """The pid of the daemon serving sock (SO_PEERCRED), or None."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
        s.close()
        return pid
    except OSError:
        return None


def stop(pid):
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    for _ in range(600 * SLOW):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def wait_socket(sock, proc=None):
    for _ in range(600 * SLOW):
        if proc is not None and proc.poll() is not None:
            return False
        if daemon_pid(sock):
            return True
        time.sleep(0.05)
    return False


def client(sock, *args, cwd="/"):
    r = run([CLIENT, "--socket", sock] + list(args), timeout=120, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def loads(path):
    """The exported network loads and runs: hant-distill eval on 100 test images."""
    r = run([DISTILL, "eval", "--model", path, "--samples", "100", "--json"], timeout=120)
    return r.returncode == 0 and json.loads(r.stdout)["n"] == 100


def build_library():
    os.makedirs(os.path.join(RUN, "models"))
    os.makedirs(os.path.join(RUN, "libs"))
    os.makedirs(os.path.join(T, "out"))
    r = run([DISTILL, "teacher", "--arch", "tiny", "--epochs", "1", "--samples", "2000", "--val-samples", "200",
             "--out", "models/t.hant"], cwd=RUN)
    check(r.returncode == 0, "hant-distill teacher: " + r.stderr[-400:])
    r = run([DISTILL, "build", "--teacher", "models/t.hant", "--db", "libs/L.db", "--samples", "256",
             "--val-samples", "100", "--families", "kernel", "--jobs", "1"], cwd=RUN)
    check(r.returncode == 0, "hant-distill build with a relative teacher path: " + r.stderr[-400:])
    r = run([DISTILL, "profile", "--db", "libs/L.db", "--device", "jetson-nano"], cwd=RUN)
    check(r.returncode == 0, "hant-distill profile: " + r.stderr[-400:])
    r = run([DISTILL, "library", "--db", LIB, "--json"])
    t = json.loads(r.stdout)["teacher"] if r.returncode == 0 else {}
    check(t.get("path") == "models/t.hant" and t.get("stored_bytes") == os.path.getsize(os.path.join(RUN, "models/t.hant")),
          "the library holds its teacher's bytes: %s %s" % (t, r.stderr))
    db = sqlite3.connect(LIB)
    check(db.execute("PRAGMA user_version").fetchone()[0] >= 4, "schema version 4 or later")
    row = db.execute("SELECT f.sha256 = t.sha256, f.size = length(f.bytes) FROM teacher_file f "
                     "JOIN teacher t ON t.id = f.teacher_id").fetchone()
    check(row == (1, 1), "teacher_file: the stored bytes' sha256 is the teacher's: %s" % (row,))
    db.close()
    os.rename(os.path.join(RUN, "models/t.hant"), MOVED)


def test_detached_daemon_without_the_teacher():
    """The reported failure: a detached hantd (working directory /) with the teacher gone still exports."""
    sock = os.path.join(W, "d.sock")
    # Started from RUN with the relative --db of the build; it detaches once serving.
    # Its log goes to a file: the detached child keeps stderr, so a pipe would not end.
    with open(os.path.join(W, "d.log"), "a") as log:
        rc = subprocess.call([HANTD, "--db", "libs/L.db", "--socket", sock, "--state-dir", os.path.join(W, "state-d")],
                             cwd=RUN, stdout=subprocess.DEVNULL, stderr=log, timeout=60 * SLOW)
    check(rc == 0, "detached hantd started: rc %d %s" % (rc, open(os.path.join(W, "d.log")).read()[-400:]))
    pid = daemon_pid(sock)
    if not check(pid is not None, "the detached daemon serves %s" % sock):
        return
    PIDS.append(pid)
    check(os.readlink("/proc/%d/cwd" % pid) == "/", "the daemon left its directory")
    out = os.path.join(T, "out", "nano.onnx")
    rc, so, se = client(sock, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", out)
    check(rc == 0 and "wrote " + out in so and "cannot open" not in se,
          "transform --out with the teacher file gone: rc %d %s %s" % (rc, so[-300:], se[-600:]))
    check(os.path.exists(out) and loads(out), "the exported network loads and runs")
    # Fine-tuning reads the teacher too.
    out2 = os.path.join(T, "out", "nano-ft.onnx")
    rc, so, se = client(sock, "transform", "--device", "jetson-nano", "--budget", "1.9W", "--out", out2,
                        "--finetune", "1", "--finetune-samples", "256", "--eval-samples", "100", "--json")
    check(rc == 0 and os.path.exists(out2), "transform --finetune with the teacher file gone: rc %d %s" % (rc, se[-600:]))
    # A failed --out: the user's path and why, no temporary name, and no answer printed as if it had worked.
    rc, so, se = client(sock, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", "/nonexistent/x.onnx")
    check(rc == 1 and so == "" and "--out /nonexistent/x.onnx" in se and "No such file or directory" in se
          and ".tmp" not in se, "--out in a missing directory: rc %d stdout %r stderr %r" % (rc, so[:200], se))
    os.makedirs(os.path.join(T, "out", "adir.onnx"))
    for extra in ([], ["--json"]):
        rc, so, se = client(sock, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", "out/adir.onnx",
                            *extra, cwd=T)
        check(rc == 1 and so == "" and "--out out/adir.onnx" in se and "Is a directory" in se and ".tmp" not in se,
              "--out naming a directory %s: rc %d stdout %r stderr %r" % (extra, rc, so[:200], se))
    stop(pid)


def test_old_library():
    """A library built before schema 4 (no teacher_file row) names itself and --store-teacher, then works."""
    old = os.path.join(RUN, "libs", "old.db")
    src, dst = sqlite3.connect(LIB), sqlite3.connect(old)
    src.backup(dst)
    src.close()
    dst.execute("DELETE FROM teacher_file")
    dst.commit()
    dst.close()
    r = run([DISTILL, "library", "--db", old])
    check(r.returncode == 0 and "not stored in the library" in r.stdout and "--store-teacher" in r.stdout,
          "library says the teacher is not stored: %s" % r.stdout[:300])
    sock = os.path.join(W, "old.sock")
    log = open(os.path.join(W, "old.log"), "a")
    p = subprocess.Popen([HANTD, "--foreground", "--db", old, "--socket", sock, "--state-dir",
                          os.path.join(W, "state-old")], stdout=log, stderr=log, cwd="/")
    log.close()
    if not check(wait_socket(sock, p), "hantd on the old library started"):
        return
    out = os.path.join(T, "out", "old.onnx")
    rc, so, se = client(sock, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", out)
    check(rc == 1 and old in se and "does not hold its teacher" in se
          and "hant-distill library --db %s --store-teacher FILE" % old in se
          and "built from another file" not in se and so == "",
          "old library without its teacher file: rc %d %s %s" % (rc, so[-200:], se[-700:]))
    # Another file is refused, by its hash.
    wrong = os.path.join(T, "wrong.hant")
    with open(MOVED, "rb") as f, open(wrong, "wb") as g:
        g.write(f.read() + b"\0")
    r = run([DISTILL, "library", "--db", old, "--store-teacher", wrong])
    check(r.returncode == 1 and wrong in r.stderr and "is not the teacher" in r.stderr,
          "--store-teacher with another file: rc %d %s" % (r.returncode, r.stderr))
    r = run([DISTILL, "library", "--db", old, "--store-teacher", MOVED, "--json"])
    ok = r.returncode == 0 and json.loads(r.stdout)["stored_teacher"]["bytes"] == os.path.getsize(MOVED)
    check(ok, "--store-teacher with the teacher: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    rc, so, se = client(sock, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", out)
    check(rc == 0 and loads(out), "the old library exports once it holds its teacher: rc %d %s" % (rc, se[-400:]))
    p.terminate()
    p.wait(60 * SLOW)
    # A stored teacher altered in the database is caught by its hash.
    db = sqlite3.connect(old)
    db.execute("UPDATE teacher_file SET bytes = bytes || x'00'")
    db.commit()
    db.close()
    r = run([DISTILL, "verify", "--db", old, "--quick"])
    check(r.returncode == 1 and "damaged" in r.stderr, "verify --quick: a damaged stored teacher: rc %d %s" %
          (r.returncode, r.stderr[-300:]))


def test_socket_without_runtime_dir():
    """Non-root, no XDG_RUNTIME_DIR: the default /run/hantd/hantd.sock is refused first, and nothing is made."""
    d = os.path.join(T, "nort")
    os.makedirs(d)
    os.chmod(d, 0o777)
    kw = {}
    if os.geteuid() == 0:
        import pwd
        nobody = pwd.getpwnam("nobody")
        kw = dict(user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])
    elif os.access("/run", os.W_OK):
        print("  (skipped: this user may create /run/hantd)")
        return
    env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(d, "home")}
    db = os.path.join(d, "lib", "x.db")
    r = run([HANTD, "--db", db, "--state-dir", os.path.join(d, "state")], env=env, cwd=d, timeout=60, **kw)
    check(r.returncode == 1 and "/run/hantd/hantd.sock" in r.stderr and "--socket PATH" in r.stderr
          and "XDG_RUNTIME_DIR" in r.stderr, "no runtime directory: rc %d %s" % (r.returncode, r.stderr))
    check(os.listdir(d) == [], "nothing created: %s" % os.listdir(d))


def test_private_tmp_and_read_only_home():
    """hantd.service's PrivateTmp=yes and ProtectHome=read-only, in a mount namespace: --out under /tmp and under
    a read-only directory land on the user's side, because hant-client copies the file hantd wrote in its state."""
    if os.geteuid() != 0 or run(["unshare", "--mount", "true"], timeout=30).returncode != 0:
        print("  (skipped: needs root and unshare --mount)")
        return
    home = os.path.join(W, "home")  # stands for /home: read-only to the daemon
    os.makedirs(home)
    sock, seen = os.path.join(W, "ns.sock"), os.path.join(W, "ns-seen")
    lib = os.path.join(W, "ns.db")  # the library too: LIB is in the host's /tmp
    src, dst = sqlite3.connect(LIB), sqlite3.connect(lib)
    src.backup(dst)
    src.close()
    dst.close()
    script = ("mount -t tmpfs tmpfs /tmp && mount --bind {h} {h} && mount -o remount,bind,ro {h} {h} && "
              "{{ test -e {t} && echo host-tmp-visible || echo host-tmp-hidden; touch {h}/x 2>/dev/null && "
              "echo home-writable || echo home-read-only; }} > {s} && exec {d} --foreground --db {db} --socket {k} "
              "--state-dir {st}").format(h=home, t=T, s=seen, d=HANTD, db=lib, k=sock, st=os.path.join(W, "state-ns"))
    log = open(os.path.join(W, "ns.log"), "a")
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], stdout=log,
                         stderr=log, cwd="/")
    log.close()
    if not check(wait_socket(sock, p), "hantd in a private-/tmp namespace started: %s" % open(
            os.path.join(W, "ns.log")).read()[-400:]):
        return
    with open(seen) as f:
        check(f.read().split() == ["host-tmp-hidden", "home-read-only"], "the namespace hides /tmp and protects home")
    for out in (os.path.join(T, "out", "tmp.onnx"), os.path.join(home, "home.onnx")):
        rc, so, se = client(sock, "transform", "--device", "jetson-nano", "--budget", "2W", "--out", out)
        check(rc == 0 and os.path.exists(out) and loads(out), "--out %s with hantd in the namespace: rc %d %s" %
              (out, rc, se[-400:]))
    p.terminate()
    p.wait(60 * SLOW)


def main():
    t0 = time.time()
    build_library()
    if checks.failed:
        print("test_selfcontained: %d passed, %d failed" % (checks.passed, checks.failed))
        sys.exit(1)
    for fn in (test_detached_daemon_without_the_teacher, test_old_library, test_socket_without_runtime_dir,
               test_private_tmp_and_read_only_home):
        t1, before = time.time(), checks.failed
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a crashed test is a failed test, and the others still run
            import traceback
            traceback.print_exc()
            check(False, "%s raised %r" % (fn.__name__, e))
        print("%-44s %6.2f s  %s" % (fn.__name__, time.time() - t1, "ok" if checks.failed == before else "FAILED"),
              flush=True)
    for pid in PIDS:
        stop(pid)
    print("test_selfcontained: %.1f s, %d passed, %d failed" % (time.time() - t0, checks.passed, checks.failed))
    if not checks.failed:
        shutil.rmtree(T, ignore_errors=True)
        shutil.rmtree(W, ignore_errors=True)
    else:
        print("files kept in %s and %s" % (T, W))
    sys.exit(1 if checks.failed else 0)


main()
