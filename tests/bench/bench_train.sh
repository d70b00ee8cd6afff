#!/bin/sh
# SPDX-License-Identifier: MIT
# Training throughput, hant against PyTorch (CPU), same network, data, batch
# and thread count, alternating runs in one session. Prints medians and the ratio.
#   tests/bench/bench_train.sh [ARCH=resnet10] [BATCH=128] [STEPS=60] [ROUNDS=3] [THREADS=2]
# Needs the build in ./build and python3-torch (scripts/install-deps.sh --bench).
set -eu
cd "$(dirname "$0")/../.."
arch="${1:-resnet10}"; batch="${2:-128}"; steps="${3:-60}"; rounds="${4:-3}"; threads="${5:-2}"
desc=$(./build/tests/bench/bench_arch "$arch")
py=/usr/bin/python3
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores" >&2
echo "arch: $desc; batch $batch; $steps timed steps after 5 warm-up; $threads threads; $rounds rounds" >&2
hs=""; ts=""
for r in $(seq "$rounds"); do
  h=$(./build/tests/bench/bench_train "$arch" "$batch" "$steps" "$threads" | sed 's/.*"samples_per_s": \([0-9.]*\).*/\1/')
  t=$(OMP_NUM_THREADS="$threads" $py tests/bench/torch_train.py --arch "$desc" --batch "$batch" --steps "$steps" --threads "$threads" | sed 's/.*"samples_per_s": \([0-9.]*\).*/\1/')
  echo "round $r: hant $h samples/s, pytorch $t samples/s" >&2
  hs="$hs $h"; ts="$ts $t"
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
spread() { printf '%s\n' $1 | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
hm=$(median "$hs"); tm=$(median "$ts")
torchv=$($py -c 'import torch; print(torch.__version__)')
echo "hant     median $hm samples/s (range $(spread "$hs"))"
echo "pytorch  median $tm samples/s (range $(spread "$ts")), torch $torchv"
echo "ratio    $(echo "$hm $tm" | awk '{printf "%.2f", $1/$2}')x PyTorch throughput"
