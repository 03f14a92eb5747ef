#!/usr/bin/env bash
# `deno task bench [--quick] [...]`: check the options (bench/options.ts: --help and bad options are
# answered here, before anything is installed), install the PyTorch peer into the project's .venv
# unless --no-peer (idempotent, stamped like scripts/setup.sh), then run bench/bench.ts, which starts
# bench/peer_torch.py as its own child process and writes results/bench.csv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "[bench] $*" >&2; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# Exit 3 from bench/options.ts: the help was printed, nothing to run (HELP_SHOWN there).
rc=0
bin/deno run --allow-all bench/options.ts "$@" || rc=$?
[ "$rc" -eq 3 ] && exit 0
[ "$rc" -eq 0 ] || exit "$rc"

peer=1
for arg in "$@"; do [ "$arg" = --no-peer ] && peer=0; done
if [ "$peer" = 1 ]; then
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
fi

# The peer's OpenMP threads sleep when idle instead of spinning (else its step time swings 40-300 ms
# on 2 cores, docs/environment.md#speed-measured); bench.ts passes it to the peer too.
export OMP_WAIT_POLICY=PASSIVE
for arg in "$@"; do
  case "$arg" in --repeats|--repeats=*) exec bin/deno run --allow-all bench/repeats.ts "$@" ;; esac
done
exec bin/deno run --allow-all bench/bench.ts "$@"
