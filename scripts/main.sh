#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job as it stands: install what is missing, build, and evaluate
# the committed default teacher (ONNX) on Fashion-MNIST's test split, then
# show its slots and the operator library a build would distil from it.
#   scripts/main.sh            evaluate models/teacher-fmnist.onnx
#   scripts/main.sh --retrain  first retrain it with its recorded command
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh build
model=models/teacher-fmnist.onnx
if [ "${1:-}" = "--retrain" ]; then
  # The commands recorded in models/teacher-fmnist.md.
  ./build/distill/hant-distill teacher --data fmnist --arch resnet10 --epochs 15 --seed 1 --out build/teacher-fmnist.hant
  ./build/distill/hant-distill export --model build/teacher-fmnist.hant --out build/teacher-fmnist.onnx
  model=build/teacher-fmnist.onnx
fi
./build/distill/hant-distill eval --model "$model" --data fmnist --split test
./build/distill/hant-distill inspect "$model"
./build/distill/hant-distill build --teacher "$model" --dry-run
