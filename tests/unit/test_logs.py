"""pyzk.logs: JSON lines parse and carry bound context (server id, role, zxid, session id);
stdlib logging goes through the same pipeline; levels filter."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from pyzk import logs
from pyzk.config import ConfigError


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    logs.clear_process_fields()
    yield
    structlog.contextvars.clear_contextvars()
    logs.clear_process_fields()
    root = logging.getLogger()
    for h in [h for h in root.handlers if h.get_name() == "pyzk"]:
        root.removeHandler(h)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_bound_fields() -> None:
    out = io.StringIO()
    assert logs.configure("json", "INFO", out) == "json"
    logs.bind_server(2, "follower")
    logs.bind_zxid(0x100000003)
    logs.get_logger("pyzk.zab").info("synced", peers=3)
    (rec,) = lines(out)
    assert rec["event"] == "synced" and rec["peers"] == 3 and rec["level"] == "info"
    assert (rec["server_id"], rec["role"], rec["zxid"]) == (2, "follower", "0x100000003")
    assert rec["logger"] == "pyzk.zab" and "timestamp" in rec


def test_session_context_binds_only_inside_the_block() -> None:
    out = io.StringIO()
    logs.configure("json", "INFO", out)
    log = logs.get_logger("pyzk.session")
    with logs.session_context(0x1000ABC):
        log.info("inside")
    log.info("outside")
    inside, outside = lines(out)
    assert inside["session_id"] == "0x1000abc" and "session_id" not in outside


def test_stdlib_logging_is_routed_through_structlog() -> None:
    out = io.StringIO()
    logs.configure("json", "INFO", out)
    logs.bind_server(5)
    logging.getLogger("asyncio").warning("slow callback %s", "x")
    (rec,) = lines(out)
    assert rec["event"] == "slow callback x" and rec["level"] == "warning"
    assert rec["server_id"] == 5 and rec["logger"] == "asyncio"


def test_level_filters_both_paths() -> None:
    out = io.StringIO()
    logs.configure("json", "WARNING", out)
    logs.get_logger("pyzk").info("dropped")
    logging.getLogger("other").info("dropped too")
    logs.get_logger("pyzk").error("kept")
    assert [r["event"] for r in lines(out)] == ["kept"]


def test_auto_picks_json_when_not_a_tty() -> None:
    assert logs.configure("auto", "INFO", io.StringIO()) == "json"


def test_console_format_is_human_text() -> None:
    out = io.StringIO()
    logs.configure("console", "INFO", out)
    logs.get_logger("pyzk").info("hello", n=1)
    text = out.getvalue()
    assert "hello" in text and "n=1" in text and not text.startswith("{")


def test_configure_twice_does_not_duplicate_lines() -> None:
    out = io.StringIO()
    logs.configure("json", "INFO", io.StringIO())
    logs.configure("json", "INFO", out)
    logs.get_logger("pyzk").info("once")
    assert len(lines(out)) == 1


def test_config_error_log_line_has_location_fields() -> None:
    out = io.StringIO()
    logs.configure("json", "INFO", out)
    logs.log_config_error(ConfigError("unknown key 'x'", "zoo.cfg", 7, "x"))
    (rec,) = lines(out)
    assert rec["event"] == "config_error" and rec["error"] == "zoo.cfg:7: unknown key 'x'"
    assert (rec["source"], rec["line"], rec["key"]) == ("zoo.cfg", 7, "x")


def test_process_fields_reach_lines_from_any_thread_and_context() -> None:
    import threading

    out = io.StringIO()
    logs.configure("json", "INFO", out)
    logs.bind_process(server_id=0, role=None)
    t = threading.Thread(target=lambda: logs.get_logger("pyzk.t").info("from thread"))
    t.start()
    t.join()
    logging.getLogger("asyncio").warning("stdlib line")
    recs = lines(out)
    assert [r["server_id"] for r in recs] == [0, 0] and "role" not in recs[0]


def test_session_keyword_is_logged_as_session_id() -> None:
    out = io.StringIO()
    logs.configure("json", "INFO", out)
    logs.get_logger("pyzk.server").info("session established", session="0x1a")
    (rec,) = lines(out)
    assert rec["session_id"] == "0x1a" and "session" not in rec
