#!/usr/bin/env bash
# JupyterLab on notebooks/ with the project's kernel ("Deno 2.7.14 (sam-at)", from jupyter/).
# Usage: bash scripts/lab.sh [jupyter lab options, e.g. --no-browser --port 8889]
# Works as a user and as root: Jupyter refuses to start as root without --allow-root, so the flag
# is added when the effective user id is 0.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .venv/bin/jupyter ] || { echo "[lab] error: .venv is missing; run 'bash scripts/setup.sh' first." >&2; exit 2; }
export JUPYTER_PATH="$PWD/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
as_root=()
[ "$(id -u)" -eq 0 ] && as_root=(--allow-root)
exec .venv/bin/jupyter lab ${as_root[@]+"${as_root[@]}"} "$@" notebooks/
