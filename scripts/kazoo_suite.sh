#!/usr/bin/env bash
# Run kazoo's own test suite (kazoo/tests, shipped inside the kazoo package) against one server
# kind and record one "<test id> <outcome>" line per test in tests/.work/kazoo-<kind>.txt.
#
#   bash scripts/kazoo_suite.sh java  [extra pytest args]   # Debian's Java ZooKeeper 3.8
#   bash scripts/kazoo_suite.sh pyzk  [extra pytest args]   # pyzk, via scripts/kazoo-shim/java
#   bash scripts/kazoo_suite.sh pyzk test_client.TestClient::test_create [...]  # rerun some tests
# Arguments not starting with "-" select tests by the ids used in the results file, or whole
# modules by name (test_client); otherwise the whole suite runs.
# KAZOO_RESULTS_NAME names the results file (default kazoo-<kind>).
#
# kazoo's harness (kazoo/testing/harness.py + common.py) launches servers itself with
# `java -cp $ZOOKEEPER_CLASSPATH ... QuorumPeerMain zoo.cfg`; for pyzk the shim directory is put
# first on PATH so that exact command runs `python -m pyzk --config zoo.cfg --myid N` instead.
# Env: KAZOO_CLUSTER_SIZE (default 1: standalone; 3 = a 3-member ensemble on localhost with
# readonlymode.enabled, as kazoo's harness writes it; passed on as ZOOKEEPER_CLUSTER_SIZE),
# KAZOO_TEST_TIMEOUT (per test, default 120 s), KAZOO_PORT_OFFSET (default: a free block of
# ports picked here, in KAZOO_PORT_RANGE, default 21000-29000: runs side by side take apart ranges). Whole suite, 3 members: ~7 min against Java, ~4 min against pyzk.
# pyzk reads ZOO_CFG_EXTRA, so `ZOO_CFG_EXTRA=pyzk.workers=2 bash scripts/kazoo_suite.sh pyzk`
# runs the suite against servers that spread their clients over two processes.
set -euo pipefail

kind="${1:?usage: kazoo_suite.sh java|pyzk [pytest args]}"
shift
case "$kind" in java|pyzk) ;; *) echo "kind must be java or pyzk" >&2; exit 2 ;; esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$repo/.venv/bin/python"
work="$repo/tests/.work"
mkdir -p "$work"

# kazoo's harness imports OpenSSL and jks at import time (TLS keystores for the Java server);
# pyOpenSSL 25 dropped X509Extension, which kazoo 2.11 still uses.
# pure-sasl: kazoo's SASL tests (TestLegacySASLDigestAuthentication ...) skip without it.
if ! "$py" -c 'import jks, objgraph, puresasl; from OpenSSL.crypto import X509Extension' 2>/dev/null; then
  "$py" -m pip install -q 'pyjks' 'pyopenssl<25' 'objgraph' 'pure-sasl'
fi

J=/usr/share/java
export ZOOKEEPER_CLASSPATH="$J/zookeeper.jar:$J/slf4j-simple.jar:$J/servlet-api.jar:$J/netty-codec.jar:$J/netty-resolver.jar:$J/netty-transport-native-unix-common.jar"
export ZOOKEEPER_VERSION=3.8.0
export ZOOKEEPER_CLUSTER_SIZE="${KAZOO_CLUSTER_SIZE:-1}"
if [[ -z "${KAZOO_PORT_OFFSET:-}" ]]; then
  # kazoo gives server i ports offset+10*i .. offset+10*i+4 on all addresses; find a free block.
  KAZOO_PORT_OFFSET="$("$py" - "$ZOOKEEPER_CLUSTER_SIZE" "${KAZOO_PORT_RANGE:-21000-29000}" <<'PY'
import random, socket, sys
size = int(sys.argv[1])
lo, hi = (int(x) for x in sys.argv[2].split("-"))
for _ in range(200):
    base = random.randrange(lo, hi, 10)
    ports = [base + 10 * i + j for i in range(size) for j in range(5)]
    try:
        socks = []
        for p in ports:
            s = socket.socket()
            socks.append(s)
            s.bind(("0.0.0.0", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    break
else:
    sys.exit("no free port block")
PY
)"
fi
export ZOOKEEPER_PORT_OFFSET="$KAZOO_PORT_OFFSET"
# kazoo's suite changes behaviour when CI is set (15 s sleeps, build-version checks); run it the
# same way everywhere.
unset CI

if [[ "$kind" == "pyzk" ]]; then
  export PATH="$repo/scripts/kazoo-shim:$PATH"
  export PYZK_PYTHON="$py"
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
fi

name="${KAZOO_RESULTS_NAME:-kazoo-$kind}"
junit="$work/$name.junit.xml"
results="$work/$name.txt"
tests_dir="$("$py" -c 'import kazoo.tests, os; print(os.path.dirname(kazoo.tests.__file__))')"
select=()
opts=()
for arg in "$@"; do
  if [[ "$arg" == -* ]]; then
    opts+=("$arg")
  elif [[ "$arg" != *.* ]]; then
    # "test_client" -> the whole module "<kazoo/tests>/test_client.py" (a shard of the suite)
    select+=("$tests_dir/$arg.py")
  else
    # "test_client.TestClient::test_x" -> "<kazoo/tests>/test_client.py::TestClient::test_x"
    mod="${arg%%.*}"
    select+=("$tests_dir/$mod.py::${arg#*.}")
  fi
done
if [[ ${#select[@]} -eq 0 ]]; then
  select=(--pyargs kazoo.tests)
fi
rundir="$(mktemp -d)"
trap 'rm -rf "$rundir"' EXIT
start=$(date +%s)
set +e
# Run from an empty directory so this repo's pytest settings and our pytest plugin stay out.
(cd "$rundir" && "$py" -m pytest "${select[@]}" -p no:cacheprovider -p no:pyzk \
   --rootdir="$tests_dir" --timeout="${KAZOO_TEST_TIMEOUT:-120}" -q -rfE --junitxml="$junit" \
   ${opts[@]+"${opts[@]}"})
rc=$?
set -e
end=$(date +%s)

"$py" - "$junit" "$results" <<'PY'
import sys
import xml.etree.ElementTree as ET

junit, out = sys.argv[1], sys.argv[2]
lines = []
for case in ET.parse(junit).getroot().iter("testcase"):
    name = f"{case.get('classname')}::{case.get('name')}"
    outcome = "passed"
    for child in case:
        if child.tag in ("failure", "error"):
            outcome = "failed"
            break
        if child.tag == "skipped":
            outcome = "skipped"
    lines.append(f"{name} {outcome}\n")
with open(out, "w") as fh:
    fh.writelines(sorted(lines))
PY
echo "kazoo suite against $kind: exit $rc in $((end - start)) s; results in $results"
# 1 = some tests failed: the result file is the product; anything else (2..5) is a broken run.
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
  exit "$rc"
fi
exit 0
