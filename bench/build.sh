#!/bin/sh
# SPDX-License-Identifier: MIT
# build.sh: builds hant-bench with a plain C compiler and nothing but libc, libm and oneDNN (with the OpenMP runtime it
# threads on), natively on a board or with a cross compiler, e.g.  CC=aarch64-linux-gnu-gcc sh bench/build.sh
# (docs/costs.md). Debian packages oneDNN as libdnnl-dev.
#   CC       compiler (default cc)
#   OUT      output file (default ./hant-bench)
#   CFLAGS   extra flags, e.g. -mcpu=cortex-a72
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
OUT=${OUT:-hant-bench}
TRIPLET=$($CC -dumpmachine 2>/dev/null || echo unknown)
VERSION=$(sed -n "s/^  version : '\([^']*\)'.*/\1/p" "$ROOT/meson.build")
GEN=$(mktemp -d)
trap 'rm -rf "$GEN"' EXIT
# The only generated header the numeric core reads.
printf '#define HANT_VERSION "%s"\n#define HANT_HAVE_LAPACKE 0\n' "${VERSION:-unknown}" > "$GEN/hant_config.h"
INC="-I$GEN"
for a in base core net cost; do INC="$INC -I$ROOT/operator_lib/$a"; done
CORE="base/error base/file base/rng core/arena core/dnnl_ctx core/conv core/batchnorm core/activation core/mul core/pooling core/channels core/linear core/loss core/optim net/net net/infer net/arch cost/energy cost/sensor cost/measure cost/opsfile cost/costtable"
SRC="$ROOT/bench/hant_bench.c"
for f in $CORE; do SRC="$SRC $ROOT/operator_lib/$f.c"; done
# shellcheck disable=SC2086
$CC -std=c11 -O2 -D_GNU_SOURCE -pthread ${CFLAGS:-} $INC $SRC -o "$OUT" -ldnnl -lgomp -lm
echo "built $OUT for $TRIPLET"
