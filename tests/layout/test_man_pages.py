# SPDX-License-Identifier: MIT
# test_man_pages.py: every program hant installs has a man page in docs/man/, installed by docs/meson.build, that
# names every long option the program's --help lists (for hant-client, of the subcommands given).
import os
import re
import subprocess
import sys

SRC = sys.argv[1]
PROGRAMS = dict(a.split("=", 1) for a in sys.argv[2:])  # NAME=PATH[,SUBCOMMAND...]
failed = 0


def fail(msg):
    global failed
    failed += 1
    print("FAIL: " + msg, file=sys.stderr)


installed = open(os.path.join(SRC, "docs", "meson.build")).read()
for name, spec in PROGRAMS.items():
    path, *subs = spec.split(",")
    pages = [p for p in os.listdir(os.path.join(SRC, "docs", "man")) if re.fullmatch(re.escape(name) + r"\.[18]", p)]
    if not pages:
        fail("%s has no man page in docs/man/" % name)
        continue
    if "man/" + pages[0] not in installed:
        fail("docs/meson.build does not install man/%s" % pages[0])
    page = open(os.path.join(SRC, "docs", "man", pages[0])).read().replace("\\-", "-")
    for sub in subs or [None]:
        r = subprocess.run([path] + ([sub] if sub else []) + ["--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        opts = set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)", r.stdout, re.M)) - {"--help", "--version"}
        if not opts:
            fail("%s %s --help lists no options: %s" % (name, sub or "", r.stdout[:200]))
        for o in sorted(opts):
            if not re.search(re.escape(o) + r"(?![a-z0-9-])", page):
                fail("%s: %s%s is not in docs/man/%s" % (name, (sub + " ") if sub else "", o, pages[0]))
print("man pages: %d failed" % failed)
sys.exit(1 if failed else 0)
