"""A data dir written by the running pyzk server is served by Java ZooKeeper 3.8 exactly as pyzk
served it, and the reverse: pyzk builds a tree through kazoo (persistent, sequential, an
ephemeral of a live session, a digest ACL, setData/setACL versions, a multi, deletes, enough txns
to cross snapshots at snapCount=50), stops on SIGTERM, Java starts on the same dataDir and must
serve the same dump (paths, data, ACLs, every Stat field); Java then writes more, stops, and
pyzk must serve Java's dump. The live session's kazoo client follows the server on the same
port, so the session itself crosses both ways.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.security import make_digest_acl

from tests.servers import ServerProc, java_available

pytestmark = [pytest.mark.java,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOST = "127.0.0.82"
ALICE = ("digest", "alice:secret")
STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")


def dump(srv: ServerProc) -> dict[str, Any]:
    """Every node from / down: data, ACLs and all Stat fields (as a fresh client sees them)."""
    zk = KazooClient(hosts=srv.address, timeout=10.0, auth_data=[ALICE])
    zk.start(timeout=30)
    try:
        out: dict[str, Any] = {}
        todo = ["/"]
        while todo:
            path = todo.pop()
            data, stat = zk.get(path)
            acls, _ = zk.get_acls(path)
            out[path] = {
                "data": data,
                "acl": sorted((a.perms, a.id.scheme, a.id.id) for a in acls),
                **{f: getattr(stat, f) for f in STAT_FIELDS},
            }
            todo += [path.rstrip("/") + "/" + c for c in zk.get_children(path)]
        return out
    finally:
        zk.stop()
        zk.close()


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = [f"only in first: {p}" for p in sorted(set(a) - set(b))]
    out += [f"only in second: {p}" for p in sorted(set(b) - set(a))]
    for p in sorted(set(a) & set(b)):
        for k in a[p]:
            if a[p][k] != b[p][k]:
                out.append(f"{p} {k}: {a[p][k]!r} != {b[p][k]!r}")
    return out


def write_tree(zk: KazooClient, tag: str, n: int) -> None:
    """A mix of every kind of write; n bulk creates/sets push the log past snapshots."""
    zk.ensure_path(f"/{tag}")
    zk.create(f"/{tag}/app", b"hello")
    for i in range(3):
        zk.create(f"/{tag}/app/seq-", b"s%d" % i, sequence=True)
    zk.create(f"/{tag}/app/none", None)
    zk.create(f"/{tag}/bin", bytes(range(256)))
    zk.create(f"/{tag}/gone", b"")
    for v in range(4):
        zk.set(f"/{tag}/app", b"hello-v%d" % v)
    zk.create(f"/{tag}/secure", b"s", acl=[make_digest_acl("alice", "secret", all=True)])
    zk.set_acls(f"/{tag}/app", [make_digest_acl("alice", "secret", read=True, write=True),
                                make_digest_acl("bob", "pw", all=True)])
    for i in range(n):
        zk.create(f"/{tag}/bulk-{i}", b"%d" % i)
        zk.set(f"/{tag}/bulk-{i}", b"v1-%d" % i)
    for i in range(0, n, 3):
        zk.delete(f"/{tag}/bulk-{i}")
    tx = zk.transaction()
    tx.create(f"/{tag}/multi-a", b"ma")
    tx.create(f"/{tag}/multi-b", b"mb")
    tx.set_data(f"/{tag}/bin", b"multi-set")
    tx.delete(f"/{tag}/gone")
    results = tx.commit()
    assert not any(isinstance(r, Exception) for r in results), results


def wait_connected(zk: KazooClient, timeout: float = 30.0) -> None:
    """Block until kazoo has re-attached its session to the (restarted) server."""
    ev = threading.Event()

    def listener(state: str) -> bool:
        if state == KazooState.CONNECTED:
            ev.set()
            return True
        return False

    zk.add_listener(listener)
    if zk.connected:
        ev.set()
    assert ev.wait(timeout), "kazoo did not reconnect"
    zk.remove_listener(listener)


@pytest.fixture
def servers(workdir: Path) -> Iterator[list[ServerProc]]:
    made: list[ServerProc] = []
    yield made
    for s in made:
        s.stop()


def test_pyzk_and_java_serve_each_others_data_dirs(workdir: Path,
                                                   servers: list[ServerProc]) -> None:
    pyzk = ServerProc("pyzk", workdir / "pyzk", host=HOST, cfg={"snapCount": "50"})
    servers.append(pyzk)
    pyzk.start()
    shared = {"snapCount": "50", "dataDir": str(pyzk.datadir)}
    # The holder's session owns an ephemeral and must outlive both restarts (30 s timeout).
    holder = KazooClient(hosts=pyzk.address, timeout=30.0, auth_data=[ALICE])
    holder.start(timeout=30)
    try:
        write_tree(holder, "p", 60)
        holder.create("/p/eph", b"mine", ephemeral=True)
        sid = holder.client_id[0]
        before = dump(pyzk)
        assert before["/p/eph"]["ephemeralOwner"] == sid
        snaps = sorted(p.name for p in (pyzk.datadir / "version-2").glob("snapshot.*"))
        assert len(snaps) >= 3, f"expected several snapshots at snapCount=50: {snaps}"
        print(f"\npyzk wrote {len(before)} nodes, zxid {max(n['mzxid'] for n in before.values()):#x}, "
              f"snapshots {snaps}")
        pyzk.stop()

        java = ServerProc("java", workdir / "java", host=HOST, port=pyzk.port, cfg=shared)
        servers.append(java)
        java.start(timeout=60)
        got = dump(java)
        assert not diff(before, got), "\n".join(diff(before, got)[:30])

        # Java appends (the holder's session reconnects to Java on the same port).
        wait_connected(holder)
        holder.create("/j", b"")
        write_tree(holder, "j", 60)
        holder.set("/p/eph", b"still-mine")
        holder.delete("/p/bulk-1")
        java_view = dump(java)
        assert java_view["/p/eph"]["ephemeralOwner"] == sid
        assert holder.client_id[0] == sid
        snaps = sorted(p.name for p in (pyzk.datadir / "version-2").glob("snapshot.*"))
        print(f"java served {len(java_view)} nodes after its writes; snapshots now {snaps}")
        java.stop()
        noisy = [ln for ln in java.log_path.read_text(errors="replace").splitlines()
                 if " ERROR " in ln or " WARN " in ln]
        print("java warnings:", *noisy, sep="\n  ")

        pyzk2 = ServerProc("pyzk", workdir / "pyzk2", host=HOST, port=pyzk.port, cfg=shared)
        servers.append(pyzk2)
        pyzk2.start()
        after = dump(pyzk2)
        print("pyzk2 recovery:", *[ln for ln in pyzk2.log_path.read_text().splitlines()
                                   if "recovered" in ln or '"warning"' in ln], sep="\n  ")
        assert not diff(java_view, after), "\n".join(diff(java_view, after)[:30])
        # The session crossed back too: the ephemeral's owner can still use it.
        wait_connected(holder)
        holder.set("/p/eph", b"back-on-pyzk")
        assert holder.client_id[0] == sid
    finally:
        holder.stop()
        holder.close()
