#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_data_cli.py: hant-distill on data of the user's own (issue 18), driving the real program on real files.

An image-folder copy of the first 1,000 Fashion-MNIST test images, written here as PNG from the IDX files, gives the
same accuracy and loss from `hant-distill eval` as the IDX files; bad data is refused naming the file (a corrupt PNG,
CIFAR batches for a 1x28x28 teacher, a truncated CIFAR batch, an .npy of floats); a library built with --mean/--std
records them, and `verify` reproduces its scores from the record alone, and not without it.
Usage: test_data_cli.py HANT_DISTILL SOURCE_ROOT
"""
import gzip
import json
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from checks import check  # noqa: E402
import checks  # noqa: E402

N_TEST = 1000


def run(args):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        return f.read()


def fmnist(split):
    d = os.environ.get("HANT_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    prefix = "t10k" if split == "test" else "train"
    out = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        p = os.path.join(d, "%s-%s" % (prefix, kind))
        out.append(read_idx(p if os.path.exists(p) else p + ".gz"))
    return out


def png_gray(path, w, h, pixels):
    """A gray 8-bit PNG, written by hand: signature, IHDR, one IDAT of unfiltered rows, IEND."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\0" + pixels[y * w:(y + 1) * w] for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_folder(root, n_test, n_train):
    for split, n in (("test", n_test), ("train", n_train)):
        images, labels = fmnist(split)
        for c in range(10):
            os.makedirs(os.path.join(root, split, "class%d" % c), exist_ok=True)
        for i in range(n):
            png_gray(os.path.join(root, split, "class%d" % labels[8 + i], "%05d.png" % i), 28, 28,
                     images[16 + 784 * i:16 + 784 * (i + 1)])


