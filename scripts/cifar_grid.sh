#!/usr/bin/env bash
# The CIFAR-10 (JPEG q75 copy) grid, in the order the claims need it, resumable at any point:
#   1. the ST/SAM block (claim 1: SAM alone against ST), 3 seeds;
#   2. the AT and ASAM rows (claim 2), 1 seed;
#   3. the mechanism measures of every saved model (the mechanism notebook only reads them).
# Each step skips what the results files already hold and resumes interrupted runs from their
# checkpoints, so running this again after a stop continues where it was. Meant for the
# background:  mkdir -p results/logs && nohup bash scripts/cifar_grid.sh > results/logs/cifar_grid.log 2>&1 &
# Extra arguments (e.g. --workers 1, --data-dir PATH) go to the two training steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { echo "=== $(date -u +%FT%TZ) $*"; }
step "1/3 ST and SAM (3 seeds)"
bin/deno task experiment --dataset cifar10-jpeg --preset cpu --rows ST,SAM-0.05,SAM-0.1,SAM-0.2 "$@"
step "2/3 AT and ASAM"
bin/deno task experiment --dataset cifar10-jpeg --preset cpu "$@"
step "3/3 mechanism measures"
bin/deno task sharpness --results results/cifar10-jpeg-cpu.csv
step "done"
