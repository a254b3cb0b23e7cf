"""audit.enable against Java ZooKeeper 3.8.0: the same kazoo session of writes (successful and
failing creates of each mode, setData, setAcl, delete, multis, a reconfig, an ephemeral left by a
closed session) against each server, then a restart (replaying the log deletes those ephemerals
again, audited before serverStart), then the audit lines compared field by field.

Java writes them through slf4j to the logger org.apache.zookeeper.audit.Slf4jAuditLogger (here
slf4j-simple's stderr); pyzk to zookeeper_audit.log in $ZOO_LOG_DIR. Session ids are renamed in
order of appearance; everything else must be equal.
"""

from __future__ import annotations

import difflib
import re
import socket
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError, ZookeeperError
from kazoo.protocol.serialization import Create
from kazoo.security import OPEN_ACL_UNSAFE, make_acl, make_digest_acl

from tests.servers import ServerProc, java_available

pytestmark = [pytest.mark.java, pytest.mark.slow,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOSTS = {"java": "127.0.0.221", "pyzk": "127.0.0.222"}
JAVA_LINE = re.compile(r"\b(INFO|ERROR) org\.apache\.zookeeper\.audit\.Slf4jAuditLogger - (.*)$")
EPHEMERAL_GONE = "ephemeralZNodeDeletionOnSessionCloseOrExpire"
PYZK_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|ERROR) "
                       r"o\.a\.z\.a\.Slf4jAuditLogger: (.*)$")


class _CreateContainer(Create):
    type = 19  # kazoo has no container mode; its Create reads the path the reply starts with


def _create_container(zk: KazooClient, path: str) -> None:
    result = zk.handler.async_result()
    zk._call(_CreateContainer(path, b"", OPEN_ACL_UNSAFE, 4), result)
    assert result.get(timeout=10) == path


def scenario(address: str) -> None:
    zk = KazooClient(hosts=address, timeout=10.0)
    zk.start(timeout=30)
    zk.add_auth("digest", "bob:secret")
    try:
        zk.create("/a", b"1")
        zk.create("/a/s-", b"", sequence=True)
        zk.create("/a/e", b"", ephemeral=True)
        zk.create("/a/es-", b"", ephemeral=True, sequence=True)
        _create_container(zk, "/c")
        zk.create("/a/d", b"", include_data=True)  # create2
        with pytest.raises(NodeExistsError):
            zk.create("/a", b"")
        with pytest.raises(NoNodeError):
            zk.create("/nope/x", b"", ephemeral=True)
        zk.set("/a", b"2")
        with pytest.raises(NoNodeError):
            zk.set("/missing", b"")
        zk.get("/a")  # reads are not audited
        zk.exists("/missing")
        zk.set_acls("/a/d", [make_acl("world", "anyone", read=True, write=True),
                             make_digest_acl("bob", "secret", all=True),
                             make_acl("ip", "127.0.0.1", create=True, delete=True, admin=True)])
        with pytest.raises(NoNodeError):
            zk.set_acls("/missing", [make_acl("world", "anyone", all=True)])
        zk.delete("/a/d")
        with pytest.raises(NoNodeError):
            zk.delete("/missing")
        t = zk.transaction()
        t.create("/m1", b"")
        t.create("/m2-", b"", sequence=True)
        t.create("/m3", b"", ephemeral=True)
        t.set_data("/m1", b"x")
        t.check("/m1", 1)
        t.delete("/m1")
        assert all(not isinstance(x, Exception) for x in t.commit())
        t = zk.transaction()
        t.create("/m4", b"")
        t.create("/a", b"")  # exists: the whole multi fails
        assert any(isinstance(x, Exception) for x in t.commit())
        with pytest.raises(ZookeeperError):
            zk.reconfig(joining=None, leaving="7", new_members=None)
        # A second client's ephemeral goes when it closes: deleted by the server, as its user.
        other = KazooClient(hosts=address, timeout=10.0)
        other.start(timeout=30)
        try:
            other.create("/o1", b"", ephemeral=True)
        finally:
            other.stop()
            other.close()
    finally:
        zk.stop()
        zk.close()


