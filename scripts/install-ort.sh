#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs ONNX Runtime for Node (npm onnxruntime-node, pinned in
# tests/onnx/package.json and package-lock.json) into tests/onnx/node_modules.
# The ONNX interop tests and the inference benchmark run it as the reference.
# --ignore-scripts skips the package's post-install download (GPU providers):
# the CPU library ships inside the package. Safe to rerun.
set -eu
cd "$(dirname "$0")/../tests/onnx"
want=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' package.json)
have=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' node_modules/onnxruntime-node/package.json 2>/dev/null || true)
[ -n "$want" ] && [ "$have" = "$want" ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "install-ort: npm not found (apt-get install npm)" >&2; exit 1; }
echo "install-ort: installing onnxruntime-node $want into tests/onnx/node_modules" >&2
npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
node -e "require('onnxruntime-node')" || { echo "install-ort: onnxruntime-node does not load" >&2; exit 1; }
