#!/usr/bin/env bash
# One entry point for a fresh machine:
#   bash run.sh            set up .venv (first time) and run the main job: the article's derivation
#   bash run.sh test       set up .venv (first time) and run the test suite
#   bash run.sh ARGS...    set up .venv (first time) and run `bptt-sym ARGS...`
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/bptt-sym ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "run.sh: setting up .venv (first run only)" >&2
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch .venv/.installed
fi
if [ "${1:-}" = "test" ]; then
  shift
  exec .venv/bin/python -m pytest "$@"
fi
if [ $# -eq 0 ]; then
  set -- derive --model doc --steps 2
fi
exec .venv/bin/bptt-sym "$@"
