#!/usr/bin/env bash
# bin/deno task check: type-check every TypeScript file (lib, tests, scripts, bench) and lint.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case "${1:-}" in
  "") ;;
  -h | --help)
    echo "usage: bin/deno task check"
    echo
    echo "Type-checks lib/, tests/, scripts/ and bench/ (deno check) and lints them (deno lint)."
    echo "The notebooks' own cells are type-checked by tests/notebook_cells_test.ts."
    exit 0 ;;
  *) echo "[check] error: unknown option $1 (no options; --help)" >&2; exit 2 ;;
esac
bin/deno check lib/ tests/ scripts/ bench/
bin/deno lint
