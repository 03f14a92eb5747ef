#!/usr/bin/env bash
# Opt-in: Debian's Slurm (slurm-wlm) and MUNGE, for tests/slurm_test.ts and for trying the
# Slurm job arrays on one machine. Not part of the default setup: it needs root and about a
# minute of apt. Idempotent: when the commands are there it only checks them (well under a second).
# Run it as `bash scripts/setup_slurm.sh` or `bash scripts/setup.sh --slurm`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "[setup-slurm] $*" >&2; }
die() { echo "[setup-slurm] error: $*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else die "installing Slurm needs root: run 'bash scripts/setup_slurm.sh' once as root."; fi
}

need=(sbatch squeue sinfo scancel slurmctld slurmd munged)
missing() { for c in "${need[@]}"; do command -v "$c" >/dev/null || { echo "$c"; return; }; done; }

if [ -n "$(missing)" ]; then
  command -v apt-get >/dev/null || die "no apt-get here: install Slurm (sbatch, slurmctld, slurmd) and MUNGE by hand."
  log "installing slurm-wlm and munge (apt-get)"
  # The packages' own service starts fail harmlessly without an init system; the tests start
  # the daemons themselves with a private configuration.
  mkdir -p .cache
  install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >>.cache/slurm-install.log 2>&1; }
  install || { as_root apt-get update -q >>.cache/slurm-install.log 2>&1 && install; } ||
    die "apt-get could not install slurm-wlm and munge (see .cache/slurm-install.log); check the apt sources, then re-run."
fi
m=$(missing)
[ -z "$m" ] || die "after installing slurm-wlm and munge, '$m' is still not on PATH."
log "ready: $(slurmctld -V), $(munged --version | cut -d" " -f1)"
