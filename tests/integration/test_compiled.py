"""The compiled build (pyzk.tools.compiled, `PYZK_COMPILED=1 bash scripts/run.sh`): mypyc
compiles the request path into build/compiled. The session starts the build, and the unit tests
on it, at nice 19 as soon as it knows these tests will run (tests/compiled_build.py; a minute or
two of every core, once per source change); they wait for it and hold it to what the interpreted
server is held to:

- every module in MODULES is a C extension in the build, the rest stay .py, and the server says
  it runs compiled;
- the core unit tests pass with the compiled modules imported in their place;
- hostile input: a seeded differential fuzz run against Java ZooKeeper finds no pyzk crash,
  hang or traceback and no difference class that tests/fuzz/known_differences.py does not list
  (on 127.0.72.1/.2, beside CI's own fuzz run);
- kazoo's common operations, watches included, behave on it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyzk.tools import compiled
from tests import compiled_build
from tests.fuzz import difffuzz
from tests.servers import ServerProc

REPO = Path(__file__).resolve().parents[2]
TREE = REPO / "build" / "compiled"
SUFFIX = compiled_build.SUFFIX

# slow: the build is minutes of gcc; the fast tier (-m "not slow") leaves it out.
pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]
# How long the build started with the session (tests/compiled_build.py) may still take once
# these tests need it; past that it is killed and the build runs in the foreground.
BACKGROUND_BUILD_S = 420

@pytest.fixture(scope="module")
def tree() -> Path:
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.skip("mypy (with mypyc) is not installed: pip install 'mypy>=1.10'")
    compiled_build.wait(BACKGROUND_BUILD_S)  # started with the session, at nice 19
    return compiled.build(REPO / "pyzk", TREE, log=lambda s: print(s, file=sys.stderr))


def _so(tree: Path, module: str) -> Path:
    return tree / (module[:-3] + SUFFIX)


def test_the_build_holds_every_listed_module_compiled_and_is_current(tree: Path) -> None:
    assert compiled.is_current(tree, REPO / "pyzk")
    for module in compiled.MODULES:
        assert _so(tree, module).is_file(), module
    for module in compiled.LEFT_INTERPRETED:
        assert not _so(tree, module).exists(), module
        assert (tree / module).is_file(), module



# Unit tests that subclass a compiled class to stand in for a host, and skip on the build.
SKIP_WHEN_COMPILED = ("tests/unit/test_learner_touch.py",)


def test_no_interpreted_class_subclasses_a_compiled_one() -> None:
    """A class outside MODULES with a compiled base fails at run time in the compiled build
    (TLS connections once did: TlsClientConn(ClientConn)); such a module is compiled too.
    A unit test module may hold one only if it skips itself when its base is compiled."""
    found = compiled.interpreted_subclasses(REPO)
    for module in SKIP_WHEN_COMPILED:
        assert "allow_module_level=True" in (REPO / module).read_text(), module
    assert [f for f in found if f.split(":")[0] not in SKIP_WHEN_COMPILED] == []


def test_an_edited_source_makes_the_build_stale(tmp_path: Path) -> None:
    """The stamp covers every source: an edit is rebuilt, never run from a stale extension."""
    package = tmp_path / "pyzk"
    (package / "tree").mkdir(parents=True)
    (package / "tree" / "datatree.py").write_text("X = 1\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / compiled.STAMP).write_text(compiled.source_digest(package) + "\n")
    assert compiled.is_current(out, package)
    (package / "tree" / "datatree.py").write_text("X = 2\n")
    assert not compiled.is_current(out, package)


def test_the_unit_tests_pass_on_the_compiled_modules(tree: Path) -> None:
    cmd, env = compiled_build.unit_test_command(tree)
    probe = subprocess.run([sys.executable, "-P", "-c",
                            "import pyzk.server.zkserver as m; print(m.__file__)"],
                           env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert probe.stdout.strip().endswith(SUFFIX), probe.stdout
    ran = compiled_build.unit_result(tree)  # the background run on this build, if any
    if ran is None:
        done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                              check=False, timeout=compiled_build.UNIT_TIMEOUT_S)
        ran = done.returncode, "\n".join(done.stdout.splitlines()[-25:])
    rc, tail = ran
    assert rc == 0, tail


@pytest.fixture
def compiled_server(tree: Path, tmp_path: Path) -> Iterator[ServerProc]:
    srv = ServerProc("pyzk", tmp_path / "pyzk", host="127.0.72.3", port=2181,
                     pythonpath=str(tree)).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_the_server_runs_compiled_and_serves_kazoo(compiled_server: ServerProc) -> None:
    from kazoo.client import KazooClient
    from kazoo.exceptions import BadVersionError, NoNodeError

    assert "the request path runs compiled" in compiled_server.log_path.read_text()
    zk = KazooClient(hosts=compiled_server.address, timeout=10)
    zk.start(timeout=15)
    try:
        events: list[str] = []
        zk.create("/c", b"v0", makepath=True)
        zk.get("/c", watch=lambda e: events.append(e.type))
        zk.set("/c", b"v1")
        with pytest.raises(BadVersionError):
            zk.set("/c", b"v2", version=7)
        zk.create("/c/e", ephemeral=True, sequence=True)
        assert [n.startswith("e") for n in zk.get_children("/c")] == [True]
        tx = zk.transaction()
        tx.create("/c/t", b"x")
        tx.set_data("/c", b"v3")
        results = tx.commit()
        assert results[0] == "/c/t" and results[1].version == 2, results
        zk.sync("/c")
        assert zk.get("/c")[0] == b"v3"
        with pytest.raises(NoNodeError):
            zk.get("/nothing")
        for _ in range(100):
            if events:
                break
            zk.exists("/c")
        assert events == ["CHANGED"]
    finally:
        zk.stop()
        zk.close()


def test_hostile_input_on_the_compiled_server_matches_the_interpreted_bar(
        tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not difffuzz.java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    monkeypatch.setenv("PYZK_SERVER_PATH", str(tree))
    monkeypatch.setitem(difffuzz.HOSTS, "pyzk", "127.0.72.1")
    monkeypatch.setitem(difffuzz.HOSTS, "java", "127.0.72.2")
    fz = difffuzz.Fuzzer(["pyzk", "java"], tmp_path, deadline=2.0, restart_every=2500,
                         log=lambda s: None)
    fz.start()
    try:
        async def go() -> None:
            await fz.run_cases(difffuzz.regression_cases())
            await fz.run_cases(difffuzz.case_stream(20240612, 0, 4000), max_seconds=25)
        asyncio.run(go())
        srv = fz.sides[0].srv
        assert isinstance(srv, difffuzz.FuzzServer)
        assert "the request path runs compiled" in srv.log_path.read_text()
    finally:
        fz.stop()
    known = difffuzz.load_known()
    summary = fz.summary(known)
    st = summary["servers"]["pyzk"]
    assert st["cases"] >= 300, st
    assert (st["crashes"], st["hangs"], st["tracebacks"]) == (0, 0, 0), summary["tracebacks"]
    assert summary["regression_expectation_failures"] == []
    new = [f"{c['class']} (case {c['example_case']})" for c in summary["classes"]
           if difffuzz.match_known(c["class"], known) is None]
    assert not new, new
