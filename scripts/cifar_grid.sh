#!/usr/bin/env bash
# The CIFAR-10 (JPEG q75 copy) grid, in the order the claims need it, resumable at any point:
#   1. the ST/SAM block (claim 1: SAM alone against ST), 3 seeds;
#   2. the AT and ASAM rows (claim 2), 1 seed;
#   3. the mechanism measures of every saved model (the mechanism notebook only reads them).
# Steps 1 and 2 run in lanes, one per core: each lane is one single-threaded process that does
# step 1, then step 2. A lane that finds no ST/SAM run left to take moves on to the AT rows while
# the other lane finishes its last ST/SAM run, so no core waits at the step boundary (with one
# `--workers N` process per step, one core idled up to a whole SAM run there); the runs' locks
# keep lanes off each other's runs. Each step skips what the results files already hold and
# resumes interrupted runs from their checkpoints, so running this again after a stop continues
# where it was. Meant for the background:
#   mkdir -p results/logs && nohup bash scripts/cifar_grid.sh > results/logs/cifar_grid.log 2>&1 &
# CIFAR_GRID_LANES=N sets the number of lanes (default: the number of cores). Extra arguments
# (e.g. --data-dir PATH) go to the two training steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { echo "=== $(date -u +%FT%TZ) $*"; }
# The environment of the experiment CLI's worker processes (lib/jobs/workers.ts WORKER_ENV): one
# TensorFlow thread, so a run trained in a lane rounds exactly as one trained in a worker would.
one_thread=(env TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1)
lane() {
  local n=$1
  shift
  step "lane $n: 1/3 ST and SAM (3 seeds)"
  "${one_thread[@]}" bin/deno task experiment --dataset cifar10-jpeg --preset cpu \
    --rows ST,SAM-0.05,SAM-0.1,SAM-0.2 --workers 1 "$@"
  step "lane $n: 2/3 AT and ASAM"
  "${one_thread[@]}" bin/deno task experiment --dataset cifar10-jpeg --preset cpu --workers 1 "$@"
}
lanes=${CIFAR_GRID_LANES:-$(nproc)}
pids=()
for n in $(seq "$lanes"); do
  lane "$n" "$@" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
if [ "$failed" -gt 0 ]; then
  echo "$failed of $lanes lanes stopped with an error (above); every finished run is kept in results/cifar10-jpeg-cpu.csv: fix the error and run this script again." >&2
  exit 1
fi
step "3/3 mechanism measures"
bin/deno task sharpness --results results/cifar10-jpeg-cpu.csv
step "done"
