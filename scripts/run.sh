#!/usr/bin/env bash
# THE run command: bash scripts/run.sh [pyzk args...], e.g. bash scripts/run.sh --config zoo.cfg
# Creates .venv and installs pyzk into it when needed, then runs the server in the foreground.
# It runs in the caller's directory: relative paths (--config w.cfg, dataDir=data) and the
# embedded default's ./data are relative to where you are, wherever the checkout is.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$repo/.venv/bin/python"
if [[ ! -x "$py" ]]; then
  python3 -m venv "$repo/.venv"
fi
stamp="$repo/.venv/.pyzk-run-stamp"
want="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! "$py" -c 'import pyzk' 2>/dev/null; then
  "$py" -m pip uninstall -q -y pyzk 2>/dev/null || true  # the old distribution name
  "$py" -m pip install -q -e "$repo"
  echo "$want" > "$stamp"
fi
if [[ "${PYZK_COMPILED:-0}" == 1 ]]; then
  # The request path compiled with mypyc into build/compiled (pyzk.tools.compiled; rebuilt
  # only when a source changes). -P keeps a checkout in the current directory from shadowing it.
  "$py" -c 'import mypy' 2>/dev/null || "$py" -m pip install -q "mypy>=1.10" "setuptools>=77"
  "$py" -m pyzk.tools.compiled --out "$repo/build/compiled" >/dev/null
  export PYTHONPATH="$repo/build/compiled${PYTHONPATH:+:$PYTHONPATH}"
  exec "$py" -P -m pyzk "$@"
fi
exec "$py" -m pyzk "$@"
