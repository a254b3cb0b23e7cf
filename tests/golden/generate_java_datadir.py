"""Regenerate tests/golden/java-3.8.0-datadir/ from Debian's Java ZooKeeper 3.8.0.

Run by hand (`.venv/bin/python -m tests.golden.generate_java_datadir`), not by pytest. It drives a
standalone Java server on 127.0.0.31 with kazoo plus a raw socket (for container/TTL creates that
kazoo cannot send), restarts it once so a snapshot with live sessions is written, stops it, copies
version-2/ and records the tree Java serves in expected_tree.json.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import tempfile
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.security import ACL, Id, make_digest_acl

from pyzk.protocol import records as r
from tests.servers import ServerProc

HERE = Path(__file__).resolve().parent

OUT = HERE / "java-3.8.0-datadir"
HOST = "127.0.0.31"


def raw_session(host: str, port: int) -> socket.socket:
    """A bare client session, for the opcodes kazoo cannot send (createContainer, createTTL)."""
    s = socket.create_connection((host, port), timeout=5)
    req = r.ConnectRequest.to_bytes(r.ConnectRequest(0, 0, 30000, 0, b"\0" * 16)) + b"\0"
    s.sendall(struct.pack(">i", len(req)) + req)
    _read_frame(s)
    return s


def _read_frame(s: socket.socket) -> bytes:
    head = b""
    while len(head) < 4:
        head += s.recv(4 - len(head))
    (n,) = struct.unpack(">i", head)
    got = b""
    while len(got) < n:
        got += s.recv(n - len(got))
    return got


def raw_call(s: socket.socket, xid: int, op: int, body: bytes) -> int:
    pkt = r.RequestHeader.to_bytes(r.RequestHeader(xid, op)) + body
    s.sendall(struct.pack(">i", len(pkt)) + pkt)
    while True:
        reply = _read_frame(s)
        hdr, _ = r.ReplyHeader.decode(reply, 0)
        if hdr.xid == xid:
            return int(hdr.err)


def dump_tree(zk: KazooClient) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}

    def walk(path: str) -> None:
        try:
            data, st = zk.get(path)
            acl, _ = zk.get_acls(path)
            kids = zk.get_children(path)
        except NoNodeError:
            return
        out[path] = {
            "data": data.hex(),
            "acl": [[a.perms, a.id.scheme, a.id.id] for a in acl],
            "stat": [st.czxid, st.mzxid, st.ctime, st.mtime, st.version, st.cversion,
                     st.aversion, st.ephemeralOwner, st.dataLength, st.numChildren, st.pzxid],
        }
        for k in sorted(kids):
            walk(path.rstrip("/") + "/" + k)

    walk("/")
    return out


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="pyzk-golden-"))
    cfg = {"preAllocSize": "64", "snapCount": "16", "extendedTypesEnabled": "true"}
    srv = ServerProc("java", work, host=HOST, cfg=cfg).start(60)
    try:
        zk = KazooClient(hosts=srv.address)
        zk.start(20)
        zk.create("/app", b"hello")
        for i in range(3):
            zk.create("/app/seq-", f"s{i}".encode(), sequence=True)
        zk.create("/app/bin", bytes(range(256)))
        zk.create("/app/empty", b"")
        zk.create("/app/big", b"x" * 5000)
        zk.create("/deep/a/b/c", b"leaf", makepath=True)
        zk.set("/app", b"hello-v1")
        zk.set("/app", b"hello-v2", version=1)
        acl = make_digest_acl("alice", "secret", all=True)
        zk.create("/secure", b"s")
        zk.set_acls("/secure", [acl])
        zk.delete("/deep/a/b/c")
        tx = zk.transaction()
        tx.create("/multi", b"m")
        tx.create("/multi/x", b"mx")
        tx.set_data("/app", b"hello-v3")
        tx.check("/app", 3)
        tx.delete("/app/empty")
        tx.commit()
        bad = zk.transaction()
        bad.create("/multi/y", b"never")
        bad.delete("/does-not-exist")
        bad.commit()
        # A session that ends cleanly: its ephemeral leaves through a closeSession txn.
        zk2 = KazooClient(hosts=srv.address)
        zk2.start(20)
        zk2.create("/app/eph-gone", b"e", ephemeral=True)
        zk2.create("/app/eseq-", b"e", ephemeral=True, sequence=True)
        zk2.stop()
        zk2.close()
        s = raw_session(srv.host, srv.port)
        body = r.CreateRequest.to_bytes(r.CreateRequest(
            "/box", b"c", [r.ACL(31, r.Id("world", "anyone"))], 4))
        assert raw_call(s, 1, 19, body) == 0
        body = r.CreateTTLRequest.to_bytes(r.CreateTTLRequest(
            "/ttl", b"t", [r.ACL(31, r.Id("world", "anyone"))], 5, 3_600_000))
        assert raw_call(s, 2, 21, body) == 0
        assert raw_call(s, 3, 1, r.CreateRequest.to_bytes(r.CreateRequest(
            "/box/item", b"i", [r.ACL(31, r.Id("world", "anyone"))], 0))) == 0
        s.close()
        zk.stop()
        zk.close()
        srv.stop()
        # Restart: Java snapshots on load (ZooKeeperServer.loadData), then more txns after it.
        srv.start(60)
        zk = KazooClient(hosts=srv.address)
        zk.start(20)
        zk.create("/after", b"restart")
        zk.create("/app/eph-live", b"live", ephemeral=True)
        for i in range(20):
            zk.set("/after", f"v{i}".encode())
        zk.set_acls("/after", [acl, ACL(1, Id("world", "anyone"))])
        zk.add_auth("digest", "alice:secret")
        tree = dump_tree(zk)
        sid = zk.client_id[0]
        srv.kill9()  # the live session stays in the data dir, as after a crash
    finally:
        srv.stop()
    if OUT.exists():
        shutil.rmtree(OUT)
    shutil.copytree(work / "data" / "version-2", OUT / "version-2")
    (OUT / "expected_tree.json").write_text(json.dumps(
        {"live_session": sid, "tree": tree}, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(work)
    print("wrote", OUT, sorted(p.name for p in (OUT / "version-2").iterdir()))


if __name__ == "__main__":
    main()
