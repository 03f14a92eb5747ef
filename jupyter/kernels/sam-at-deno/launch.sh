#!/usr/bin/env bash
# Runs the project's pinned Deno as a Jupyter kernel (found through JUPYTER_PATH=<repo>/jupyter).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export NO_COLOR=1                 # plain-text outputs without ANSI colour codes
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# Deno warns on every kernel start that "deno jupyter" is unstable: once per notebook in a report
# run, with nothing to act on. Drop that one line; every other stderr line passes through.
exec "$here/../../../bin/deno" jupyter --kernel --conn "$1" 2> >(grep -v --line-buffered 'is unstable' >&2)
