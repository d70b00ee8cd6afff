#!/bin/sh
# SPDX-License-Identifier: MIT
# Layer-wise distillation throughput, hant against PyTorch, in one run: the same teacher architecture, slot,
# candidate blocks, batch, images and thread count. hant's figure is its whole `build` (teacher passes,
# training, BN calibration, validation scoring, SQLite commits); PyTorch's is the training loop alone.
#   tests/bench/bench_distill.sh [SLOT=2] [SAMPLES=4096] [ROUNDS=3]
set -eu
cd "$(dirname "$0")/../.."
slot="${1:-2}"; samples="${2:-4096}"; rounds="${3:-3}"
HD=./build/distill/hant-distill
T=$(mktemp -d /tmp/hant-bench-distill.XXXXXX)
trap 'rm -rf "$T"' EXIT
arch=$(./build/tests/bench/bench_arch resnet10)
# A teacher with this architecture (weights do not change the work done).
$HD teacher --arch resnet10 --max-steps 1 --samples 256 --val-samples 64 --out "$T/t.hant" >/dev/null 2>&1
fams="width,kernel,lowrank,prune"
# Blocks of these families for the slot, as hant generates them.
$HD build --teacher "$T/t.hant" --db "$T/plan.db" --samples 64 --val-samples 16 --families "$fams" --batch 64 >/dev/null 2>&1
sqlite3 "$T/plan.db" "SELECT substr(c.arch, instr(c.arch, ';') + 2) FROM candidate c JOIN slot s ON s.id = c.slot_id
                               WHERE s.idx = $slot AND c.key != 'teacher' AND c.loss_init > 1e-9 ORDER BY c.key" >"$T/blocks.txt"
n=$(wc -l <"$T/blocks.txt")
steps=$((samples / 64))
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores" >&2
echo "teacher resnet10, slot $slot, $n candidates ($fams), batch 64, $samples images, 2 threads" >&2
hs=""; ts=""
for r in $(seq "$rounds"); do
  rm -f "$T/l.db"*
  out=$($HD build --teacher "$T/t.hant" --db "$T/l.db" --samples "$samples" --val-samples 100 --families "$fams" \
        --slots "slot$slot" --batch 64 --jobs 2 --json 2>/dev/null | tail -1)
  wall=$(echo "$out" | sed 's/.*"wall_seconds":\([0-9.e+-]*\).*/\1/')
  trained=$(echo "$out" | sed 's/.*"trained":\([0-9]*\).*/\1/')
  # Exact-init candidates are not trained; count trained samples from the library.
  trained_samples=$(sqlite3 "$T/l.db" "SELECT sum(train_samples) FROM candidate WHERE loss_init > 1e-9")
  h=$(echo "$trained_samples $wall" | awk '{printf "%.1f", $1 / $2}')
  t=$(/usr/bin/python3 tests/bench/torch_distill.py --teacher "$arch" --slot "$slot" --blocks "$T/blocks.txt" --steps "$steps" --batch 64 \
      --threads 2 | sed 's/.*"candidate_samples_per_s": \([0-9.]*\).*/\1/')
  echo "round $r: hant $h candidate-samples/s ($trained candidates), pytorch $t" >&2
  hs="$hs $h"; ts="$ts $t"
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
hm=$(median "$hs"); tm=$(median "$ts")
echo "hant     median $hm candidate-samples/s"
echo "pytorch  median $tm candidate-samples/s"
echo "ratio    $(echo "$hm $tm" | awk '{printf "%.2f", $1/$2}')x"
