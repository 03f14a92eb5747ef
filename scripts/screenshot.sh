#!/usr/bin/env bash
# Screenshot report pages the way a reader sees them (headless Chromium), to check charts draw.
# Usage: scripts/screenshot.sh [page.html ...]   (default: every page in results/report/)
# PNGs go to results/report/screenshots/ (ignored by git). Installs Debian's chromium if missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v chromium >/dev/null; then
  echo "[screenshot] installing chromium (apt-get)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null; else sudo apt-get install -y -q chromium >/dev/null; fi
fi
out=results/report/screenshots
mkdir -p "$out"
pages=("$@")
[ ${#pages[@]} -gt 0 ] || pages=(results/report/*.html)
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
for page in "${pages[@]}"; do
  [ -f "$page" ] || { echo "[screenshot] error: no page at $page; render the report first (bin/deno task report)." >&2; exit 2; }
  png="$out/$(basename "${page%.html}").png"
  # The flags keep Chromium off the network (this machine's network is closed) and headless.
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --virtual-time-budget=10000 --screenshot="$png" --window-size=1200,"${SCREENSHOT_HEIGHT:-3000}" \
    "file://$PWD/$page" >/dev/null 2>&1
  echo "[screenshot] $png" >&2
done
