"""audit.enable in a mixed ensemble (pyzk leader, a Java and a pyzk follower): the same writes
through a client of each follower are audited by that follower alone, with the same lines; the
ephemerals of each closed session are audited by every member, as the server's user (Java's
DataTree.deleteNodes runs wherever the closeSession txn is applied)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.security import make_acl

from tests.ensemble.launcher import start_client
from tests.mixed.mixhelp import start_led_by

pytestmark = pytest.mark.slow

JAVA_LINE = re.compile(r"\b(INFO|ERROR) org\.apache\.zookeeper\.audit\.Slf4jAuditLogger - (.*)$")
PYZK_LINE = re.compile(r"^\S+ \S+ (INFO|ERROR) o\.a\.z\.a\.Slf4jAuditLogger: (.*)$")
GONE = "ephemeralZNodeDeletionOnSessionCloseOrExpire"


def writes(zk: KazooClient, root: str) -> None:
    zk.create(root, b"")
    zk.create(f"{root}/e", b"", ephemeral=True)
    zk.create(f"{root}/s-", b"", sequence=True)
    zk.set(root, b"x")
    zk.set_acls(f"{root}/s-0000000001", [make_acl("world", "anyone", read=True)])
    with pytest.raises(NoNodeError):
        zk.delete(f"{root}/missing")
    t = zk.transaction()
    t.create(f"{root}/m", b"")
    t.delete(f"{root}/m")
    t.commit()


def audit_lines(text: str, pattern: re.Pattern[str]) -> list[tuple[str, dict[str, str]]]:
    out = []
    for line in text.splitlines():
        m = pattern.search(line)
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(2).split("\t"))
            out.append((m.group(1), fields))
    return out


def test_followers_of_both_kinds_audit_like_java(mixed, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: "java", 2: "pyzk", 3: "pyzk"}, extra={"audit.enable": "true"})
    start_led_by(ens, leader=3, second=2)
    sessions: dict[int, str] = {}
    for sid, root in ((1, "/via-java"), (2, "/via-pyzk")):
        zk = start_client(ens.members[sid].address)
        try:
            sessions[sid] = f"0x{zk.client_id[0]:x}"
            writes(zk, root)
        finally:
            zk.stop()
            zk.close()
    expected_gone = [(sessions[1], "/via-java/e"), (sessions[2], "/via-pyzk/e")]

    def read_all() -> dict[int, list[tuple[str, dict[str, str]]]]:
        return {
            1: audit_lines(ens.members[1].log_text(), JAVA_LINE),
            2: audit_lines((ens.members[2].workdir / "zookeeper_audit.log").read_text(),
                           PYZK_LINE),
            3: audit_lines((ens.members[3].workdir / "zookeeper_audit.log").read_text(),
                           PYZK_LINE),
        }

    def gone(got: list[tuple[str, dict[str, str]]]) -> list[tuple[str, str]]:
        return sorted((f["session"], f["znode"]) for _, f in got if f["operation"] == GONE)

    # A member applies the second close when the leader's commit reaches it, maybe after the
    # client's close returned: wait until every member has both (or time runs out).
    lines = read_all()
    for _ in range(100):  # bounded: 100 polls of 0.1 s
        if all(len(gone(v)) >= 2 for v in lines.values()):
            break
        time.sleep(0.1)
        lines = read_all()

    def client_lines(sid: int) -> list[tuple[str, dict[str, str]]]:
        return [(lv, {**f, "session": "S", "znode": f.get("znode", "").replace(
            "/via-java", "/R").replace("/via-pyzk", "/R")})
            for lv, f in lines[sid] if f.get("session") and f["operation"] != GONE]

    java_client, pyzk_client = client_lines(1), client_lines(2)
    assert len(java_client) == 8, java_client  # 5 writes, a failed delete, a multi's 2 ops
    assert pyzk_client == java_client
    assert client_lines(3) == []  # the leader has no client connection for them
    for sid, got in lines.items():
        assert gone(got) == expected_gone, sid
