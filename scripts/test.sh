#!/usr/bin/env bash
# THE test command: bash scripts/test.sh [pytest args...]
# Sets up everything idempotently (fast when already done), then runs ruff, mypy and pytest.
#  1. Debian packages: Java ZooKeeper 3.8 (server, zkCli.sh, C cli_mt), a JDK (javac compiles
#     tests/java), netcat, an MIT KDC and Kerberos libraries, libfaketime (the Jepsen
#     clock-step nemesis); apt-get runs only when one is missing.
#  2. .venv with `pip install -e '.[test]'` plus kazoo's own test-suite deps, redone only when
#     pyproject.toml changes (hash stamp in .venv/).
#  3. ruff check pyzk tests bench; mypy pyzk; pytest "$@" (pytest's "no tests ran" is a failure).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

log() { printf '[test.sh] %s\n' "$*" >&2; }

# --- 1. system packages -----------------------------------------------------------------------
need=()
# Kerberos tests: an MIT KDC (krb5-kdc, krb5-admin-server's kadmin.local, krb5-user's kinit),
# libgssapi-krb5-2 for pyzk's GSSAPI, and gcc/libkrb5-dev/python3-dev to build pykerberos.
for pkg in zookeeper zookeeper-bin default-jre-headless default-jdk-headless netcat-openbsd docker-compose \
           krb5-kdc krb5-admin-server krb5-user libgssapi-krb5-2 libkrb5-dev gcc python3-dev \
           libfaketime; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    need+=("$pkg")
  fi
done
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  need+=(python3-venv)
fi
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing Debian packages: ${need[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# --- 2. virtualenv and the package --------------------------------------------------------------
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  python3 -m venv .venv
fi
# kazoo's suite (tests/reference/test_kazoo_suite.py) imports these; pyOpenSSL 25 removed the
# X509Extension API that kazoo 2.11's harness still calls.
kazoo_suite_deps=("pyjks" "pyopenssl<25" "objgraph")
stamp=.venv/.pyzk-install-stamp
want="$( (cat pyproject.toml; printf '%s\n' "${kazoo_suite_deps[@]}") | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  log "installing pyzk and test dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  # The distribution was called "pyzk" before it became "pyzk-server": drop the old one.
  .venv/bin/python -m pip uninstall -q -y pyzk 2>/dev/null || true
  .venv/bin/python -m pip install -q -e '.[test]' "${kazoo_suite_deps[@]}"
  echo "$want" > "$stamp"
fi

# --- 3. checks ------------------------------------------------------------------------------------
status=0
log "ruff check pyzk tests bench"
.venv/bin/ruff check pyzk tests bench || status=1
log "mypy pyzk"
.venv/bin/mypy pyzk || status=1
log "pytest $*"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  log "pytest collected no tests: that is a failure"
  status=1
elif [[ $rc -ne 0 ]]; then
  status=1
fi
if [[ $status -ne 0 ]]; then
  log "FAILED"
fi
exit "$status"
