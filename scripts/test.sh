#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what is missing, builds, and runs the whole test suite twice:
# a release build, then an AddressSanitizer + UndefinedBehaviorSanitizer
# build. Ends with one line "tests: N passed, M failed".
#   scripts/test.sh [--no-sanitize]
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh

sanitize=1
[ "${1:-}" = "--no-sanitize" ] && sanitize=0

passed=0
failed=0
status=0

# Runs meson test in a build directory and adds its counts to the totals.
run_suite() {
  dir="$1"
  shift
  echo "== meson test in $dir" >&2
  if meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"; then :; else status=1; fi
  log="$dir/meson-logs/testlog.json"
  if [ -f "$log" ]; then
    ok=$(grep -c '"result": "OK"' "$log" || true)
    bad=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
    passed=$((passed + ok))
    failed=$((failed + bad))
  else
    failed=$((failed + 1))
  fi
}

sh scripts/build.sh build
run_suite build

if [ "$sanitize" = 1 ]; then
  sh scripts/build.sh build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
    -Dc_args=-fno-sanitize-recover=all
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    run_suite build-asan --timeout-multiplier 4
fi

[ "$failed" -gt 0 ] && status=1
echo "tests: $passed passed, $failed failed"
exit "$status"
