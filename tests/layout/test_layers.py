#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks the house rules that the compiler cannot: programs include libhant
# only through hant.h, *_internal.h stays in its area, no area includes a
# higher area's header, and each outside library is included in one place.
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
lib = os.path.join(root, "operator_lib")
order = re.search(r"foreach area : \[([^\]]*)\]", open(os.path.join(lib, "meson.build")).read()).group(1)
areas = re.findall(r"'([a-z]+)'", order)
rank = {a: i for i, a in enumerate(areas)}
area_of = {}
for a in areas:
    for h in glob.glob(os.path.join(lib, a, "*.h")):
        area_of[os.path.basename(h)] = a

# Each outside library's header, and the files allowed to include it.
edges = {
    "cblas.h": {"operator_lib/core/gemm.c"},
    "lapacke.h": {"operator_lib/core/svd.c"},
    "sqlite3.h": {"operator_lib/store/store_internal.h", "operator_lib/store/store.c"},
    # JSON is read through base/json_read.c; only the protocol edges use jansson directly.
    # Image decoding: one file each side of the data area's image folders.
    "png.h": {"operator_lib/data/image_decode.c"},
    "jpeglib.h": {"operator_lib/data/image_decode.c"},
    "jansson.h": {"operator_lib/base/json_read.c", "operator_lib/rpc/rpc_internal.h", "client/rpc_client.h"},
}
# Outside libraries one folder alone may include.
edge_folders = {
    "uv.h": "daemon/",
    "dnnl.h": "operator_lib/core/",
    "mpi.h": "distill/",
}

fail = 0
checked = 0


def bad(path, line, msg):
    global fail
    fail += 1
    print("FAIL %s:%d: %s" % (os.path.relpath(path, root), line, msg))


def includes(path):
    for n, l in enumerate(open(path, errors="replace"), 1):
        m = re.match(r'\s*#\s*include\s*([<"])([^">]+)[">]', l)
        if m:
            yield n, m.group(1), m.group(2)


for a in areas:
    for path in glob.glob(os.path.join(lib, a, "*.[ch]")):
        checked += 1
        for n, kind, h in includes(path):
            base = os.path.basename(h)
            if kind == '"' and base in area_of:
                other = area_of[base]
                if rank[other] > rank[a]:
                    bad(path, n, "area %s includes %s from the higher area %s" % (a, h, other))
                if base.endswith("_internal.h") and other != a:
                    bad(path, n, "%s is internal to %s" % (h, other))

for prog in ("distill", "daemon", "client"):
    for path in glob.glob(os.path.join(root, prog, "*.[ch]")):
        checked += 1
        for n, kind, h in includes(path):
            base = os.path.basename(h)
            if kind == '"' and base in area_of:
                bad(path, n, "programs include libhant through hant.h, not %s" % h)

for path in glob.glob(os.path.join(root, "*", "**", "*.[ch]"), recursive=True):
    rel = os.path.relpath(path, root)
    if "node_modules" in rel or rel.startswith(("build", "tests/")):
        continue
    for n, kind, h in includes(path):
        allowed = edges.get(h)
        if allowed and rel not in allowed:
            bad(path, n, "%s is included only by %s" % (h, ", ".join(sorted(allowed))))
        folder = edge_folders.get(h)
        if folder and not rel.startswith(folder):
            bad(path, n, "%s is included only in %s" % (h, folder))

print("layers: %d files in %d areas checked, %d failed" % (checked, len(areas), fail))
sys.exit(1 if fail else 0)
