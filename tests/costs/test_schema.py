#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_schema.py: schema/device.schema.json accepts every shipped profile and the valid fixture, and refuses each bad
# fixture that operator_lib/device.c refuses (tests/costs/test_device.c), so the two stay in step.
# usage: test_schema.py SOURCE_ROOT
import glob, json, os, sys

try:
    import jsonschema
except ImportError:
    print("jsonschema (Debian python3-jsonschema) is not installed: skipped")
    sys.exit(77)

root = sys.argv[1] if len(sys.argv) > 1 else "."
schema = json.load(open(os.path.join(root, "schema", "device.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
fail = 0
good = sorted(glob.glob(os.path.join(root, "devices", "*.json"))) + [os.path.join(root, "tests", "costs", "data", "biglittle.json")]
for p in good:
    errs = list(v.iter_errors(json.load(open(p))))
    if errs:
        fail += 1
        print("FAIL %s: %s" % (p, errs[0].message))
    name = json.load(open(p))["name"]
    if "devices" in p and os.path.basename(p) != name + ".json":
        fail += 1
        print("FAIL %s: name %s does not match the file" % (p, name))
bad = sorted(glob.glob(os.path.join(root, "tests", "costs", "data", "bad-*.json")))
for p in bad:
    if v.is_valid(json.load(open(p))):
        fail += 1
        print("FAIL %s: the schema accepts it" % p)
# bench/build.sh compiles hant-bench without meson from the numeric core's sources: the lists must agree.
import re
meson = open(os.path.join(root, "operator_lib", "meson.build")).read()
core_meson = set(re.findall(r"'([a-z_0-9/]+)\.c'", meson.split("hant_bench_sources = files(")[1].split(")")[0]))
script = open(os.path.join(root, "bench", "build.sh")).read()
core_script = set(re.search(r'^CORE="([^"]*)"', script, re.M).group(1).split())
if core_meson != core_script:
    fail += 1
    print("FAIL bench/build.sh and operator_lib/meson.build list different core sources: %s" % sorted(core_meson ^ core_script))
print("schema: %d profiles valid, %d bad fixtures refused, %d failed" % (len(good), len(bad), fail))
sys.exit(1 if fail else 0)