def main():
    distill, src = sys.argv[1:3]
    teacher = os.path.join(src, "models", "teacher-fmnist.hant")
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "fm-png")
        write_folder(folder, N_TEST, 50)

        # The same images as IDX and as PNG give the same figures.
        res = {}
        for name, data in (("idx", "fmnist"), ("png", folder)):
            p = run([distill, "eval", "--model", teacher, "--data", data, "--samples", str(N_TEST), "--json"])
            if check(p.returncode == 0, "eval on %s: %s" % (name, p.stderr.strip())):
                res[name] = json.loads(p.stdout)
        if check(len(res) == 2, "both evaluations ran"):
            check(res["idx"]["n"] == res["png"]["n"] == N_TEST, "both evaluate %d images: %s" % (N_TEST, res))
            check(res["idx"]["accuracy"] == res["png"]["accuracy"] and res["idx"]["loss"] == res["png"]["loss"],
                  "PNG folder and IDX files give the same accuracy and loss: %s" % res)
        p = run([distill, "eval", "--model", teacher, "--data", folder, "--data-format", "folder", "--samples", "10"])
        check(p.returncode == 0, "--data-format folder forces the detected format: %s" % p.stderr.strip())

        # Usage errors: exit 2, naming the option.
        p = run([distill, "eval", "--model", teacher, "--data", folder, "--data-format", "tiff"])
        check(p.returncode == 2 and "--data-format" in p.stderr, "an unknown format: %d %s" % (p.returncode, p.stderr))
        p = run([distill, "eval", "--model", teacher, "--data", folder, "--mean", "0.1,0.2"])
        check(p.returncode == 2 and "--mean" in p.stderr, "two means for one channel: %d %s" % (p.returncode, p.stderr))

        # A corrupt PNG: exit 1, naming the file.
        victim = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(folder, "test")) for f in fs
                  if f == "00003.png"][0]
        raw = bytearray(open(victim, "rb").read())
        raw[50] ^= 0xFF
        open(victim, "wb").write(bytes(raw))
        p = run([distill, "eval", "--model", teacher, "--data", folder, "--samples", "10"])
        check(p.returncode == 1 and "00003.png" in p.stderr and "PNG" in p.stderr,
              "a corrupt PNG is refused naming it: %d %s" % (p.returncode, p.stderr.strip()))

        # CIFAR batches for a 1x28x28 teacher, then a truncated batch.
        cifar = os.path.join(tmp, "cifar")
        os.makedirs(cifar)
        rec = bytes([3]) + bytes(range(256)) * 12
        with open(os.path.join(cifar, "test_batch.bin"), "wb") as f:
            f.write(rec * 20)
        p = run([distill, "eval", "--model", teacher, "--data", cifar])
        check(p.returncode == 1 and "3x32x32" in p.stderr and "1x28x28" in p.stderr,
              "CIFAR for a Fashion-MNIST teacher names both shapes: %s" % p.stderr.strip())
        with open(os.path.join(cifar, "test_batch.bin"), "wb") as f:
            f.write(rec * 20 + rec[:1000])
        p = run([distill, "eval", "--model", teacher, "--data", cifar])
        check(p.returncode == 1 and "test_batch.bin" in p.stderr and "truncated" in p.stderr,
              "a truncated CIFAR batch is refused naming it: %s" % p.stderr.strip())

        # An .npy of floats.
        npy = os.path.join(tmp, "npy")
        os.makedirs(npy)
        for name, descr, shape, data in (("test_images", "<f4", "(2, 28, 28)", bytes(2 * 784 * 4)),
                                         ("test_labels", "<i8", "(2,)", bytes(16))):
            hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
            hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
            with open(os.path.join(npy, name + ".npy"), "wb") as f:
                f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + data)
        p = run([distill, "eval", "--model", teacher, "--data", npy, "--data-format", "npy"])
        check(p.returncode == 1 and "test_images.npy" in p.stderr and "<f4" in p.stderr,
              "an .npy of floats is refused naming it and its dtype: %s" % p.stderr.strip())

        # A library built with --mean/--std records them; verify repeats them without being told.
        tiny = os.path.join(tmp, "tiny.hant")
        p = run([distill, "teacher", "--arch", "tiny", "--epochs", "1", "--max-steps", "5", "--samples", "1000",
                 "--val-samples", "200", "--threads", "2", "--mean", "0.286", "--std", "0.353", "--out", tiny])
        check(p.returncode == 0, "a tiny teacher on normalised input: %s" % p.stderr[-300:])
        db = os.path.join(tmp, "lib.db")
        p = run([distill, "build", "--teacher", tiny, "--db", db, "--families", "width", "--per-family", "1",
                 "--samples", "256", "--val-samples", "200", "--epochs", "1", "--jobs", "2",
                 "--mean", "0.286", "--std", "0.353"])
        if check(p.returncode == 0, "build with --mean/--std: %s" % p.stderr[-300:]):
            con = sqlite3.connect(db)
            settings = json.loads(con.execute("SELECT value FROM meta WHERE key='build.settings'").fetchone()[0])
            check(settings.get("data") == "fmnist" and abs(settings.get("mean", [0])[0] - 0.286) < 1e-6 and
                  abs(settings.get("std", [0])[0] - 0.353) < 1e-6, "the settings record data, mean and std: %s" % settings)
            p = run([distill, "verify", "--db", db])
            check(p.returncode == 0, "verify reproduces the scores from the recorded normalisation: %s" % p.stdout)
            # Candidates trained on other input cannot join the library.
            p = run([distill, "build", "--teacher", tiny, "--db", db, "--families", "width", "--per-family", "1",
                     "--samples", "256", "--val-samples", "200", "--epochs", "1", "--jobs", "2"])
            check(p.returncode == 1 and "--mean 0.286 --std 0.353" in p.stderr,
                  "a build without the library's normalisation is refused, naming it: %s" % p.stderr.strip()[-300:])
            # Without the record the same images are fed unnormalised, and the scores do not reproduce.
            settings.pop("mean")
            settings.pop("std")
            con.execute("UPDATE meta SET value=? WHERE key='build.settings'", (json.dumps(settings),))
            con.commit()
            con.close()
            p = run([distill, "verify", "--db", db])
            check(p.returncode == 1, "verify without the recorded normalisation fails: %s" % p.stdout)

        # A library built from an image folder records the folder and its class names, label by label.
        db2 = os.path.join(tmp, "folder.db")
        p = run([distill, "build", "--teacher", tiny, "--db", db2, "--data", folder, "--families", "width",
                 "--per-family", "1", "--batch", "8", "--epochs", "1", "--jobs", "2"])
        if check(p.returncode == 0, "build from the PNG folder: %s" % p.stderr[-300:]):
            con = sqlite3.connect(db2)
            meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('build.settings', 'data.classes')"))
            val_split = con.execute("SELECT val_split FROM teacher").fetchone()[0]
            con.close()
            check(val_split == "folder val[0:5)", "the teacher's record names the folder's validation images: %s" %
                  val_split)
            settings = json.loads(meta.get("build.settings", "{}"))
            check(settings.get("data") == "folder " + os.path.realpath(folder) and settings.get("samples") == 45 and
                  settings.get("val_samples") == 5, "the settings name the folder and its splits: %s" % settings)
            check(json.loads(meta.get("data.classes", "null")) == ["class%d" % c for c in range(10)],
                  "the class names are recorded in label order: %s" % meta.get("data.classes"))
    print("data_cli: %d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
