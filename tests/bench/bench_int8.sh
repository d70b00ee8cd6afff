#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_int8.sh: the int8 figures of docs/results.md: the default teacher quantised by `hant-distill export
# --precision int8` (calibration chosen on the validation split), its QDQ file's test accuracy as ONNX Runtime
# measures it against the float32 teacher's, and int8 against float32 host latency side by side (bench_int8).
#
# usage: tests/bench/bench_int8.sh [BUILD_DIR] [MODEL]   (from the source root; prints Markdown-ready lines)
set -eu
build=${1:-build}
model=${2:-models/teacher-fmnist.onnx}
data=${HANT_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "export:"
"$build/distill/hant-distill" export --model "$model" --out "$tmp/int8.onnx" --precision int8 --json
echo "fp32 test accuracy (hant):"
"$build/distill/hant-distill" eval --model "$model" --data "$data" --json
echo "int8 QDQ test accuracy (ONNX Runtime):"
node tests/onnx/ort_run.mjs fmnist "$tmp/int8.onnx" "$data"
echo "fp32 ONNX test accuracy (ONNX Runtime):"
node tests/onnx/ort_run.mjs fmnist "$model" "$data"
echo "latency, batch 1, 1 thread (2000 interleaved runs):"
"$build/tests/bench/bench_int8" "$model" 1 1 2000
echo "latency, batch 64, 1 thread (200 interleaved runs):"
"$build/tests/bench/bench_int8" "$model" 64 1 200
