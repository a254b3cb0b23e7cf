"""pyzk.audit: the line format and the cases the Java differential test does not reach
(tests/reference/test_audit_java.py compares whole sessions of writes with Java 3.8.0)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyzk import audit
from pyzk.config import ConfigError, load_config
from pyzk.config.jvmflags import jvm_entries
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import OP_CREATE, OP_CREATE_TTL, OP_ERROR, OP_MULTI, OP_SET_DATA
from pyzk.tree.txnapply import TxnResult

IP = r.Id("ip", "127.0.0.1")
BOB = r.Id("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=")


def _sub(op: int, path: str | None) -> TxnResult:
    t = TxnResult(op, 5)
    t.path = path
    return t


def test_line_leaves_out_absent_fields_and_ends_with_the_result() -> None:
    e = audit.AuditEvent(audit.SUCCESS, "serverStart", user="zk")
    assert e.line() == "user=zk\toperation=serverStart\tresult=success"
    e = audit.AuditEvent(audit.FAILURE, "delete", "0x1", None, "", "/a")
    assert e.line() == "session=0x1\tip=\toperation=delete\tznode=/a\tresult=failure"


def test_users_in_java_set_order_blank_ones_dropped() -> None:
    # Java iterates its authInfo hash set: bob's digest id comes before the ip id
    assert audit.users_for_audit([IP, BOB]) == "bob,127.0.0.1"
    assert audit.users_for_audit([r.Id("super", "")]) is None


def test_multi_create_modes_are_looked_up_by_the_requested_path() -> None:
    ops = [(OP_CREATE, r.CreateRequest("/s-", b"", [], 2)),
           (OP_CREATE, r.CreateRequest("/p", b"", [], 0)),
           (OP_CREATE_TTL, r.CreateTTLRequest("/t", b"", [], 5, 100)),
           (OP_SET_DATA, r.SetDataRequest("/p", b"", -1))]
    res = TxnResult(OP_MULTI, 5)
    res.multi = [_sub(OP_CREATE, "/s-0000000001"), _sub(OP_CREATE, "/p"),
                 _sub(OP_CREATE_TTL, "/t"), _sub(OP_SET_DATA, "/p")]
    lines = [e.line() for e in audit.request_events(OP_MULTI, ops, OP_MULTI, res, 1, [IP], "h")]
    head = "session=0x1\tuser=127.0.0.1\tip=h\t"
    assert lines == [
        head + "operation=create\tznode=/s-0000000001\tresult=success",
        head + "operation=create\tznode=/p\tznode_type=persistent\tresult=success",
        head + "operation=create\tznode=/t\tresult=success",
        head + "operation=setData\tznode=/p\tresult=success",
    ]


def test_top_level_create_ttl_and_bad_create_flags_are_not_audited() -> None:
    res = _sub(OP_CREATE_TTL, "/t")
    rec = r.CreateTTLRequest("/t", b"", [], 5, 100)
    assert audit.request_events(OP_CREATE_TTL, rec, OP_CREATE_TTL, res, 1, [IP], "h") == []
    bad = r.CreateRequest("/x", b"", [], 99)  # CreateMode.fromFlag throws: Java logs nothing
    assert audit.request_events(OP_CREATE, bad, OP_ERROR, _sub(OP_ERROR, None), 1, [IP],
                                "h") == []


def test_audit_log_file_uses_the_logback_pattern(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path, user="zk")
    log.server_start()
    log.ephemeral_deleted(0x1234, "/e", False)
    log.server_stop()
    log.close()
    lines = (tmp_path / "zookeeper_audit.log").read_text().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert [re.sub(stamp, "T", x) for x in lines] == [
        "T INFO o.a.z.a.Slf4jAuditLogger: user=zk\toperation=serverStart\tresult=success",
        "T ERROR o.a.z.a.Slf4jAuditLogger: session=0x1234\tuser=zk\toperation="
        "ephemeralZNodeDeletionOnSessionCloseOrExpire\tznode=/e\tresult=failure",
        "T INFO o.a.z.a.Slf4jAuditLogger: user=zk\toperation=serverStop\tresult=invoked",
    ]


def test_audit_enable_from_zoo_cfg_and_jvm_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(f"dataDir={tmp_path}\nclientPort=2181\naudit.enable=TRUE\n")
    assert load_config(cfg).audit_enable is True
    assert "audit.enable" in jvm_entries({"JVMFLAGS": "-Dzookeeper.audit.enable=true"})
    cfg.write_text(f"dataDir={tmp_path}\nclientPort=2181\naudit.enable=yes\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert (info.value.source, info.value.line, info.value.key) == (str(cfg), 3, "audit.enable")
