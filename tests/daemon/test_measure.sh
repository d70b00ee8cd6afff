#!/bin/sh
# SPDX-License-Identifier: MIT
# test_measure.sh: the measured-latency correction through the real hantd and hant-client: the assembled
# network is measured on this machine and the answer says how many solves it took; misuse is refused.
#   test_measure.sh HANTD HANT_CLIENT HANT_DISTILL
set -u
HANTD="$1"; HC="$2"; HD="$3"
T=$(mktemp -d /tmp/hant-measure.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$1"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $2" >&2; fi; }

"$HD" teacher --arch tiny --epochs 1 --samples 2000 --val-samples 200 --out "$T/t.hant" >/dev/null 2>&1
"$HD" build --teacher "$T/t.hant" --db "$T/l.db" --samples 256 --val-samples 100 --families kernel,lowrank >/dev/null 2>&1
"$HD" profile --db "$T/l.db" --device host --passes 1 --roofline >/dev/null 2>&1
"$HD" profile --db "$T/l.db" --device rpi4 >/dev/null 2>&1
check '[ "$(sqlite3 "$T/l.db" "SELECT count(*) FROM cost")" -gt 0 ]' "no costs were profiled"
"$HANTD" --db "$T/l.db" --socket "$T/s.sock" --state-dir "$T/state" --foreground 2>"$T/d.log" &
pid=$!
i=0; while [ ! -S "$T/s.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

out=$("$HC" --socket "$T/s.sock" transform --device host --budget 1ms --measure --json)
check '[ $? -eq 0 ]' "transform --measure failed: $out"
check 'echo "$out" | python3 -c "
import json, sys
d = json.load(sys.stdin)
m = d[\"measured_latency\"]
assert m[\"rounds\"] >= 1 and m[\"latency_ms\"] > 0 and isinstance(m[\"fits\"], bool), m
assert d[\"status\"] in (\"optimal\", \"infeasible\", \"time_limit\")
if m[\"fits\"]:
    assert m[\"latency_ms\"] <= 1.0, m
"' "measured_latency missing or inconsistent: $out"
# Measured answers are never served from the cache.
out2=$("$HC" --socket "$T/s.sock" transform --device host --budget 1ms --measure --json)
check 'echo "$out2" | grep -q "\"cache_hit\": *false"' "a measured answer came from the cache"
# Only the host can be measured, and only against a latency budget.
"$HC" --socket "$T/s.sock" transform --device rpi4 --budget 50ms --measure >/dev/null 2>"$T/e1"
check '[ $? -ne 0 ] && grep -q "measure" "$T/e1"' "measure on rpi4 was not refused: $(cat "$T/e1")"
"$HC" --socket "$T/s.sock" transform --device host --budget 10mJ --measure >/dev/null 2>"$T/e2"
check '[ $? -ne 0 ] && grep -q "latency budget" "$T/e2"' "measure without a latency budget was not refused: $(cat "$T/e2")"
echo "test_measure: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
