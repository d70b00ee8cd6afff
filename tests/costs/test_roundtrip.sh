#!/bin/sh
# SPDX-License-Identifier: MIT
# test_roundtrip.sh: the real programs end to end on a small library: export-ops -> hant-bench -> import-costs round-trips;
# a malformed cost table is refused with its line number; profile models every device and measures the host.
# usage: test_roundtrip.sh HANT_DISTILL HANT_BENCH MAKE_TEACHER SOURCE_ROOT
set -eu
D=$1
B=$2
MT=$3
SRC=$4
T=$(mktemp -d /tmp/hant-costs-XXXXXX)
trap 'rm -rf "$T"' EXIT
export HANT_DEVICES="$SRC/devices"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A small library: an untrained tiny teacher (costs depend on shapes, not weights), two families.
"$MT" tiny "$T/t.hant" || fail "teacher"
"$D" build --teacher "$T/t.hant" --db "$T/l.db" --samples 64 --val-samples 50 --families kernel,dws --jobs 1 \
  >/dev/null 2>&1 || fail "build"
N=$("$D" library --db "$T/l.db" --json | python3 -c 'import json,sys; print(sum(len(s["candidates"]) for s in json.load(sys.stdin)["slots"]))')
[ "$N" -gt 5 ] || fail "library has $N candidates"

# Export, measure on "the board" (here), import as rpi4's costs.
"$D" export-ops --db "$T/l.db" --out "$T/ops.txt" 2>/dev/null || fail "export-ops"
[ "$(head -1 "$T/ops.txt")" = "hant-ops 1" ] || fail "ops magic"
[ "$(grep -vc '^#' "$T/ops.txt")" -eq $((N + 1)) ] || fail "ops list should have $N operators"
"$B" --quiet --max-samples 15 --max-spread 1 --batch 4 --energy-seconds 0 --device rpi4 -o "$T/costs.csv" "$T/ops.txt" || fail "hant-bench"
[ "$(grep -vc '^#' "$T/costs.csv")" -eq $((2 * N + 1)) ] || fail "cost table should have $((2 * N)) rows"
"$D" import-costs --db "$T/l.db" --device rpi4 "$T/costs.csv" >/dev/null || fail "import-costs"
"$D" library --db "$T/l.db" --json > "$T/lib.json"
python3 - "$T/lib.json" "$T/costs.csv" <<'PY' || fail "imported costs do not match the table"
import csv, json, sys
lib = json.load(open(sys.argv[1]))
rows = {(int(r["id"]), int(r["batch"])): float(r["latency_ms"])
        for r in csv.DictReader(l for l in open(sys.argv[2]) if not l.startswith("#"))}
seen = 0
for s in lib["slots"]:
    for c in s["candidates"]:
        for key, batch in (("rpi4", 1), ("rpi4/b4", 4)):
            cost = c["costs"][key]
            assert cost["source"] == "imported", cost
            assert abs(cost["latency_ms"] - rows[(c["id"], batch)]) <= 1e-6 * rows[(c["id"], batch)] + 1e-12
            assert cost["energy_source"].startswith("modelled: rpi4 profile"), cost["energy_source"]
            assert cost["energy_mj"] > 0 and cost["power_w"] > 0 and cost["co2e_g_per_million"] > 0
            seen += 1
assert seen == len(rows), (seen, len(rows))
PY

# A malformed table is refused whole, naming the line and the field.
awk -F, 'BEGIN{OFS=","} !/^#/ && NR > 1 && ++k == 3 {$3 = "fast"} {print}' "$T/costs.csv" > "$T/bad.csv"
LINE=$(grep -n ',fast,' "$T/bad.csv" | cut -d: -f1)
if "$D" import-costs --db "$T/l.db" --device rpi4 "$T/bad.csv" 2> "$T/err.txt"; then fail "malformed table accepted"; fi
grep -q "bad.csv:$LINE: latency_ms: expected a positive number" "$T/err.txt" || fail "message: $(cat "$T/err.txt")"
# A row naming an unknown candidate, and a mode the device lacks.
sed 's/^1,1,/99999,1,/' "$T/costs.csv" > "$T/bad2.csv"
if "$D" import-costs --db "$T/l.db" --device rpi4 "$T/bad2.csv" 2> "$T/err.txt"; then fail "unknown id accepted"; fi
grep -q "bad2.csv:[0-9]*: id: 99999 is not a candidate" "$T/err.txt" || fail "message: $(cat "$T/err.txt")"
grep -v '^# device:' "$T/costs.csv" > "$T/nodev.csv"
if "$D" import-costs --db "$T/l.db" --device jetson-nano "$T/nodev.csv" 2> "$T/err.txt"; then fail "modeless table accepted for jetson"; fi
grep -q "power_mode: gpu 'jetson-nano' has modes 10W, 5W" "$T/err.txt" || fail "message: $(cat "$T/err.txt")"
if "$D" import-costs --db "$T/l.db" --device jetson-nano "$T/costs.csv" 2> "$T/err.txt"; then fail "rpi4 table accepted for jetson"; fi
grep -q "device: the table says it was measured on 'rpi4'" "$T/err.txt" || fail "message: $(cat "$T/err.txt")"
if "$D" import-costs --db "$T/l.db" --device no-such-board "$T/nodev.csv" 2> "$T/err.txt"; then fail "unknown device accepted"; fi
grep -q "no profile for device 'no-such-board'" "$T/err.txt" || fail "message: $(cat "$T/err.txt")"

