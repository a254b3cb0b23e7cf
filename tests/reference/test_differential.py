"""Differential test: one scripted scenario against Java ZooKeeper and against pyzk through the raw
client; the normalised transcripts (op, err, response fields, watch events) must be equal."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.reference.differential import scenario, scenario_edges
from tests.reference.differential.transcript import diff
from tests.servers import ServerProc, java_available

pytestmark = pytest.mark.java

JAVA_HOST = "127.0.0.41"
PYZK_HOST = "127.0.0.42"


def _transcript(kind: str, host: str, workdir: Path) -> list[dict[str, object]]:
    srv = ServerProc(kind, workdir / kind, host=host)
    srv.start()
    try:
        return scenario.run(srv.host, srv.port).normalised()
    finally:
        srv.stop()


@pytest.fixture
def java_transcript(tmp_path: Path) -> list[dict[str, object]]:
    if not java_available():
        pytest.skip("Debian's Java ZooKeeper is not installed")
    return _transcript("java", JAVA_HOST, tmp_path)


def test_scenario_is_deterministic_on_java(java_transcript, tmp_path: Path) -> None:
    """Two Java runs give the same transcript: the normalisation hides only what may vary."""
    again = _transcript("java", JAVA_HOST, tmp_path / "second")
    assert java_transcript == again, diff(java_transcript, again)


def test_pyzk_transcript_equals_java(java_transcript, tmp_path: Path) -> None:
    kinds = os.environ.get("PYZK_TEST_SERVERS", "pyzk,java").replace(" ", "").split(",")
    if "pyzk" not in kinds:
        pytest.skip("pyzk not selected by PYZK_TEST_SERVERS")
    if importlib.util.find_spec("pyzk.__main__") is None:
        pytest.skip("pyzk launcher (pyzk/__main__.py) not present yet")
    got = _transcript("pyzk", PYZK_HOST, tmp_path)
    assert java_transcript == got, diff(java_transcript, got)


def _edges(kind: str, host: str, workdir: Path) -> list[dict[str, object]]:
    srv = ServerProc(kind, workdir / f"{kind}-edges", host=host)
    srv.start()
    try:
        return scenario_edges.run(srv.host, srv.port).normalised()
    finally:
        srv.stop()


def test_protocol_corners_match_java(tmp_path: Path) -> None:
    """setWatches relative to an old zxid, reconfig/config node, SASL, readOnly and old-client
    connects, malformed bodies, re-attach, bad password, closeSession: pyzk answers as Java."""
    if not java_available():
        pytest.skip("Debian's Java ZooKeeper is not installed")
    kinds = os.environ.get("PYZK_TEST_SERVERS", "pyzk,java").replace(" ", "").split(",")
    if "pyzk" not in kinds:
        pytest.skip("pyzk not selected by PYZK_TEST_SERVERS")
    java = _edges("java", JAVA_HOST, tmp_path)
    got = _edges("pyzk", PYZK_HOST, tmp_path)
    assert java == got, diff(java, got)
