# SPDX-License-Identifier: MIT
# checks.py: the counted check() the Python integration tests share; a failed check prints what failed and the
# run goes on, so one report lists every failure.
import sys

passed = failed = 0


def check(cond, what):
    """Counts cond; prints `what` when it is false. Returns cond, so callers can skip dependent checks."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what, file=sys.stderr, flush=True)
    return cond
