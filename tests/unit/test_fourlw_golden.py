"""Every 4LW and AdminServer command rendered from a fake ServerView has the layout of the Java
3.8 output captured in tests/golden/fourlw (keys, key order, line structure; values differ)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyzk.fourlw.commands import (
    BY_ADMIN_NAME,
    Whitelist,
    admin_json,
    admin_response,
    command_links,
    four_letter_reply,
)
from pyzk.fourlw.info import (
    ConfInfo,
    ConnectionInfo,
    ServerSnapshot,
    ServerStatsInfo,
    default_env,
)
from pyzk.fourlw.layout import json_layout, text_layout
from pyzk.metrics import GAUGE_ORDER, ServerMetrics

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "fourlw"
SID = 0x1000008B14F0001
ALL = Whitelist("*")


def fake_view(with_4lw_connection: bool = True) -> ServerSnapshot:
    """The state the golden capture created: one kazoo session with an ephemeral, two data
    watches and a child watch, plus (for 4LW) the command's own session-less connection."""
    sess = ConnectionInfo("127.0.0.1", 40000, 1, 0, 10, 10, SID, "GETD", 1795536348084, 10000,
                          9, 6, 570056, 0, 0, 1, 10)
    own = ConnectionInfo("127.0.0.1", 40001, 0, 0, 1, 0)
    conns = [own, sess] if with_4lw_connection else [sess]
    metrics = ServerMetrics()
    metrics.summary("fsynctime").add(2)
    metrics.summary("readlatency").add(3)
    metrics.summary_set("read_per_namespace").add("golden", 75)
    metrics.summary_set("write_per_namespace").add("golden", 7)
    gauges: dict[str, int | float | str | None] = {g: 0 for g in GAUGE_ORDER[:24]}
    gauges.update(avg_latency=2.1667, connection_drop_probability=0.0)
    return ServerSnapshot(
        version="3.8.0-pyzk, built on 2025-01-01 00:00 UTC",
        stats=ServerStatsInfo(packets_sent=17, packets_received=19, avg_latency=2.1667,
                              max_latency=10, last_processed_zxid=6,
                              num_alive_client_connections=2, client_response_last=88,
                              client_response_min=16, client_response_max=88,
                              data_dir_size=1234, log_dir_size=1234, uptime=926),
        node_count=8, connections=conns,
        conf=ConfInfo(client_port=2181, data_dir="/var/lib/pyzk/version-2",
                      data_log_dir="/var/lib/pyzk/version-2", max_client_cnxns=0),
        session_expiry=[(582000, [SID]), (602000, [])],
        connection_expiry=[(580000, []), (590000, conns)],
        wall_minus_elapsed_ms=1795535778028,
        ephemerals={SID: ["/golden/eph"]},
        data_watches={SID: ["/golden/child", "/golden"]},
        monitor_gauges=gauges, metrics=metrics, env=default_env("3.8.0-pyzk"),
        initial_config="tickTime=2000\n", last_snapshot=(0, 1795536347),
        system_properties={"java.version": "17"},
    )


WORDS = sorted(p.stem for p in (GOLDEN / "serving" / "4lw").glob("*.txt"))


@pytest.mark.parametrize("word", WORDS)
def test_four_letter_word_text_has_java_line_layout(word: str) -> None:
    got = four_letter_reply(word, fake_view(), ALL, (306).to_bytes(8, "big"))
    assert got is not None
    want = (GOLDEN / "serving" / "4lw" / f"{word}.txt").read_text()
    assert text_layout(word, got) == text_layout(word, want)


ADMIN = sorted(p.stem for p in (GOLDEN / "serving" / "admin").glob("*.json"))


@pytest.mark.parametrize("name", ADMIN)
def test_admin_command_json_has_java_keys_order_and_kinds(name: str) -> None:
    kwargs = {"traceMask": "306"} if name == "set_trace_mask" else {}
    got = admin_response(name, fake_view(with_4lw_connection=False), kwargs)
    want = json.loads((GOLDEN / "serving" / "admin" / f"{name}.json").read_text())
    assert json_layout(name, got) == json_layout(name, want)


@pytest.mark.parametrize("name", ["ruok", "get_trace_mask", "set_trace_mask", "leader",
                                  "no_such_command", "connection_stat_reset", "zabstate",
                                  "voting_view", "observers", "is_read_only", "hash"])
def test_admin_json_text_is_byte_identical_to_jackson_for_state_free_commands(name: str) -> None:
    kwargs = {"traceMask": "306"} if name == "set_trace_mask" else {}
    got = admin_json(admin_response(name, fake_view(), kwargs))
    assert got == (GOLDEN / "serving" / "admin" / f"{name}.json").read_text()


def test_admin_nested_json_matches_jackson_indentation() -> None:
    got = admin_json(admin_response("watches_by_path", fake_view()))
    want = (GOLDEN / "serving" / "admin" / "watches_by_path.json").read_text()
    assert got == want.replace("72057631372410881", str(SID))


def test_command_index_lists_primary_names_sorted_like_jetty_admin_server() -> None:
    assert command_links() == (GOLDEN / "serving" / "admin" / "_index.html").read_text()


def test_every_admin_name_and_alias_resolves_to_one_command() -> None:
    for alias, primary in [("conf", "configuration"), ("config", "configuration"),
                           ("cons", "connections"), ("envi", "environment"),
                           ("env", "environment"), ("mntr", "monitor"), ("srvr", "server_stats"),
                           ("stat", "stats"), ("wchc", "watches"), ("wchp", "watches_by_path"),
                           ("wchs", "watch_summary"), ("isro", "is_read_only"),
                           ("gtmk", "get_trace_mask"), ("stmk", "set_trace_mask"),
                           ("crst", "connection_stat_reset"), ("srst", "stat_reset"),
                           ("icfg", "initial_configuration"), ("lsnp", "last_snapshot"),
                           ("lead", "leader"), ("orst", "observer_connection_stat_reset"),
                           ("obsr", "observers"), ("sysp", "system_properties")]:
        assert BY_ADMIN_NAME[alias].names[0] == primary
    # An alias is echoed back as the primary name (CommandBase.initializeResponse).
    assert admin_response("mntr", fake_view())["command"] == "monitor"


@pytest.mark.parametrize("word", WORDS)
def test_not_serving_text_is_exactly_javas(word: str) -> None:
    view = fake_view()
    view.is_serving = False
    got = four_letter_reply(word, view, ALL, (306).to_bytes(8, "big"))
    want = (GOLDEN / "notserving" / "4lw" / f"{word}.txt").read_text()
    if word == "envi":
        assert text_layout(word, got or "") == text_layout(word, want)
    else:
        assert got == want


@pytest.mark.parametrize("name", ["stats", "ruok", "is_read_only", "get_trace_mask"])
def test_not_serving_admin_json_is_exactly_javas(name: str) -> None:
    view = fake_view()
    view.is_serving = False
    got = admin_json(admin_response(name, view))
    assert got == (GOLDEN / "notserving" / "admin" / f"{name}.json").read_text()


@pytest.mark.parametrize("word", ["ruok", "mntr", "stat", "isro"])
def test_known_word_outside_whitelist_gets_javas_refusal(word: str) -> None:
    got = four_letter_reply(word, fake_view(), Whitelist(None))
    assert got == (GOLDEN / "whitelist" / f"{word}.txt").read_text()
