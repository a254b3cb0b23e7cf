#!/usr/bin/env bash
# THE run command: bash scripts/run.sh [pyzk args...], e.g. bash scripts/run.sh --config zoo.cfg
# Creates .venv and installs pyzk into it when needed, then runs the server in the foreground.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
stamp=.venv/.pyzk-run-stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! .venv/bin/python -c 'import pyzk' 2>/dev/null; then
  .venv/bin/python -m pip install -q -e .
  echo "$want" > "$stamp"
fi
exec .venv/bin/python -m pyzk "$@"
