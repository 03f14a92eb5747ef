#!/usr/bin/env bash
# Runs the project's pinned Deno as a Jupyter kernel (found through JUPYTER_PATH=<repo>/jupyter).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export NO_COLOR=1                 # plain-text outputs without ANSI colour codes
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$here/../../../bin/deno" jupyter --kernel --conn "$1"