def _normalise(lines: list[tuple[str, str]]) -> list[tuple[str, dict[str, str]]]:
    sessions: dict[str, str] = {}
    out = []
    for level, text in lines:
        fields = dict(kv.split("=", 1) for kv in text.split("\t"))
        if "session" in fields:
            fields["session"] = sessions.setdefault(fields["session"], f"S{len(sessions) + 1}")
        out.append((level, fields))
    # A closed session's ephemerals are deleted in CloseSessionTxn order: Java's HashSet order,
    # pyzk's sorted. Compare each run of them as a set.
    i = 0
    while i < len(out):
        j = i
        while j < len(out) and out[j][1]["operation"] == EPHEMERAL_GONE:
            j += 1
        out[i:j] = sorted(out[i:j], key=lambda lf: lf[1].get("znode", ""))
        i = j + 1
    return out


def run(kind: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str]]]:
    logdir = workdir / kind / "logs"
    monkeypatch.setenv("ZOO_LOG_DIR", str(logdir))
    srv = ServerProc(kind, workdir / kind, host=HOSTS[kind], cfg={"audit.enable": "true"})
    srv.start(timeout=60)
    try:
        scenario(srv.address)
    finally:
        srv.stop()
    # Started again, the server replays the log: the closed sessions' ephemerals are deleted
    # (and audited) again before serverStart.
    srv.start(timeout=60)
    srv.stop()
    if kind == "java":
        text, pattern = srv.log_path.read_text(errors="replace"), JAVA_LINE
    else:
        text, pattern = (logdir / "zookeeper_audit.log").read_text(), PYZK_LINE
    found = [m.groups() for line in text.splitlines() if (m := pattern.search(line))]
    return _normalise([(lv, msg) for lv, msg in found])


def test_audit_lines_match_java(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = {kind: run(kind, workdir, monkeypatch) for kind in ("java", "pyzk")}
    for kind, lines in got.items():
        print(kind)
        for line in lines:
            print("  ", line)
    java, pyzk = got["java"], got["pyzk"]
    assert pyzk == java, "\n".join(difflib.unified_diff(
        [repr(x) for x in java], [repr(x) for x in pyzk], "java", "pyzk", lineterm=""))
    # the scenario exercised what it means to: both results, creates, the multi lines, the
    # server's own lines
    ops = {f["operation"] for _, f in java}
    assert {"serverStart", "serverStop", "create", "setData", "setAcl", "delete",
            "multiOperation", "reconfig", "ephemeralZNodeDeletionOnSessionCloseOrExpire"} <= ops
    assert {lv for lv, _ in java} == {"INFO", "ERROR"}


def failed_start(kind: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str]]]:
    logdir = workdir / kind / "logs"
    monkeypatch.setenv("ZOO_LOG_DIR", str(logdir))
    with socket.socket() as busy:  # the client port is taken: the server cannot start
        busy.bind((HOSTS[kind], 0))
        busy.listen(1)
        srv = ServerProc(kind, workdir / kind, host=HOSTS[kind], port=busy.getsockname()[1],
                         cfg={"audit.enable": "true"})
        with pytest.raises(RuntimeError, match="exited early"):
            srv.start(timeout=60)
    if kind == "java":
        text, pattern = srv.log_path.read_text(errors="replace"), JAVA_LINE
    else:
        text, pattern = (logdir / "zookeeper_audit.log").read_text(), PYZK_LINE
    found = [m.groups() for line in text.splitlines() if (m := pattern.search(line))]
    return _normalise([(lv, msg) for lv, msg in found])


def test_failed_start_is_audited_like_java(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = {kind: failed_start(kind, workdir, monkeypatch) for kind in ("java", "pyzk")}
    print(got)
    assert got["java"] == [("ERROR", {"user": got["java"][0][1]["user"],
                                      "operation": "serverStart", "result": "failure"})]
    assert got["pyzk"] == got["java"]
