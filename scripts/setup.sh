#!/usr/bin/env bash
# One idempotent set-up for everything the project needs: the pinned Deno, the npm packages,
# the TensorFlow backend (built offline when its download is unreachable), the Python Jupyter
# tools and the Fashion-MNIST dataset. A second run checks stamps and finishes in seconds.
#
# Options:
#   --slurm                  also install Slurm and MUNGE (scripts/setup_slurm.sh; opt-in, needs root)
# Options (environment variables):
#   SAM_AT_GPU=1             also install @tensorflow/tfjs-node-gpu (needs CUDA 11.2 + cuDNN 8.1)
#   FASHION_MNIST_DIR=<dir>  use the four Fashion-MNIST .gz files there instead of the Debian package
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case "${1:-}" in
  "" | --slurm) ;;
  -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "[setup] error: unknown option $1 (only --slurm; --help describes them)" >&2; exit 2 ;;
esac

log() { echo "[setup] $*" >&2; }
die() { echo "[setup] error: $*" >&2; exit 1; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "'$*' needs root; run it once as root, then re-run setup."; fi
}
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
    { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

command -v node >/dev/null && command -v npm >/dev/null || die "Node.js and npm are required (apt-get install nodejs npm)."
command -v python3 >/dev/null || die "Python 3 is required (apt-get install python3 python3-venv)."
# Build native addons against the installed Node headers when there are some (no header download).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# 1. Deno, pinned, in its own folder so it never mixes with the project's node_modules.
h=$(hash_of tools/package.json)
if ! stamp_ok tools/node_modules/.setup-stamp "$h"; then
  log "installing Deno $(sed -n 's/.*"deno": "\(.*\)".*/\1/p' tools/package.json) from npm"
  (cd tools && npm install --no-package-lock --loglevel=error)
  echo "$h" > tools/node_modules/.setup-stamp
fi
bin/deno --version | head -n1 >&2

# 2. The project's npm packages. Install scripts are skipped here: tfjs-node's downloads
#    libtensorflow, which step 3 handles so that it also works offline.
h=$(hash_of package.json package-lock.json)
if ! stamp_ok node_modules/.setup-stamp "$h"; then
  log "installing npm packages"
  npm ci --ignore-scripts --loglevel=error
  # nodejs-polars' native part declares node >= 22, so npm skips it as an optional dependency on
  # older Node; Deno, which runs it, has no such limit. Install this platform's part explicitly.
  polars_version=$(node -p "require('./node_modules/nodejs-polars/package.json').version")
  polars_native=nodejs-polars-$(node -p "process.platform + '-' + process.arch")$(
    [ "$(uname -s)" = Linux ] && { ldd --version 2>&1 | grep -qi musl && echo -musl || echo -gnu; })
  [ -d "node_modules/$polars_native" ] ||
    npm install --no-save --ignore-scripts --loglevel=error "$polars_native@$polars_version"
  echo "$h" > node_modules/.setup-stamp
fi

# 3. The TensorFlow backend: tfjs-node's native addon linked against libtensorflow.
build_tfjs_node() { # $1 = package name
  local pkg=node_modules/@tensorflow/$1 wheel=$2
  ls "$pkg"/lib/napi-v*/tfjs_binding.node >/dev/null 2>&1 && return 0
  log "building $1 (normal install: download libtensorflow)"
  if npm rebuild "@tensorflow/$1" --foreground-scripts >.cache/tfjs-build.log 2>&1 &&
    ls "$pkg"/lib/napi-v*/tfjs_binding.node >/dev/null 2>&1; then return 0; fi
  log "libtensorflow download unreachable; using the one inside the Python wheel $wheel"
  bash scripts/libtensorflow_from_wheel.sh "$pkg" "$wheel"
  npm rebuild "@tensorflow/$1" --foreground-scripts >.cache/tfjs-build.log 2>&1 ||
    die "building $1 failed; see .cache/tfjs-build.log"
  ls "$pkg"/lib/napi-v*/tfjs_binding.node >/dev/null 2>&1 || die "$1 built no addon; see .cache/tfjs-build.log"
}
mkdir -p .cache
build_tfjs_node tfjs-node tensorflow-cpu==2.21.0
if [ "${SAM_AT_GPU:-0}" = 1 ]; then
  if [ ! -d node_modules/@tensorflow/tfjs-node-gpu ]; then
    log "installing @tensorflow/tfjs-node-gpu (opt-in)"
    npm install --no-save --ignore-scripts --loglevel=error @tensorflow/tfjs-node-gpu@4.22.0
  fi
  build_tfjs_node tfjs-node-gpu tensorflow==2.21.0
fi

# 4. Python: Jupyter tooling in a project virtual environment.
h=$(hash_of requirements.txt)
if ! stamp_ok .venv/.setup-stamp "$h"; then
  log "creating .venv with JupyterLab, nbconvert, nbclient, plotly"
  python3 -m venv .venv 2>/dev/null || { apt_install python3-venv && rm -rf .venv && python3 -m venv .venv; }
  # PIP_RETRIES=0: where only a local index is reachable, retrying the public one costs minutes.
  PIP_RETRIES=0 .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt 2>&1 |
    { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  echo "$h" > .venv/.setup-stamp
fi

# 5. Fashion-MNIST, the offline default dataset (Debian package dataset-fashion-mnist).
if [ -n "${FASHION_MNIST_DIR:-}" ]; then
  [ -f "$FASHION_MNIST_DIR/train-images-idx3-ubyte.gz" ] ||
    die "FASHION_MNIST_DIR=$FASHION_MNIST_DIR has no train-images-idx3-ubyte.gz."
elif [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  log "installing Fashion-MNIST (apt-get install dataset-fashion-mnist)"
  apt_install dataset-fashion-mnist
fi

# 6. The paper's tables, copied beside our data so notebooks read them from the project.
if [ -f ../shared/paper/paper_tables.csv ] && ! cmp -s ../shared/paper/paper_tables.csv data/paper_tables.csv; then
  cp ../shared/paper/paper_tables.csv data/paper_tables.csv
fi

# 7. Opt-in: Slurm and MUNGE for the job-array tests (tests/slurm_test.ts installs them itself too).
if [ "${1:-}" = --slurm ]; then bash scripts/setup_slurm.sh; fi

log "ready"
