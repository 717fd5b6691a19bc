#!/usr/bin/env bash
# Run the Kinetic daemon. Creates .venv if missing, installs the project, then exec's
# `python main.py run` with any extra arguments passed through (e.g. --mode paper).
# Once its API listens the daemon prints the dashboard's address on stdout:
#   kinetic: dashboard at http://127.0.0.1:8080/  (metrics: http://127.0.0.1:8080/metrics)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating virtual environment in .venv" >&2
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the project definition changed since the last install.
stamp=.venv/.kinetic-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing kinetic into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -e . >&2
  touch "$stamp"
fi
echo "starting kinetic (the dashboard address follows once it listens; default http://127.0.0.1:8080/)" >&2
exec .venv/bin/python main.py run "$@"
