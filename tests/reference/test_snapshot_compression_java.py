"""snapshot.compression.method and snapshot.trust.empty against Java ZooKeeper 3.8.0 on the same
data directory.

Compression: one data dir goes pyzk (snappy) -> Java (gz) -> pyzk (snappy) -> Java (snappy),
each server reading the newest snapshot the previous one wrote in the other's stream format
(snappy-java framing, gzip) and serving exactly the tree the previous one served; each writes
its own snapshots in its configured method with Java's names (snapshot.<zxid>.snappy/.gz).

trust.empty: a data dir whose snapshots were removed (logs only) is refused by both servers by
default and served by both, identically, with snapshot.trust.empty=true.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from pyzk.storage.datadir import DataDir
from tests.ensemble.launcher import wait_for
from tests.reference.test_server_datadir_interchange import diff, dump
from tests.servers import ServerProc, java_available

pytestmark = [pytest.mark.java,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOST = "127.0.0.83"


def write(srv: ServerProc, tag: str, n: int) -> None:
    zk = KazooClient(hosts=srv.address, timeout=10.0)
    zk.start(timeout=30)
    try:
        zk.ensure_path(f"/{tag}")
        for i in range(n):
            zk.create(f"/{tag}/n{i}", (b"%s-%d " % (tag.encode(), i)) * (i % 40))
            if i % 3 == 0:
                zk.set(f"/{tag}/n{i}", b"v1")
        zk.create(f"/{tag}/big", bytes(range(256)) * 300)  # more than one 32 KiB snappy block
    finally:
        zk.stop()
        zk.close()


def snaps(srv: ServerProc) -> list[str]:
    files = (srv.datadir / "version-2").glob("snapshot.*")
    return sorted((p.name for p in files), key=lambda n: int(n.split(".")[1], 16))


def all_snapshots_whole(srv: ServerProc) -> bool:
    """Every snapshot file decodes: both servers write snapshots in a background thread, so
    one may still be on its way when the writes are acknowledged; stopping the server then
    leaves a torn file the next server rightly complains about (and skips)."""
    for p in (srv.datadir / "version-2").glob("snapshot.*"):
        try:
            DataDir.read_snapshot(p)
        except Exception:  # noqa: BLE001 - any decoding error means "not written yet"
            return False
    return True


def reading_problems(srv: ServerProc) -> list[str]:
    text = srv.log_path.read_text(errors="replace")
    return [ln for ln in text.splitlines()
            if "problem reading snap" in ln.lower() or "invalid snapshot" in ln.lower()]


def test_compressed_snapshots_cross_between_pyzk_and_java(workdir: Path) -> None:
    data = workdir / "data"
    chain = [("pyzk", "snappy"), ("java", "gz"), ("pyzk", "snappy"), ("java", "snappy")]
    port = None
    view: dict[str, object] | None = None
    for step, (kind, method) in enumerate(chain):
        srv = ServerProc(kind, workdir / f"{step}-{kind}", host=HOST, port=port,
                         cfg={"dataDir": str(data), "snapCount": "20",
                              "snapshot.compression.method": method})
        srv.datadir = data
        port = srv.port
        srv.start(timeout=60)
        try:
            if view is not None:
                got = dump(srv)
                assert not diff(view, got), "\n".join(diff(view, got)[:30])
            write(srv, f"s{step}", 45)
            view = dump(srv)
            wait_for(functools.partial(all_snapshots_whole, srv), 30,
                     f"{kind}'s snapshots written")
        finally:
            srv.stop()
        assert not reading_problems(srv), reading_problems(srv)
        newest = snaps(srv)[-1]
        assert newest.endswith(f".{method}"), (kind, method, snaps(srv))
        print(f"{kind} ({method}): snapshots {snaps(srv)}")
    assert any(n.endswith(".gz") for n in snaps(srv))


@pytest.mark.parametrize("kind", ["pyzk", "java"])
def test_trust_empty_snapshot_replays_logs_without_a_snapshot(workdir: Path, kind: str) -> None:
    first = ServerProc(kind, workdir / "first", host=HOST)
    first.start(timeout=60)
    try:
        write(first, "t", 10)
        before = dump(first)
    finally:
        first.stop()
    for p in (first.datadir / "version-2").glob("snapshot.*"):
        p.unlink()

    refused = ServerProc(kind, workdir / "refused", host=HOST, port=first.port,
                         cfg={"dataDir": str(first.datadir)})
    with pytest.raises((RuntimeError, TimeoutError)):
        refused.start(timeout=20)
    refused.stop()
    assert "No snapshot found, but there are log entries" in refused.tail_log(200)

    trusted = ServerProc(kind, workdir / "trusted", host=HOST, port=first.port,
                         cfg={"dataDir": str(first.datadir), "snapshot.trust.empty": "true"})
    trusted.start(timeout=60)
    try:
        after = dump(trusted)
    finally:
        trusted.stop()
    assert not diff(before, after), "\n".join(diff(before, after)[:30])
    assert "This should only be allowed during upgrading" in trusted.tail_log(400)
    assert list((first.datadir / "version-2").glob("snapshot.*")), "no snapshot after the load"
