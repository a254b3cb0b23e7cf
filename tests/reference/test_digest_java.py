"""Tree digests against Java ZooKeeper 3.8.0 (digest.enabled, on by default).

Node digests hash ctime/mtime and session ids, so two servers running the same client
operations never hold equal digests; what must agree is what each computes from the same
history. Each kind runs the same writes (creates, sequential and ephemeral nodes, setData,
setACL, deletes, multis that succeed and fail, an error, a closed session, more than 256
txns and a few snapshots at snapCount=100), then the data dir it wrote is started by both
kinds replaying every txn: each compares every TxnDigest (compareDigest), both must report 0
digest_mismatches_count and print the same `hash` history (4LW and AdminServer) as each
other and as the writer did before it stopped. The other kind also starts from the writer's
newest snapshot and compares its ZxidDigest (FileSnap.deserialize/compareSnapshotDigests).

With digest.enabled=false neither writes a TxnDigest after a txn nor a ZxidDigest in
snapshots.
"""

from __future__ import annotations

import json
import shutil
import socket
import urllib.request
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.security import ACL, Id

from pyzk.storage import snapshot as sc
from pyzk.storage import txnlog
from pyzk.storage.logfile import read_log_file
from tests.servers import J, ServerProc, free_port, java_available

pytestmark = [pytest.mark.java, pytest.mark.slow,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOSTS = {"java": "127.0.0.231", "pyzk": "127.0.0.232"}
ADMIN_JARS = ["jetty9-server.jar", "jetty9-servlet.jar", "jetty9-http.jar", "jetty9-io.jar",
              "jetty9-util.jar", "jetty9-security.jar", "jackson-core.jar", "jackson-databind.jar",
              "jackson-annotations.jar"]
CREATES = 300


class AdminProc(ServerProc):
    """A server with its AdminServer on (Java: Jetty and Jackson on the classpath)."""

    def __init__(self, kind: str, workdir: Path, host: str, cfg: dict[str, str]) -> None:
        self.admin_port = free_port(host)
        super().__init__(kind, workdir, host=host, cfg={
            **cfg, "admin.enableServer": "true", "admin.serverAddress": host,
            "admin.serverPort": str(self.admin_port)})

    def command(self, cfg_path: Path) -> list[str]:
        cmd = [c for c in super().command(cfg_path)
               if c != "-Dzookeeper.admin.enableServer=false"]
        if self.kind == "java":
            i = cmd.index("-cp")
            cmd[i + 1] += ":" + ":".join(f"{J}/{jar}" for jar in ADMIN_JARS)
        return cmd

    def admin(self, command: str) -> str:
        url = f"http://{self.host}:{self.admin_port}/commands/{command}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return str(resp.read().decode())


def four_letter(srv: ServerProc, word: str) -> str:
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(word.encode())
        chunks = []
        while b := s.recv(65536):
            chunks.append(b)
    return b"".join(chunks).decode()


def mismatches(srv: ServerProc) -> int:
    for line in four_letter(srv, "mntr").splitlines():
        key, _, value = line.partition("\t")
        if key == "zk_digest_mismatches_count":
            return int(value)
    raise AssertionError("mntr has no zk_digest_mismatches_count")


def writes(srv: ServerProc) -> None:
    """The same client operations for both kinds (one txn per call, in order)."""
    zk = KazooClient(hosts=srv.address, timeout=10.0)
    eph = KazooClient(hosts=srv.address, timeout=10.0)
    zk.start(timeout=30)
    eph.start(timeout=30)
    try:
        zk.create("/d", b"top")
        eph.create("/d/e1", b"gone with the session", ephemeral=True)
        eph.create("/e2", b"", ephemeral=True)
        for i in range(CREATES):
            zk.create(f"/d/n{i:03}", str(i).encode() * (i % 7))
        zk.create("/d/seq-", b"s", sequence=True)
        for i in range(0, CREATES, 3):
            zk.set(f"/d/n{i:03}", b"updated")
        zk.set_acls("/d/n001", [ACL(31, Id("world", "anyone"))])
        zk.set("/", b"root data")
        for i in range(0, CREATES, 5):
            zk.delete(f"/d/n{i:03}")
        with pytest.raises(NoNodeError):
            zk.delete("/d/absent")  # an error txn: no digest after it
        t = zk.transaction()
        t.create("/m", b"multi")
        t.set_data("/d/n001", b"in multi")
        t.delete("/d/n002")
        t.commit()
        t = zk.transaction()
        t.create("/m2", b"")
        t.delete("/d/absent")  # fails: the multi is rolled back, still one txn
        t.commit()
    finally:
        eph.stop()  # closeSession deletes the ephemerals and bumps their parents' pzxid
        eph.close()
        zk.stop()
        zk.close()


def run_writes(kind: str, workdir: Path, cfg: dict[str, str]) -> tuple[Path, str, int]:
    """Fresh server of `kind`: the writes, then its hash (4LW) and mismatch count."""
    srv = ServerProc(kind, workdir / f"{kind}-writer", host=HOSTS[kind], cfg=cfg)
    srv.start(timeout=60)
    try:
        writes(srv)
        return srv.datadir, four_letter(srv, "hash"), mismatches(srv)
    finally:
        srv.stop()


def serve_copy(kind: str, datadir: Path, workdir: Path, cfg: dict[str, str],
               replay_all: bool) -> tuple[str, str | None, int, str]:
    """Start `kind` on a copy of `datadir` (replay_all: without its snapshots but snapshot.0,
    so that every logged txn is replayed, and with its AdminServer on): its hash (4LW,
    admin), mismatches and log."""
    srv = (AdminProc(kind, workdir, HOSTS[kind], cfg) if replay_all
           else ServerProc(kind, workdir, host=HOSTS[kind], cfg=cfg))
    srv.write_cfg()
    shutil.rmtree(srv.datadir)
    shutil.copytree(datadir, srv.datadir)
    if replay_all:
        for snap in (srv.datadir / "version-2").glob("snapshot.*"):
            if snap.name != "snapshot.0":
                snap.unlink()
    srv.start(timeout=60)
    try:
        admin = srv.admin("hash") if isinstance(srv, AdminProc) else None
        return four_letter(srv, "hash"), admin, mismatches(srv), \
            srv.log_path.read_text(errors="replace")
    finally:
        srv.stop()


def admin_digests(text: str | None) -> list[dict[str, int]]:
    assert text is not None
    body = json.loads(text)
    assert body["command"] == "hash" and body["error"] is None
    return list(body["digests"])


def txn_digests(datadir: Path) -> list[tuple[int, int, bool]]:
    """(zxid, type, has a TxnDigest) of every logged txn."""
    out = []
    for path in sorted((datadir / "version-2").glob("log.*"),
                       key=lambda p: int(p.name.split(".")[1], 16)):
        for _, e in txnlog.iter_entries(read_log_file(path), str(path)):
            out.append((e.hdr.zxid, e.hdr.type, e.digest is not None))
    return out


def snapshot_digests(datadir: Path) -> list[sc.ZxidDigest | None]:
    snaps = sorted((datadir / "version-2").glob("snapshot.*"),
                   key=lambda p: int(p.name.split(".")[1], 16))
    return [sc.decode_snapshot(p.read_bytes()).digest for p in snaps]


@pytest.mark.parametrize("writer", ["pyzk", "java"])
def test_both_kinds_replay_each_others_digests(workdir: Path, writer: str) -> None:
    cfg = {"snapCount": "100", "forceSync": "no", "preAllocSize": "64"}
    datadir, hash_4lw, own = run_writes(writer, workdir, cfg)
    print(writer, "wrote; hash:", hash_4lw.replace("\n", " | "), "mismatches:", own)
    assert own == 0
    lines = hash_4lw.splitlines()
    assert len(lines) >= 2 and all(int(z, 16) % 128 == 0 for z, _ in
                                   (line.split(": ") for line in lines))
    # every txn but the error carries the tree digest after it; snapshots carry real ones
    logged = txn_digests(datadir)
    assert len(logged) > CREATES + 128
    assert [z for z, t, has in logged if not has] == [z for z, t, _ in logged if t == -1]
    assert len([1 for _, t, _ in logged if t == -1]) == 1
    snaps = snapshot_digests(datadir)
    assert snaps[0] == sc.ZxidDigest(0, 2, 0)  # snapshot.0: the "empty digest"
    assert len(snaps) >= 3 and all(d is not None and d.zxid > 0 for d in snaps[1:])

    # Both kinds replay every txn the writer logged, comparing each TxnDigest: the same
    # history as the writer's. The other kind also starts from the writer's newest snapshot,
    # whose ZxidDigest it compares once replay reaches that zxid.
    seen = {}
    for kind in ("java", "pyzk"):
        h4, ha, count, log = serve_copy(kind, datadir, workdir / f"{kind}-replay", cfg, True)
        print(kind, "replayed", writer, "log; hash:", h4.replace("\n", " | "), "mismatches:",
              count)
        assert count == 0, log[-3000:]
        seen[kind] = (h4, admin_digests(ha))
        assert [f"{d['zxid']:x}: {d['digest']}" for d in seen[kind][1]] == lines
    assert seen["java"] == seen["pyzk"]
    assert seen["java"][0] == hash_4lw
    other = "java" if writer == "pyzk" else "pyzk"
    _, _, count, log = serve_copy(other, datadir, workdir / f"{other}-snap", cfg, False)
    assert count == 0, log[-3000:]
    if other == "java":
        newest = snaps[-1]
        assert newest is not None
        assert ("The digest in the snapshot has digest version of 2, with zxid as "
                f"0x{newest.zxid:x}, and digest value as {newest.digest}") in log
        assert "Digests are not matching" not in log


def test_digest_disabled_writes_no_digests(workdir: Path) -> None:
    cfg = {"snapCount": "100", "digest.enabled": "false", "forceSync": "no", "preAllocSize": "64"}
    for kind in ("java", "pyzk"):
        datadir, hash_4lw, own = run_writes(kind, workdir, cfg)
        logged = txn_digests(datadir)
        assert logged and not any(has for _, _, has in logged), kind
        assert all(d is None for d in snapshot_digests(datadir)), kind
        # processTxn still records the (zero) tree digest every 128 zxids
        assert hash_4lw and all(line.endswith(": 0") for line in hash_4lw.splitlines()), kind
        assert own == 0
