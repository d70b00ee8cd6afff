#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what hant needs from Debian 12's packages. Safe to rerun.
#   scripts/install-deps.sh            build + run dependencies
#   scripts/install-deps.sh --bench    also the reference implementations (PyTorch)
set -eu

BUILD_PKGS="build-essential meson ninja-build pkg-config \
  libuv1-dev libsqlite3-dev libopenblas-dev liblapacke-dev libdnnl-dev libjansson-dev zlib1g-dev \
  libpng-dev libjpeg62-turbo-dev \
  dataset-fashion-mnist sqlite3 glpk-utils \
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev python3-onnx python3-torch python3-torchvision nodejs npm python3-jsonschema \
  libopenmpi-dev openmpi-bin libsystemd-dev chromium"
BENCH_PKGS="python3-torch python3-numpy"

want="$BUILD_PKGS"
for a in "$@"; do
  case "$a" in
    --bench) want="$want $BENCH_PKGS" ;;
    *) echo "install-deps: unknown option '$a' (expected --bench)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue # NodeSource's nodejs bundles npm
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exec sh "$(dirname "$0")/install-ort.sh"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
sh "$(dirname "$0")/install-ort.sh"
