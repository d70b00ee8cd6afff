# SPDX-License-Identifier: MIT
# daemon.py: starts a real hantd on a library for a test, waits until its socket accepts, stops it afterwards.
import contextlib
import os
import signal
import socket
import subprocess
import time


@contextlib.contextmanager
def hantd(hantd_path, db, workdir, name="d", timeout_s=30):
    """Runs `hantd --foreground` on db with its socket, state and log in workdir (named after name) and yields
    the socket path once a client can connect (or after timeout_s, leaving the client to report the failure).
    The daemon gets SIGTERM and is waited for when the block ends, however it ends."""
    sock = os.path.join(workdir, name + ".sock")
    with open(os.path.join(workdir, name + ".log"), "w") as log:
        proc = subprocess.Popen([hantd_path, "--foreground", "--db", db, "--socket", sock, "--state-dir",
                                 os.path.join(workdir, "state-" + name), "--config", "/dev/null"],
                                stdout=log, stderr=log)
        try:
            deadline = time.time() + timeout_s
            while time.time() < deadline and proc.poll() is None:
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(sock)
                    s.close()
                    break
                except OSError:
                    time.sleep(0.02)
            yield sock
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
