"""kazoo's own test suite (shipped inside the kazoo package) passes against pyzk wherever it
passes against Java ZooKeeper 3.8, bar the reasoned entries in kazoo_known_differences.txt.

Both runs go through scripts/kazoo_suite.sh; pyzk is swapped in under kazoo's harness by the
`java` shim in scripts/kazoo-shim. The whole suite takes about 3 minutes against Java; it runs
as two shards of kazoo's test modules per kind, and all four runs go side by side, in
separate port ranges.

The whole suite runs against a standalone server (ZOOKEEPER_CLUSTER_SIZE=1). Against a 3-member
ensemble the whole suite takes over 7 minutes per kind, so the 3-node comparison runs the tests
that need more than one server (MULTI_SERVER_TESTS) plus a sample of session, watch and lock
tests (ENSEMBLE_SAMPLE), against Java and then pyzk (about 2 minutes each).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "tests" / ".work"
KNOWN = Path(__file__).with_name("kazoo_known_differences.txt")
SUITE_TIMEOUT = 1200
SMOKE_TEST = "test_client.TestClient::test_create"
# kazoo's TestReconfig class, whole: dynamic reconfiguration on a 3-member ensemble. pyzk must
# pass it there whatever kazoo_known_differences.txt says.
TEST_RECONFIG = (
    "test_client.TestReconfig::test_add_remove_observer",
    "test_client.TestReconfig::test_bad_input",
    "test_client.TestReconfig::test_no_super_auth",
)
# They fail against any single server: a 2nd server to move to, reconfig, read-only mode.
MULTI_SERVER_TESTS = (
    "test_client.TestClient::test_update_host_list",
    *TEST_RECONFIG,
    "test_connection.TestReadOnlyMode::test_read_only",
)
# Sessions, ephemerals, expiry, auth on reconnect, watches and locks through an ensemble.
ENSEMBLE_SAMPLE = (
    "test_client.TestClient::test_create",
    "test_client.TestClient::test_create_ephemeral",
    "test_client.TestClient::test_request_queuing_session_recovered",
    "test_client.TestConnection::test_session_expire",
    "test_client.TestConnection::test_watch_trigger_expire",
    "test_client.TestAuthentication::test_add_auth_on_reconnect",
    "test_lock.KazooLockTests::test_lock",
    "test_watchers.KazooDataWatcherTests::test_func_style_data_watch",
    "test_watchers.KazooChildrenWatcherTests::test_child_watcher",
)

pytestmark = [pytest.mark.java, pytest.mark.timeout(3 * SUITE_TIMEOUT)]


# Port ranges for kazoo's servers (scripts/kazoo_suite.sh KAZOO_PORT_RANGE): the Java and the
# pyzk runs go side by side, each in its own range. Most of a run is waiting (session
# expiries, reconnects, kazoo's own sleeps), so two at once take little longer than one.
PORT_RANGES = {"java": "21000-24990", "pyzk": "25000-28990"}
# The whole suite runs as SHARDS runs per kind, all side by side, each shard in its own part of
# its kind's range: about half the wall time of one run (CI: 169 s for one run of each kind).
SHARDS = 2
SHARD_RANGES = {"java": ("21000-22990", "23000-24990"), "pyzk": ("25000-26990", "27000-28990")}
# Seconds each kazoo 2.11 test module took against Java 3.8.0 (tests/.work/kazoo-java.junit.xml),
# to balance the shards; a module not listed counts 1 s.
MODULE_SECONDS = {"test_client": 42, "test_watchers": 25, "test_partitioner": 23, "test_lock": 16,
                  "test_connection": 11, "test_selectors_select": 11, "test_cache": 6,
                  "test_lease": 6, "test_barrier": 6, "test_queue": 6, "test_party": 5}


def suite_shards(n: int = SHARDS) -> list[list[str]]:
    """kazoo's test modules in `n` groups of about equal run time (heaviest first, each to the
    lightest group so far)."""
    assert all(len(ranges) == n for ranges in SHARD_RANGES.values())
    import kazoo.tests
    found = sorted(p.stem for p in Path(kazoo.tests.__file__).parent.glob("test_*.py"))
    groups: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for module in sorted(found, key=lambda m: (-MODULE_SECONDS.get(m, 1), m)):
        i = load.index(min(load))
        groups[i].append(module)
        load[i] += MODULE_SECONDS.get(module, 1)
    return groups


def start_suite(kind: str, *args: str, name: str | None = None, cluster_size: int = 1,
                port_range: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start (part of) kazoo's suite against `kind`; finish_suite() collects it."""
    name = name or f"kazoo-{kind}"
    # Own process group, so a timeout also ends kazoo's pytest and the servers it started.
    proc = subprocess.Popen(["bash", str(REPO / "scripts" / "kazoo_suite.sh"), kind, *args],
                            env={**os.environ, "KAZOO_RESULTS_NAME": name,
                                 "KAZOO_CLUSTER_SIZE": str(cluster_size),
                                 "KAZOO_PORT_RANGE": port_range or PORT_RANGES[kind]},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    return proc, name


def finish_suite(run: tuple[subprocess.Popen[str], str], kind: str) -> dict[str, str]:
    """{test id: passed|failed|skipped} of a started run."""
    proc, name = run
    try:
        out, _ = proc.communicate(timeout=SUITE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"kazoo suite against {kind} exceeded {SUITE_TIMEOUT} s:\n{out[-6000:]}")
    (WORK / f"{name}.log").write_text(out)
    assert proc.returncode == 0, f"kazoo suite run broke:\n{out[-8000:]}"
    results: dict[str, str] = {}
    for line in (WORK / f"{name}.txt").read_text().splitlines():
        test_id, outcome = line.rsplit(" ", 1)
        results[test_id] = outcome
    return results


def run_suite(kind: str, *args: str, name: str | None = None,
              cluster_size: int = 1) -> dict[str, str]:
    """Run (part of) kazoo's suite against `kind`; return {test id: passed|failed|skipped}."""
    return finish_suite(start_suite(kind, *args, name=name, cluster_size=cluster_size), kind)


def known_differences(cluster_size: int = 1) -> dict[str, str]:
    """Entries for this cluster size: `test_id # reason` applies to every size,
    `@3 test_id # reason` only to runs against a 3-member ensemble."""
    allowed: dict[str, str] = {}
    for raw in KNOWN.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            size, _, line = line[1:].partition(" ")
            if int(size) != cluster_size:
                continue
        test_id, _, reason = line.partition(" # ")
        assert reason.strip(), f"{KNOWN.name}: no reason given for {test_id!r}"
        allowed[test_id.strip()] = reason.strip()
    return allowed


@pytest.fixture(scope="module")
def whole_suite(kind_skip_reason: Callable[[str], str | None],
                server_kinds: list[str]) -> dict[str, dict[str, str]]:
    """The whole suite against Java and (when selected) pyzk, the two runs side by side."""
    reason = kind_skip_reason("java")
    if reason:
        pytest.skip(reason)
    with_pyzk = "pyzk" in server_kinds and kind_skip_reason("pyzk") is None
    if with_pyzk:
        # One smoke test first: a pyzk that cannot serve kazoo's harness at all (say it refuses
        # the zoo.cfg kazoo writes) would otherwise cost ~60 s per test before failing.
        smoke = run_suite("pyzk", SMOKE_TEST, "--timeout=60", name="kazoo-pyzk-smoke")
        assert smoke.get(SMOKE_TEST) == "passed", (
            f"kazoo's harness cannot use pyzk ({SMOKE_TEST} {smoke.get(SMOKE_TEST)}):\n"
            + "\n".join(ln for ln in (WORK / "kazoo-pyzk-smoke.log").read_text().splitlines()
                         if "pyzk" in ln or "Error" in ln)[-4000:])
    kinds = ["java", "pyzk"] if with_pyzk else ["java"]
    runs = {kind: [start_suite(kind, *modules, *(["--maxfail=10"] if kind == "pyzk" else []),
                               name=f"kazoo-{kind}-{i}", port_range=SHARD_RANGES[kind][i])
                   for i, modules in enumerate(suite_shards())]
            for kind in kinds}
    out: dict[str, dict[str, str]] = {}
    for kind in kinds:
        out[kind] = {}
        for run in runs[kind]:
            out[kind].update(finish_suite(run, kind))
    return out


def test_kazoo_suite_runs_against_java_zookeeper(whole_suite: dict[str, dict[str, str]]) -> None:
    passed = [t for t, o in whole_suite["java"].items() if o == "passed"]
    # ~300 of kazoo 2.11's tests run against a standalone server; far fewer means a broken setup.
    assert len(passed) >= 250, f"only {len(passed)} kazoo tests passed against Java"


def test_kazoo_tests_that_pass_on_java_pass_on_pyzk(
        whole_suite: dict[str, dict[str, str]], server_kinds: list[str],
        kind_skip_reason: Callable[[str], str | None]) -> None:
    if "pyzk" not in server_kinds:
        pytest.skip("pyzk not in PYZK_TEST_SERVERS")
    reason = kind_skip_reason("pyzk")
    if reason:
        pytest.skip(reason)
    allowed = known_differences()
    java_results, pyzk = whole_suite["java"], whole_suite["pyzk"]
    must_pass = {t for t, o in java_results.items() if o == "passed"} - set(allowed)
    missing = sorted(t for t in must_pass if pyzk.get(t) != "passed")
    if missing:
        # One retry of just those tests, so a timing blip does not read as an incompatibility.
        retry = run_suite("pyzk", *missing, name="kazoo-pyzk-retry")
        missing = [t for t in missing if retry.get(t) != "passed"]
    assert not missing, (
        f"{len(missing)} kazoo tests pass against Java but not pyzk "
        f"(see tests/.work/kazoo-pyzk*.txt, .log and .junit.xml):\n" + "\n".join(missing))


def test_kazoo_multi_server_tests_on_a_3_node_ensemble_pass_on_pyzk_as_on_java(
        server_kinds: list[str], kind_skip_reason: Callable[[str], str | None]) -> None:
    for kind in ("java", "pyzk"):
        reason = kind_skip_reason(kind)
        if reason:
            pytest.skip(reason)
    if "pyzk" not in server_kinds:
        pytest.skip("pyzk not in PYZK_TEST_SERVERS")
    tests = (*MULTI_SERVER_TESTS, *ENSEMBLE_SAMPLE)
    java_run = start_suite("java", *tests, name="kazoo-java-3node", cluster_size=3)
    pyzk_run = start_suite("pyzk", *tests, name="kazoo-pyzk-3node", cluster_size=3)
    java = finish_suite(java_run, "java")
    pyzk = finish_suite(pyzk_run, "pyzk")
    # A 3-member Java ensemble passes what a standalone one cannot: the harness really ran 3.
    assert all(java.get(t) == "passed" for t in MULTI_SERVER_TESTS), java
    allowed = {t: r for t, r in known_differences(cluster_size=3).items()
               if t not in TEST_RECONFIG}
    must_pass = {t for t, o in java.items() if o == "passed"} - set(allowed)
    missing = sorted(t for t in must_pass if pyzk.get(t) != "passed")
    if missing:
        retry = run_suite("pyzk", *missing, name="kazoo-pyzk-3node-retry", cluster_size=3)
        missing = [t for t in missing if retry.get(t) != "passed"]
    assert not missing, (
        f"{len(missing)} kazoo tests pass against a 3-node Java ensemble but not against pyzk "
        f"(see tests/.work/kazoo-pyzk-3node*.txt, .log and .junit.xml):\n" + "\n".join(missing))


# kazoo's SASL tests (DIGEST-MD5 through the harness's JAAS file, sasl_options and the legacy
# ("sasl", "user:password") auth_data). Before pyzk served SASL, the legacy one retried its
# exchange in a tight loop and never ended; each test is bounded by the suite's per-test timeout.
SASL_TESTS = (
    "test_sasl.TestLegacySASLDigestAuthentication::test_connect_sasl_auth",
    "test_sasl.TestLegacySASLDigestAuthentication::test_invalid_sasl_auth",
    "test_sasl.TestSASLDigestAuthentication::test_connect_sasl_auth",
    "test_sasl.TestSASLDigestAuthentication::test_invalid_sasl_auth",
)


def test_kazoo_sasl_tests_pass_on_pyzk_as_on_java(
        server_kinds: list[str], kind_skip_reason: Callable[[str], str | None]) -> None:
    for kind in ("java", "pyzk"):
        reason = kind_skip_reason(kind)
        if reason:
            pytest.skip(reason)
    if "pyzk" not in server_kinds:
        pytest.skip("pyzk not in PYZK_TEST_SERVERS")
    java_run = start_suite("java", *SASL_TESTS, "--timeout=120", name="kazoo-java-sasl")
    pyzk_run = start_suite("pyzk", *SASL_TESTS, "--timeout=120", name="kazoo-pyzk-sasl")
    java = finish_suite(java_run, "java")
    pyzk = finish_suite(pyzk_run, "pyzk")
    assert all(java.get(t) == "passed" for t in SASL_TESTS), java
    assert pyzk == java
