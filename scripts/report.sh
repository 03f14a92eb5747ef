#!/usr/bin/env bash
# Execute the notebooks headlessly with the project's Deno kernel and render results/report/.
# Arguments are passed to scripts/report.py (notebook paths, --no-execute).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .venv/bin/python ] || { echo "[report] error: .venv is missing; run 'bash scripts/setup.sh' first." >&2; exit 2; }
export JUPYTER_PATH="$PWD/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
exec .venv/bin/python scripts/report.py "$@"