# Modelled costs: every candidate gets one cost per power mode, keyed by device and mode.
"$D" profile --db "$T/l.db" --device jetson-nano -q >/dev/null || fail "profile jetson-nano"
"$D" profile --db "$T/l.db" --device eyeriss -q >/dev/null || fail "profile eyeriss"
# Measured host costs, calibration and an additivity check.
"$D" profile --db "$T/l.db" --device host --passes 1 --max-samples 15 --max-spread 1 --attempts 1 --additivity 4 \
  --sweep-scale 0.05 --json -q > "$T/host.json" || fail "profile host"
"$D" library --db "$T/l.db" --json > "$T/lib.json"
python3 - "$T/lib.json" "$T/host.json" <<'PY' || fail "profiled costs"
import json, sys
lib = json.load(open(sys.argv[1])); host = json.load(open(sys.argv[2]))
for s in lib["slots"]:
    for c in s["candidates"]:
        k = c["costs"]
        assert k["jetson-nano@10W"]["source"] == "modelled" and k["jetson-nano@5W"]["source"] == "modelled"
        assert k["jetson-nano@5W"]["latency_ms"] >= k["jetson-nano@10W"]["latency_ms"]
        assert k["eyeriss"]["source"] == "modelled"
        h = k["host"]
        assert h["source"] == "measured" and h["latency_ms"] > 0 and "latency_spread" in h
        assert h["energy_source"] == "rapl" or h["energy_source"].startswith("modelled: host profile")
assert host["source"] == "measured" and host["threads"] == 1 and host["cpu"], host
cal = host["calibration"]; assert 0 <= cal["held_out_error"]["median"] < 5, cal
add = host["additivity"]; assert add["networks"] == 4 and add["factor"] > 0, add
km = host["kernel_model"]
# 34 sampled shapes at --sweep-scale 0.05, then the library's own shapes, each of which some candidate runs
assert km["table"] == "measured" and km["kernels"] > 34 and km["threads"] == 1 and km["cpu"], km
assert km["shared_rows"] >= km["kernels"] - 34 and 0 < km["held_rows_per_fold"] <= km["shared_rows"], km
assert km["held_out_error"]["n"] > 0 and 0 <= km["held_out_error"]["median"] < 5, km
assert [c["class"] for c in km["classes"]] == ["conv", "conv1x1", "depthwise", "grouped", "linear", "pool", "eltwise"]
assert any(r["args"].startswith("hant-distill profile") for r in lib["build_runs"]), "profiling run not recorded"
PY
# The kernel table is reused on the same machine, and reported as foreign (and measured anew) on another CPU.
"$D" profile --db "$T/l.db" --device host --no-measure --json -q > "$T/again.json" 2> "$T/err.txt" || fail "profile again"
grep -q '"table":"stored"' "$T/again.json" || fail "kernel table not reused: $(cat "$T/again.json")"
[ -s "$T/err.txt" ] && fail "unexpected warning: $(cat "$T/err.txt")"
sqlite3 "$T/l.db" "UPDATE host_kernel SET cpu = 'Other CPU 9000 (64 logical CPUs)'" || fail "sqlite3"
"$D" profile --db "$T/l.db" --device host --no-measure --sweep-scale 0.05 --max-samples 15 --max-spread 1 \
  --attempts 1 --json -q > "$T/moved.json" 2> "$T/err.txt" || fail "profile on a foreign table"
grep -q "warning: .*measured on 'Other CPU 9000 (64 logical CPUs)'.*foreign here" "$T/err.txt" \
  || fail "no foreign-table warning: $(cat "$T/err.txt")"
grep -q '"table":"measured"' "$T/moved.json" || fail "foreign table used: $(cat "$T/moved.json")"
# --sweep-only: the sampled shapes alone
"$D" profile --db "$T/l.db" --device host --no-measure --remeasure-kernels --sweep-only --sweep-scale 0.05 \
  --max-samples 15 --max-spread 1 --attempts 1 --json -q > "$T/sweep.json" || fail "profile --sweep-only"
grep -q '"kernels":34,' "$T/sweep.json" || fail "--sweep-only measured more than the sweep: $(cat "$T/sweep.json")"
[ "$(sqlite3 "$T/l.db" "SELECT count(DISTINCT cpu) FROM host_kernel")" = 2 ] || fail "tables of both CPUs kept"
# --roofline: the check as before the kernel model; it cannot be combined with a new kernel table.
"$D" profile --db "$T/l.db" --device host --no-measure --roofline --json -q > "$T/roof.json" || fail "profile --roofline"
grep -q '"kernel_model"' "$T/roof.json" && fail "--roofline still ran the kernel model"
grep -q '"calibration"' "$T/roof.json" || fail "--roofline lost the calibration: $(cat "$T/roof.json")"
if "$D" profile --db "$T/l.db" --device host --roofline --remeasure-kernels 2> "$T/err.txt"; then
  fail "--roofline --remeasure-kernels accepted"
fi
grep -q "remeasure-kernels needs it" "$T/err.txt" || fail "message: $(cat "$T/err.txt")"
echo "costs round trip: ok"
