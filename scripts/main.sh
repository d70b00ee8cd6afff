#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job as it stands: install what is missing, build, and evaluate
# the committed default teacher on Fashion-MNIST's test split.
#   scripts/main.sh            evaluate models/teacher-fmnist.hant
#   scripts/main.sh --retrain  first retrain it with its recorded command
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh build
model=models/teacher-fmnist.hant
if [ "${1:-}" = "--retrain" ]; then
  model=build/teacher-fmnist.hant
  # The command recorded in models/teacher-fmnist.md.
  ./build/distill/hant-distill teacher --data fmnist --arch resnet10 --epochs 15 --seed 1 --out "$model"
fi
./build/distill/hant-distill eval --model "$model" --data fmnist --split test
