"""Tree digests in the pure cores: Java's numbers on Java's data dir, prep's precalculated
digests against the tree after each txn, the digest history, and a corrupted tree caught."""

from __future__ import annotations

import shutil
from pathlib import Path

from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as sc
from pyzk.storage.datadir import DataDir
from pyzk.storage.recovery import recover
from pyzk.tree import digest as dg
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE
from pyzk.tree.datatree import DataTree

JAVA_DIR = Path(__file__).parent.parent / "golden" / "java-3.8.0-datadir"
IP = [r.Id("ip", "127.0.0.1")]


def create(path: str, flags: int = 0, session: int = 1, data: bytes = b"d") -> Request:
    return Request(session, 1, Op.CREATE, r.CreateRequest(path, data, OPEN_ACL_UNSAFE, flags), IP)


def test_node_digest_is_crc32_of_path_data_and_stat() -> None:
    import struct
    import zlib
    stat = struct.pack(">qqqqqiiiq", 1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert dg.node_digest("/a", b"xy", 1, 2, 3, 4, 5, 6, 7, 8, 9) == zlib.crc32(b"/axy" + stat)
    # the root hashes as "" whichever alias; the /zookeeper/ subtree is outside the digest
    assert dg.node_digest("/", None, 1, 2, 3, 4, 5, 6, 7, 8, 9) == zlib.crc32(stat)
    assert dg.node_digest("/zookeeper/quota", b"", 0, 0, 0, 0, 0, 0, 0, 0, 0) == 0
    assert dg.node_digest("/zookeeper", b"", 0, 0, 0, 0, 0, 0, 0, 0, 0) != 0
    assert dg.to_long((1 << 64) - 1) == -1


def test_java_snapshots_and_logs_give_javas_digests(tmp_path: Path) -> None:
    """Java 3.8.0's data dir: every snapshot's ZxidDigest equals the digest of the tree it
    loads to, and replaying all of its logs (57 txns of every kind, from snapshot.0) meets
    each txn's TxnDigest."""
    for name in ("snapshot.9", "snapshot.1f"):
        raw = (JAVA_DIR / "version-2" / name).read_bytes()
        tree = DataTree()
        sc.load_snapshot_into(raw, tree, int(name.split(".")[1], 16))
        javas = sc.decode_snapshot(raw).digest
        assert javas is not None and javas.zxid == int(name.split(".")[1], 16)
        assert tree.tree_digest() == javas.digest
        assert tree.digests.mismatches == 0
    shutil.copytree(JAVA_DIR, tmp_path / "d")
    for f in (tmp_path / "d" / "version-2").glob("snapshot.*"):
        if f.name != "snapshot.0":
            f.unlink()
    rec = recover(DataDir(tmp_path / "d", tmp_path / "d"), DataTree)
    assert rec.txns_replayed == 57
    assert rec.tree.digests.mismatches == 0
    assert rec.tree.tree_digest() == rec.tree.recompute_digest()
    assert rec.tree.digests.last == dg.ZxidDigest(0x39, 2, rec.tree.tree_digest())


def test_prepped_digest_is_the_tree_digest_after_each_txn() -> None:
    """Pipelined writes (several prepped before any applies): each txn's precalculated
    TxnDigest equals the tree's digest right after it is applied. (Not for the root: Java's
    change records know it as "" when a child is created and as "/" when its data is set, so
    a setData of "/" prepped behind pending creates is precalculated from the applied root
    and mismatches, on Java as here.)"""
    p = LocalPipeline()
    p.write(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/", b"root", -1), IP))
    reqs = [
        create("/a"), create("/a/b", data=b""), create("/a/s-", flags=2),
        create("/e", flags=1, session=7), create("/a/e2", flags=1, session=7),
        Request(1, 1, Op.SET_DATA, r.SetDataRequest("/a/b", b"new", -1), IP),
        Request(1, 1, Op.SET_ACL, r.SetACLRequest("/a", OPEN_ACL_UNSAFE, -1), IP),
        Request(1, 1, Op.DELETE, r.DeleteRequest("/a/b", -1), IP),
        Request(1, 1, Op.DELETE, r.DeleteRequest("/nope", -1), IP),  # error: no digest
        Request(1, 1, Op.MULTI, [(Op.CREATE, r.CreateRequest("/m", b"", OPEN_ACL_UNSAFE, 0)),
                                 (Op.SET_DATA, r.SetDataRequest("/m", b"x", -1))], IP),
        Request(1, 1, Op.MULTI, [(Op.CREATE, r.CreateRequest("/m2", b"", OPEN_ACL_UNSAFE, 0)),
                                 (Op.DELETE, r.DeleteRequest("/none", -1))], IP),
    ]
    prepped = [(req, *p.propose(req, 1000 + i)) for i, req in enumerate(reqs)]
    hdr, txn = p.prep.close_session_txn(7, 0, p.next_zxid(), 2000)
    p.digests[hdr.zxid] = p.prep.txn_digest(hdr)
    prepped.append((None, hdr, txn))
    for req, hdr, txn in prepped:
        expected = p.digests[hdr.zxid]
        p.tree.process_txn(hdr, txn, p.digests.pop(hdr.zxid))
        p.prep.committed(hdr.zxid)
        if hdr.type == Op.ERROR:
            assert expected is None
            continue
        assert expected == r.TxnDigest(2, p.tree.tree_digest()), (req, hdr)
    assert p.tree.digests.mismatches == 0
    assert p.tree.tree_digest() == p.tree.recompute_digest()
    assert "/e" not in p.tree.nodes and "/m" in p.tree.nodes and "/m2" not in p.tree.nodes


def test_history_keeps_every_128th_zxid_and_the_last() -> None:
    p = LocalPipeline()
    for i in range(300):
        p.write(create(f"/n{i}"))
    zxids = [zd.zxid for zd in p.tree.digests.log]
    assert zxids == [128, 256]
    assert p.tree.digests.last == dg.ZxidDigest(300, 2, p.tree.tree_digest())
    assert p.tree.digests.snapshot_digest() == p.tree.digests.last
    assert DataTree().digests.snapshot_digest() == dg.ZxidDigest(0, 2, 0)  # "empty digest"


def test_corrupted_tree_is_detected() -> None:
    """A replica whose tree diverged (an update the leader never made): the next txn's
    digest no longer matches, counted once per txn and reported to the watcher."""
    p = LocalPipeline()
    p.write(create("/a"))
    seen: list[int] = []
    p.tree.digests.on_mismatch = seen.append
    p.tree.set_data("/a", b"corrupted", 1, 1, 0, [])
    leader = LocalPipeline()  # the same writes on a healthy tree give the expected digests
    leader.write(create("/a"))
    hdr, txn = leader.propose(create("/b"), 0)
    digest = leader.prep.txn_digest(hdr)
    p.tree.process_txn(hdr, txn, digest)
    assert p.tree.digests.mismatches == 1 and seen == [hdr.zxid]
    p.tree.process_txn(hdr._replace(zxid=hdr.zxid + 1, type=Op.CREATE_SESSION),
                       r.CreateSessionTxn(1000), digest)
    assert p.tree.digests.mismatches == 2


def test_disabled_digests_stay_zero_and_carry_none() -> None:
    tree = DataTree(digest_enabled=False)
    p = LocalPipeline(tree)
    p.write(create("/a"))
    hdr, _ = p.propose(create("/b"), 0)
    assert p.prep.txn_digest(hdr) is None
    assert tree.tree_digest() == 0
    # processTxn still records the (zero) digest after each txn, as Java's logZxidDigest
    assert tree.digests.last == dg.ZxidDigest(1, 2, 0)


def test_snapshot_digest_of_a_later_zxid_is_compared_when_replay_reaches_it() -> None:
    h = dg.DigestHistory()
    h.snapshot_loaded(dg.ZxidDigest(12, 2, 555), 10)
    h.applied(11, 1)  # fuzzy: neither recorded nor compared
    assert h.last is None and h.mismatches == 0
    h.applied(12, 556)
    assert h.mismatches == 1 and h.from_snapshot is None
    h.applied(13, 7)
    assert h.last == dg.ZxidDigest(13, 2, 7)
    older = dg.DigestHistory()
    older.snapshot_loaded(dg.ZxidDigest(9, 2, 555), 10)  # older than the snapshot: ignored
    assert older.from_snapshot is None


def test_rate_limited_log_started_without_a_clock_starts_its_interval_when_one_arrives() -> None:
    h = dg.DigestHistory()  # a tree loaded before the server exists has no clock
    h._rate_limit_log("m", "1")
    h._rate_limit_log("m", "2")
    now = [5_000_000]
    h.now_ms = lambda: now[0]
    h._rate_limit_log("m", "3")  # the interval starts here: no flush of the count so far
    assert h._rate_count == 2 and h._rate_at == 5_000_000
    now[0] += dg.RATE_LOG_INTERVAL_MS
    h._rate_limit_log("m", "4")  # a whole interval later: the summary goes out
    assert h._rate_count == 0 and h._rate_at == now[0]


def test_digest_of_matches_node_digest() -> None:
    """The write path's one-call digest is the same CRC as node_digest's, for nodes and
    change records alike (root, the excluded subtree, null and empty data, non-ASCII)."""
    from pyzk.pipeline.changes import ChangeRecord
    from pyzk.tree.znode import Znode

    cases = [("/", None), ("/a", b"xy"), ("/zookeeper", b""), ("/zookeeper/quota", b"q"),
             ("/\u00e9t\u00e9/\U0001f600", b"\x00\xff" * 40), ("/e", b"")]
    for i, (path, data) in enumerate(cases):
        n = Znode(data, 1, 10 + i, 20 + i, 1_700_000_000_000 + i, 1_700_000_000_001, 3, -1, 7,
                  0x1234_5678_9ABC_DEF0, 30 + i)
        c = ChangeRecord(40 + i, path, False, 5, -2, 2**31 - 1, -(2**63), 4, [], data,
                         1, 2**62, 3, 4, 5)
        for rec in (n, c):
            want = dg.node_digest(path, rec.data, rec.czxid, rec.mzxid, rec.pzxid, rec.ctime,
                                  rec.mtime, rec.version, rec.cversion, rec.aversion,
                                  rec.ephemeral_owner)
            assert dg.digest_of(path, rec) == want
