#!/usr/bin/env bash
# `deno task bench [--quick] [...]`: install the PyTorch peer into the project's .venv (idempotent,
# stamped like scripts/setup.sh), then run bench/bench.ts, which starts bench/peer_torch.py as its
# own child process and writes results/bench.csv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "[bench] $*" >&2; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

[ -x .venv/bin/python ] || { log ".venv is missing: running scripts/setup.sh first"; bash scripts/setup.sh; }
h=$(hash_of bench/requirements.txt)
if [ ! -f .venv/.bench-stamp ] || [ "$(cat .venv/.bench-stamp)" != "$h" ]; then
  log "installing the PyTorch peer (bench/requirements.txt) into .venv"
  # PIP_RETRIES=0: where only a local index is reachable, retrying the public one costs minutes.
  PIP_RETRIES=0 .venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt 2>&1 |
    { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  .venv/bin/python -c "import torch, numpy" || { log "torch/numpy did not install"; exit 1; }
  echo "$h" > .venv/.bench-stamp
fi

# The peer's OpenMP threads sleep when idle instead of spinning (else its step time swings 40-300 ms
# on 2 cores, ENVIRONMENT.md); bench.ts passes it to the peer too.
export OMP_WAIT_POLICY=PASSIVE
exec bin/deno run --allow-all bench/bench.ts "$@"
