"""Live: pyzk's LearnerCore syncs from a real Java 3.8 leader as observer 4 and ends with the
same tree as Java (read with kazoo), then follows new writes through INFORMs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyzk.storage.snapshot import load_tree
from pyzk.tree.datatree import DataTree
from pyzk.zab import learner as L
from tests.golden.zab import capture_java as cap

pytestmark = pytest.mark.java


class TreeHost:
    """The host side of LearnerCore actions: an in-memory DataTree."""

    def __init__(self) -> None:
        self.tree = DataTree()
        self.persisted: list[int] = []

    def __call__(self, a: Any) -> None:
        if isinstance(a, L.LoadSnapshot):
            load_tree(a.snapshot, self.tree, a.zxid)
        elif isinstance(a, L.Apply):
            self.tree.process_txn(a.entry.hdr, a.entry.txn)
        elif isinstance(a, L.Persist):
            self.persisted += [e.zxid for e in a.entries]
        elif isinstance(a, (L.Truncate, L.ResetDatabase)):
            raise AssertionError(f"unexpected {a}")


def _java_tree(zk: Any, path: str = "/", out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    data, st = zk.get(path)
    out[path] = (data, st.czxid, st.mzxid, st.pzxid, st.version, st.cversion, st.numChildren)
    for c in zk.get_children(path):
        child = (path.rstrip("/") + "/" + c)
        if child != "/zookeeper":
            _java_tree(zk, child, out)
    return out


def _our_tree(tree: DataTree) -> dict[str, Any]:
    out = {}
    for path, n in tree.walk():
        if path == "/zookeeper" or path.startswith("/zookeeper/"):
            continue
        st = tree.stat_of(n)  # the client's view (DataNode.copyStat)
        out[path] = (n.data or b"", st.czxid, st.mzxid, st.pzxid, st.version, st.cversion,
                     st.numChildren)
    return out


def test_learner_core_syncs_from_java_leader_and_follows_informs(tmp_path: Path) -> None:
    from tests.servers import java_available

    if not java_available():
        pytest.skip("Debian Java ZooKeeper not installed")
    from kazoo.client import KazooClient

    ens = cap.Ensemble(tmp_path).start()
    zk = KazooClient(hosts=ens.hosts)
    try:
        leader = ens.leader()
        zk.start(timeout=30)
        zk.create("/live", b"x")
        for i in range(5):
            zk.create(f"/live/c{i}", str(i).encode(), ephemeral=(i == 2))
        zk.set("/live/c1", b"one")
        host = TreeHost()
        s = cap.ObserverSession(leader.host, 0, 0, 0, host_apply=host)
        s.pump(cap._serving)
        assert _our_tree(host.tree) == _java_tree(zk)
        zk.create("/live/new", b"n")
        zk.set("/live/c3", b"three")
        zk.delete("/live/c4")
        last = zk.exists("/live/c3").mzxid
        s.pump(lambda s: host.tree.last_processed_zxid >= last + 1)
        assert _our_tree(host.tree) == _java_tree(zk)
        assert host.persisted[-3:] == sorted(host.persisted[-3:])
        s.close()
    finally:
        zk.stop()
        zk.close()
        ens.stop()
