"""Shared test plumbing: which server kinds to run against, and a scratch work directory.

PYZK_TEST_SERVERS (default "pyzk,java") picks the server kinds. Any test or fixture that takes a
`server_kind` argument is parametrized over them (java params marked `java`; a kind that cannot
run here is skipped with the reason). Nothing needs importing: this works through
pytest_generate_tests and the `server_kinds` / `kind_skip_reason` fixtures; shared helpers live
in importable modules (tests/servers.py, tests/integration/rawclient.py, ...), not in conftests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import java_available

TESTS = Path(__file__).resolve().parent

KINDS = ("pyzk", "java")
WORK = TESTS / ".work"


def test_server_kinds() -> list[str]:
    """Kinds named in PYZK_TEST_SERVERS, in order, validated."""
    raw = os.environ.get("PYZK_TEST_SERVERS", "pyzk,java")
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise pytest.UsageError(f"PYZK_TEST_SERVERS has unknown kinds {bad}; known: {KINDS}")
    return kinds


test_server_kinds.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def pyzk_server_available() -> bool:
    """True once the lead's server runtime exists; from then on pyzk params must run, not skip."""
    try:
        return importlib.util.find_spec("pyzk.server.runtime") is not None
    except ModuleNotFoundError:
        return False


def kind_unavailable_reason(kind: str) -> str | None:
    if kind == "pyzk" and not pyzk_server_available():
        return "pyzk server not written yet (pyzk.server.runtime is not importable)"
    if kind == "java" and not java_available():
        return "Debian's Java ZooKeeper is not installed (scripts/test.sh installs it)"
    return None


def server_kind_params() -> list[object]:
    """pytest params for the selected kinds: java ones marked `java`, unavailable ones skipped."""
    params: list[object] = []
    for kind in test_server_kinds():
        marks: list[pytest.MarkDecorator] = []
        if kind == "java":
            marks.append(pytest.mark.java)
        reason = kind_unavailable_reason(kind)
        if reason is not None:
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param(kind, id=kind, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_kind" in metafunc.fixturenames:
        metafunc.parametrize("server_kind", server_kind_params())


@pytest.fixture(scope="session")
def server_kinds() -> list[str]:
    """The kinds PYZK_TEST_SERVERS selects (for tests that handle kinds themselves)."""
    return test_server_kinds()


@pytest.fixture(scope="session")
def kind_skip_reason() -> Callable[[str], str | None]:
    """Why a kind cannot run here (None if it can): `reason = kind_skip_reason("pyzk")`."""
    return kind_unavailable_reason


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A scratch directory for server data, configs and logs; removed after the test."""
    path = tmp_path / "work"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


# The fast tier (`bash scripts/test.sh -m "not slow"`) leaves these out: whole directories
# whose tests run Java servers, ensembles of processes, kill -9 rounds or docker, and every test
# against Debian's Java ZooKeeper (a JVM start each). Single slow tests elsewhere carry
# @pytest.mark.slow themselves.
SLOW_DIRS = ("reference", "ensemble", "mixed", "durability", "deploy")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow_roots = [TESTS / d for d in SLOW_DIRS]
    for item in items:
        path = Path(str(item.path))
        if item.get_closest_marker("java") is not None or any(
                path.is_relative_to(root) for root in slow_roots):
            item.add_marker(pytest.mark.slow)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    # The compiled build test_compiled needs, at nice 19 beside the other tests (tests/compiled_build.py).
    if any(Path(str(item.path)).name == "test_compiled.py" for item in session.items):
        from tests import compiled_build
        compiled_build.start_in_background()
    _background_lane(session)


def _background_lane(session: pytest.Session) -> None:
    """CPU-only tests in a second pytest beside this one (tests/background_lane.py), when the
    selection has them, others and the lane's check (a whole run has all three); else they run
    here and the check is left out."""
    from tests import background_lane as lane
    items = session.items
    check = [i for i in items if i.nodeid.startswith(lane.CHECK)]
    ours = [i for i in items if lane.in_lane(Path(str(i.path)))]
    rest = [i for i in items if not lane.in_lane(Path(str(i.path))) and i not in check]
    use = (bool(ours) and bool(rest) and bool(check)
           and not os.environ.get("PYZK_NO_BACKGROUND_LANE")
           and lane.start([i.nodeid for i in ours]))
    gone = ours if use else check
    if gone:
        session.config.hook.pytest_deselected(items=gone)
    items[:] = [*rest, *check] if use else [i for i in items if i not in check]


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import background_lane, compiled_build
    compiled_build.stop()
    background_lane.stop()
