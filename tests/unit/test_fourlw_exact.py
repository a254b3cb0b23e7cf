"""With Java's values, pyzk's 4LW text is byte-identical to the captured Java output."""

from __future__ import annotations

from pathlib import Path

from pyzk.fourlw.commands import Whitelist, four_letter_reply
from pyzk.fourlw.info import ConfInfo, ConnectionInfo, ServerSnapshot, ServerStatsInfo

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "fourlw" / "serving" / "4lw"
JAVA_VERSION = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC"
SID = 0x1000008B14F0001


def java_values() -> ServerSnapshot:
    return ServerSnapshot(
        version=JAVA_VERSION, node_count=8,
        stats=ServerStatsInfo(packets_received=14, packets_sent=12, avg_latency=2.1667,
                              min_latency=0, max_latency=10, num_alive_client_connections=2,
                              last_processed_zxid=6, data_dir_size=67109337,
                              log_dir_size=67109337),
        connections=[ConnectionInfo("127.0.0.1", 59892, 0, 0, 1, 0),
                     ConnectionInfo("127.0.0.1", 59850, 1, 0, 10, 10, SID, "GETD",
                                    1795536348084, 10000, 9, 6, 570056, 0, 0, 1, 10)],
        conf=ConfInfo(client_port=52163, data_dir="/tmp/fourlw-capture/serving/data/version-2",
                      data_log_dir="/tmp/fourlw-capture/serving/data/version-2",
                      max_client_cnxns=0),
        data_watches={SID: ["/golden/child", "/golden"]},
    )


def test_srvr_conf_cons_dirs_wchc_wchp_wchs_are_byte_identical_to_java() -> None:
    view = java_values()
    for word in ("srvr", "conf", "cons", "dirs", "wchc", "wchp", "wchs", "isro", "gtmk", "ruok"):
        assert four_letter_reply(word, view, Whitelist("*")) == \
            (GOLDEN / f"{word}.txt").read_text(), word


def test_stat_lists_clients_then_stats_like_java() -> None:
    view = java_values()
    view.stats.packets_received, view.stats.packets_sent = 15, 13
    view.connections[0].port = 59880  # the stat command's own connection
    got = four_letter_reply("stat", view, Whitelist("*"))
    assert got == (GOLDEN / "stat.txt").read_text()


def test_whitelist_rules_follow_four_letter_commands() -> None:
    assert "srvr" in Whitelist(None) and "ruok" not in Whitelist(None)
    assert "isro" in Whitelist("", read_only_mode=True)
    assert {"ruok", "mntr", "telnet close"} <= Whitelist(" ruok , *").enabled
    assert "stat" in Whitelist("stat, ruok") and "cons" not in Whitelist("stat, ruok")


def test_enabled_telnet_close_is_not_a_command_and_disabled_one_is_refused() -> None:
    view = java_values()
    assert four_letter_reply("telnet close", view, Whitelist("*")) is None
    assert four_letter_reply("telnet close", view, Whitelist(None)) == \
        "telnet close is not executed because it is not in the whitelist.\n"


def test_stmk_sets_the_trace_mask_from_its_8_byte_payload() -> None:
    view = java_values()
    assert four_letter_reply("stmk", view, Whitelist("*"), (0x1F).to_bytes(8, "big")) == "31"
    assert view.trace_mask == 31
    assert four_letter_reply("gtmk", view, Whitelist("*")) == "31"


def test_srst_and_crst_reset_what_java_resets() -> None:
    view = java_values()
    assert four_letter_reply("srst", view, Whitelist("*")) == "Server stats reset.\n"
    assert (view.stats.packets_received, view.stats.max_latency) == (0, 0)
    assert four_letter_reply("crst", view, Whitelist("*")) == "Connection stats reset.\n"
    c = view.connections[1]
    assert (c.packets_received, c.last_operation, c.last_cxid) == (0, "NA", -1)
