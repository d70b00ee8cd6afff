#!/bin/sh
# SPDX-License-Identifier: MIT
# test_preset.sh: hant-distill build --preset: the quick preset plans its candidates on the default teacher,
# options given with a preset override it, the library records the settings it was built with, and a rerun
# that would train differently is refused.
#   test_preset.sh HANT_DISTILL SOURCE_ROOT
set -u
HD="$1"
ROOT="$2"
T=$(mktemp -d /tmp/hant-preset.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
jq1() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

TEACHER="$ROOT/models/teacher-fmnist.onnx"
# The quick preset on the default teacher: identity, width, prune and lowrank, the two ends of each family's
# range per slot, plus the teacher's own block: 50 candidates over 7 slots.
"$HD" build --teacher "$TEACHER" --preset quick --dry-run --json >"$T/quick.json" 2>"$T/quick.err"
check '[ $? -eq 0 ]' "quick dry run failed: $(cat "$T/quick.err")"
check '[ "$(jq1 "$T/quick.json" "d[\"total\"], d[\"preset\"], d[\"per_family\"]")" = "(50, '"'quick'"', 2)" ]' \
  "quick plans $(jq1 "$T/quick.json" "d[\"total\"], d[\"preset\"], d[\"per_family\"]"), expected 50 candidates"
check '[ "$(jq1 "$T/quick.json" "sorted({f for s in d[\"slots\"] for f in s[\"families\"]})")" = "['"'identity', 'lowrank', 'prune', 'teacher', 'width'"']" ]' \
  "quick uses other families: $(jq1 "$T/quick.json" "sorted({f for s in d[\"slots\"] for f in s[\"families\"]})")"
# slot4 has 7 widths (8 to 56 inner channels): the ends stay.
check '[ "$(jq1 "$T/quick.json" "[k for k in d[\"slots\"][4][\"keys\"] if k.startswith(\"width\")]")" = "['"'width mid=8', 'width mid=56'"']" ]' \
  "quick does not keep the ends of slot4's widths: $(jq1 "$T/quick.json" "d[\"slots\"][4][\"keys\"]")"
# Without a preset, today's defaults: every family, every candidate.
"$HD" build --teacher "$TEACHER" --dry-run --json >"$T/full.json" 2>/dev/null
check '[ "$(jq1 "$T/full.json" "d[\"total\"]")" = 264 ]' "the default plan is not the full 264: $(jq1 "$T/full.json" "d[\"total\"]")"
# dws and ir start from a least-squares fit in the full preset (the default), randomly in the quick one.
check '[ "$(jq1 "$T/full.json" "d[\"init\"]") $(jq1 "$T/quick.json" "d[\"init\"]")" = "lsq random" ]' \
  "the presets' init: full $(jq1 "$T/full.json" "d[\"init\"]"), quick $(jq1 "$T/quick.json" "d[\"init\"]"), expected lsq and random"
"$HD" build --teacher "$TEACHER" --preset full --dry-run --json >"$T/full2.json" 2>/dev/null
check '[ "$(jq1 "$T/full2.json" "d[\"total\"], d[\"preset\"]")" = "(264, '"'full'"')" ]' "--preset full is not 264 candidates"
# Options override the preset: one per family, or other families.
"$HD" build --teacher "$TEACHER" --preset quick --per-family 1 --dry-run --json >"$T/one.json" 2>/dev/null
check '[ "$(jq1 "$T/one.json" "d[\"total\"]")" = 29 ]' "--per-family 1 over quick plans $(jq1 "$T/one.json" "d[\"total\"]"), expected 29"
"$HD" build --teacher "$TEACHER" --preset quick --families lowrank --dry-run --json >"$T/lr.json" 2>/dev/null
check '[ "$(jq1 "$T/lr.json" "d[\"total\"], d[\"families\"]")" = "(21, '"'lowrank'"')" ]' \
  "--families lowrank over quick plans $(jq1 "$T/lr.json" "d[\"total\"], d[\"families\"]"), expected 21"
"$HD" build --teacher "$TEACHER" --preset fast --dry-run >/dev/null 2>"$T/bad.err"
check '[ $? -eq 2 ] && grep -q "unknown preset .fast. (expected quick or full)" "$T/bad.err"' \
  "an unknown preset is not a usage error naming the presets: $(cat "$T/bad.err")"

# A real build: the preset and the override that won are recorded, and library shows them.
"$HD" teacher --arch tiny --epochs 1 --samples 2000 --val-samples 200 --out "$T/t.hant" >/dev/null 2>&1
check '[ -s "$T/t.hant" ]' "teacher training failed"
ARGS="--teacher $T/t.hant --db $T/l.db --preset quick --families lowrank --per-family 1 --samples 256 --val-samples 100"
"$HD" build $ARGS --json >"$T/b.jsonl" 2>"$T/b.err"
check '[ $? -eq 0 ]' "quick build failed: $(tail -2 "$T/b.err")"
"$HD" library --db "$T/l.db" --json >"$T/lib.json"
check '[ "$(jq1 "$T/lib.json" "[d[\"build\"][k] for k in (\"preset\", \"families\", \"per_family\", \"samples\", \"val_samples\", \"epochs\")]")" = "['"'quick', 'lowrank'"', 1, 256, 100, 1]" ]' \
  "library --json build settings: $(jq1 "$T/lib.json" "d[\"build\"]")"
"$HD" library --db "$T/l.db" >"$T/lib.txt"
check 'grep -q "^built    with preset quick: families lowrank (at most 1 per family and slot), 256 training and 100 validation images" "$T/lib.txt"' \
  "library does not say how it was built: $(sed -n 2p "$T/lib.txt")"
# A rerun with the same settings finds it built; one that trains differently is refused, naming both.
"$HD" build $ARGS --json 2>/dev/null | tail -1 >"$T/again.json"
check 'grep -q "\"trained\":0" "$T/again.json"' "a rerun trained again: $(cat "$T/again.json")"
"$HD" build $ARGS --samples 512 >/dev/null 2>"$T/mix.err"
check '[ $? -eq 1 ] && grep -q "built with --preset quick (256 training images, 1 epoch, batch 64, seed 1), this build asks for --preset quick (512 training images" "$T/mix.err"' \
  "a rerun with other training images is not refused: $(cat "$T/mix.err")"
check '[ "$(jq1 "$T/lib.json" "sum(len(s[\"candidates\"]) for s in d[\"slots\"])")" = "$(sqlite3 "$T/l.db" "SELECT count(*) FROM candidate")" ]' \
  "the refused build changed the library"
# A library of the first recipe (its settings predate the recipe field): with one epoch the recipes train alike,
# so it resumes (the quick library an earlier scripts/main.sh left); with two, its candidates trained on one
# cosine schedule without rounds, and it is refused, naming the recipe.
cp "$T/l.db" "$T/old.db"
sqlite3 "$T/old.db" "UPDATE meta SET value = json_remove(value, '$.recipe', '$.epochs_teacher', '$.plateau')
                     WHERE key = 'build.settings'"
"$HD" build $ARGS --db "$T/old.db" --json 2>"$T/old1.err" | tail -1 >"$T/old1.json"
check 'grep -q "\"trained\":0" "$T/old1.json"' "a one-epoch library of recipe 1 was not resumed: $(cat "$T/old1.err")"
cp "$T/l.db" "$T/old2.db"
sqlite3 "$T/old2.db" "UPDATE meta SET value = json_set(json_remove(value, '$.recipe', '$.epochs_teacher', '$.plateau'),
                     '$.epochs', 2) WHERE key = 'build.settings'"
"$HD" build $ARGS --epochs 2 --epochs-teacher 2 --db "$T/old2.db" >/dev/null 2>"$T/old.err"
check '[ $? -eq 1 ] && grep -q "recipe 1" "$T/old.err"' "a two-epoch library of recipe 1 was resumed: $(cat "$T/old.err")"

# --init lsq (issue 16): dws and ir candidates start from a least-squares fit of their last conv, which the
# library records, per candidate and in its settings; a rerun that would start them otherwise is refused.
"$HD" build --teacher "$TEACHER" --init lsqr --dry-run >/dev/null 2>"$T/init.err"
check '[ $? -eq 2 ] && grep -q "\-\-init: expected random or lsq, got .lsqr." "$T/init.err"' \
  "an unknown --init is not a usage error naming the choices: $(cat "$T/init.err")"
LARGS="--teacher $T/t.hant --db $T/lsq.db --preset quick --families dws,ir --per-family 1 --samples 256 --val-samples 100"
"$HD" build $LARGS --init lsq --json >/dev/null 2>"$T/lsq.err"
check '[ $? -eq 0 ]' "an --init lsq build failed: $(tail -2 "$T/lsq.err")"
"$HD" library --db "$T/lsq.db" --json >"$T/lsq.json"
check '[ "$(jq1 "$T/lsq.json" "d[\"build\"][\"init\"], sorted({c[\"family\"] + \" \" + c[\"init\"] for s in d[\"slots\"] for c in s[\"candidates\"] if c[\"family\"] != \"teacher\"})")" = "('"'lsq', ['dws lsq', 'ir lsq']"')" ]' \
  "an --init lsq library does not record it: $(jq1 "$T/lsq.json" "d[\"build\"]")"
# Group candidates (recipe 3) start from the teacher's slice, then the fit of their last conv, here a grouped 3x3
# conv before a projection shortcut (the tiny teacher's res 16 s=2).
"$HD" build $LARGS --families group --init lsq --json >/dev/null 2>"$T/glsq.err"
check '[ $? -eq 0 ]' "an --init lsq build of group failed: $(tail -2 "$T/glsq.err")"
"$HD" library --db "$T/lsq.db" --json >"$T/glsq.json"
check '[ "$(jq1 "$T/glsq.json" "sorted({c[\"init\"] for s in d[\"slots\"] for c in s[\"candidates\"] if c[\"family\"] == \"group\"})")" = "['"'group-slice+lsq'"']" ]' \
  "group candidates of an --init lsq library do not say group-slice+lsq: $(jq1 "$T/glsq.json" "[c[\"init\"] for s in d[\"slots\"] for c in s[\"candidates\"]]")"
check '[ "$(jq1 "$T/lib.json" "d[\"build\"][\"init\"]")" = random ]' "a library built without --init does not say random"
"$HD" build $LARGS >/dev/null 2>"$T/lsqmix.err"
check '[ $? -eq 1 ] && grep -q "built with --preset quick (256 training images, 1 epoch, batch 64, seed 1, --init lsq), this build asks for --preset quick (256 training images, 1 epoch, batch 64, seed 1)" "$T/lsqmix.err"' \
  "a rerun with random starts is not refused: $(cat "$T/lsqmix.err")"

echo "test_preset: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
