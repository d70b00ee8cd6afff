#!/bin/sh
# SPDX-License-Identifier: MIT
# test_main.sh: scripts/main.sh --tiny end to end, twice, on the default teacher: the summary table has a row
# per transform, every export and the fleet report exist, the daemon is stopped, and the second run finds the
# library built and the fleet unchanged.
#   test_main.sh SOURCE_ROOT BUILD_ROOT
set -u
ROOT="$1"
BUILD="$2"
T=$(mktemp -d /tmp/hant-main.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

S="$T/main"
for run in 1 2; do
  sh "$ROOT/scripts/main.sh" --no-install --tiny --build-dir "$BUILD" --state "$S" >"$T/out$run" 2>"$T/err$run"
  check '[ $? -eq 0 ]' "run $run failed: $(tail -5 "$T/err$run")"
  check '[ "$(grep -c "^jetson-nano \|^rpi4 " "$T/out$run")" -eq 2 ] && grep -q "^device  *budget  *energy/inference  *latency  *accuracy (ORT, test)  *CO2e per 1M inferences$" "$T/out$run"' \
    "run $run: the summary table is not a header and two rows: $(cat "$T/out$run")"
  check 'grep -q "^rpi4 .*50% energy .* mJ .* ms .* % .* g$" "$T/out$run"' "run $run: the rpi4 row lacks a figure: $(cat "$T/out$run")"
  check 'grep -q "^main: total [0-9]* s" "$T/err$run"' "run $run: no total time on stderr"
  pid=$(sed -n 's/.*start hantd: serving .*(pid \([0-9]*\)).*/\1/p' "$T/err$run")
  check '[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null' "run $run: hantd (pid $pid) is still running"
  check '[ ! -e "$S/hantd.sock" ]' "run $run: the daemon's socket is left behind"
done
check '[ -s "$S/out/jetson-nano-2W-30fps.onnx" ] && [ -s "$S/out/rpi4-half-energy.onnx" ]' "an export is missing"
check '[ -s "$S/regen/report.html" ]' "the fleet report is missing"
check 'grep -q "0 already built" "$T/err1" && grep -q "\[2\] build the quick library: \([0-9]*\) candidates over 7 slots: \1 already built, 0 trained now" "$T/err2"' \
  "the second run did not find the library built: $(grep "build the quick library:" "$T/err2")"
check 'grep -q "generated 0, unchanged 4, failed 0" "$T/err2"' "the second regen was not incremental: $(grep "regenerate" "$T/err2")"
# A bad option is a usage error.
sh "$ROOT/scripts/main.sh" --no-install --tiny --build-dir "$BUILD" --state "$S" --bogus >/dev/null 2>"$T/err3"
check '[ $? -eq 2 ] && grep -q "unknown option .--bogus." "$T/err3"' "a bad option is not a usage error: $(cat "$T/err3")"

echo "test_main: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
