#!/usr/bin/env bash
# Put libtensorflow from a TensorFlow Python wheel where tfjs-node's install script looks for it
# (deps/lib + deps/include), so the script skips its download and node-gyp builds the addon.
# Usage: libtensorflow_from_wheel.sh <tfjs-node package dir> <pip requirement, e.g. tensorflow-cpu==2.21.0>
set -euo pipefail
pkg=$1 req=$2
wheels=.cache/wheels
mkdir -p "$wheels"
name=${req%%==*}
wheel=$(ls "$wheels"/"${name//-/_}"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
  if ! PIP_RETRIES=0 python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$wheels" "$req" 2>&1 | { grep -v "is ignored: it is neither" || true; } >&2; then
    echo "[setup] error: could not download $req with pip; put its wheel in $wheels/ and re-run setup." >&2
    exit 1
  fi
  wheel=$(ls "$wheels"/"${name//-/_}"-*.whl | head -n1)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$wheel" "$tmp" <<'EOF'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        if n in ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2") or n.startswith("tensorflow/include/"):
            z.extract(n, out)
EOF
rm -rf "$pkg/deps"
mkdir -p "$pkg/deps/lib"
mv "$tmp/tensorflow/libtensorflow_cc.so.2" "$tmp/tensorflow/libtensorflow_framework.so.2" "$pkg/deps/lib/"
mv "$tmp/tensorflow/include" "$pkg/deps/include"
# tfjs-node 4.22 expects libtensorflow 2.9.1 under these names; the C API it uses is unchanged.
ln -s libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so"
ln -s libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so.2.9.1"
ln -s libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so"
