"""Quota cores without sockets: StatsTrack text, the quota'd-path trie, the rate logger, the
tree's stats bookkeeping and prep's enforcement (Java 3.8.0's behaviour; the same scenarios
run against Java itself in tests/reference/test_quotas_java.py)."""

from __future__ import annotations

import pytest

from pyzk.config.jvmflags import zoo_cfg_key
from pyzk.config.load import build_config
from pyzk.config.model import ConfigError
from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.prep import PrepSettings
from pyzk.pipeline.ratelog import RateLogger
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as sc
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE
from pyzk.tree.datatree import DataTree
from pyzk.tree.quota import PathTrie, StatsTrack, gauge_sets, top_namespace

IP = [r.Id("ip", "127.0.0.1")]
STATS = "/zookeeper/quota/a/zookeeper_stats"


def write(p: LocalPipeline, op: int, record: object, session: int = 1) -> int:
    return p.write(Request(session, 1, op, record, IP), 1000)[0]


def create(p: LocalPipeline, path: str, data: bytes = b"", flags: int = 0,
           session: int = 1) -> int:
    return write(p, Op.CREATE, r.CreateRequest(path, data, OPEN_ACL_UNSAFE, flags), session)


def set_data(p: LocalPipeline, path: str, data: bytes) -> int:
    return write(p, Op.SET_DATA, r.SetDataRequest(path, data, -1))


def with_quota(limits: str, enforce: bool = True) -> LocalPipeline:
    """/a with two children, then setquota's two creates (limits node first)."""
    p = LocalPipeline(settings=PrepSettings(enforce_quota=enforce))
    for path, data in (("/a", b"abc"), ("/a/b", b"12"), ("/a/b/c", b""),
                       ("/zookeeper/quota/a", b"")):
        assert create(p, path, data) == 0
    assert create(p, "/zookeeper/quota/a/zookeeper_limits", limits.encode()) == 0
    assert create(p, STATS, b"count=0,bytes=0") == 0
    return p


def stats(p: LocalPipeline) -> bytes | None:
    return p.tree.nodes[STATS].data


def test_stats_track_text_is_javas() -> None:
    st = StatsTrack("count=3,bytes=-1")
    assert (st.count, st.byte_count, st.count_hard_limit, st.byte_hard_limit) == (3, -1, -1, -1)
    assert str(st) == "count=3,bytes=-1"
    st.stats["countHardLimit"] = 4
    st.stats["byteHardLimit"] = 10
    text = "count=3,bytes=-1=;byteHardLimit=10;countHardLimit=4"
    assert str(st) == text
    again = StatsTrack(text)
    assert (again.count_hard_limit, again.byte_hard_limit, str(again)) == (4, 10, text)
    assert str(StatsTrack("")) == "count=-1,bytes=-1"
    assert StatsTrack("count==5,bytes=2").count == -1  # an empty second field reads -1
    for bad in ("count", "count=", "count=x", "count=1,bytes=2 "):
        with pytest.raises(ValueError):
            StatsTrack(bad)


def test_trie_finds_the_deepest_quota_ancestor() -> None:
    t = PathTrie()
    t.add_path("/a")
    t.add_path("/a/b/c")
    assert t.find_max_prefix("/a/b") == "/a"
    assert t.find_max_prefix("/a/b/c/d") == "/a/b/c"
    assert t.find_max_prefix("/ab") == "/"
    t.delete_path("/a")
    assert t.find_max_prefix("/a/b") == "/"
    assert t.find_max_prefix("/a/b/c") == "/a/b/c"
    assert top_namespace("/a/b") == "a" and top_namespace("/") is None


def test_rate_logger_logs_a_repeat_once_per_interval_with_its_count() -> None:
    rl = RateLogger(100)
    assert rl.rate_limit_log("m", 0) == ["Message:m Value:null"]
    assert rl.rate_limit_log("m", 10) == []
    assert rl.rate_limit_log("m", 20) == []
    assert rl.rate_limit_log("m", 150) == ["[3 times] Message: m"]
    assert rl.rate_limit_log("n", 160) == ["Message:n Value:null"]


def test_stats_follow_creates_deletes_set_data_and_session_close() -> None:
    p = with_quota("count=-1,bytes=-1")
    assert stats(p) == b"count=3,bytes=5"  # /a, /a/b, /a/b/c recounted at the stats create
    assert create(p, "/a/e", b"eph", flags=1, session=7) == 0
    assert set_data(p, "/a/b", b"123456") == 0
    assert stats(p) == b"count=4,bytes=12"
    assert write(p, Op.DELETE, r.DeleteRequest("/a/b/c", -1)) == 0
    assert write(p, Op.CLOSE_SESSION, None, session=7) == 0
    assert stats(p) == b"count=2,bytes=9"
    node = p.tree.nodes[STATS]
    assert (node.version, node.mzxid) == (0, node.czxid)  # Java rewrites it without a txn
    p.tree.nodes[STATS].data = b"count=99,bytes=99"
    p.tree.setup_quota()  # what a snapshot load runs
    assert stats(p) == b"count=2,bytes=9"
    sets = gauge_sets(p.tree.nodes)
    assert sets["quota_count_usage_per_namespace"] == {"a": 2}
    assert sets["quota_count_limit_per_namespace"] == {"a": -1}
    # Deleting the limits node ends the bookkeeping.
    assert write(p, Op.DELETE, r.DeleteRequest("/zookeeper/quota/a/zookeeper_limits", -1)) == 0
    assert create(p, "/a/x", b"x") == 0
    assert stats(p) == b"count=2,bytes=9"


def test_enforcement_fails_hard_limits_with_the_quota_path_and_counts_the_namespace() -> None:
    p = with_quota("count=-1,bytes=-1=;byteHardLimit=8;countHardLimit=4")
    exceeded: list[str] = []
    p.prep.on_quota_exceeded = exceeded.append
    assert create(p, "/a/d") == 0
    assert create(p, "/a/b/e") == Err.QUOTAEXCEEDED
    assert set_data(p, "/a/b", b"123456") == Err.QUOTAEXCEEDED
    assert set_data(p, "/a/b", b"12345") == 0
    multi = [(Op.SET_DATA, r.SetDataRequest("/a/b", b"", -1)),
             (Op.CREATE, r.CreateRequest("/a/f", b"", OPEN_ACL_UNSAFE, 0))]
    assert write(p, Op.MULTI, multi) == 0  # the reply carries per-op errors
    assert "/a/f" not in p.tree.nodes and p.tree.nodes["/a/b"].data == b"12345"
    assert exceeded == ["a", "a", "a"]
    assert stats(p) == b"count=4,bytes=8"


def test_soft_limits_and_no_enforcement_let_writes_through() -> None:
    for limits, enforce in (("count=1,bytes=1", True),
                            ("count=-1,bytes=-1=;byteHardLimit=1;countHardLimit=1", False)):
        p = with_quota(limits, enforce)
        assert create(p, "/a/d", b"12") == 0
        assert set_data(p, "/a", b"0123456789") == 0
        assert stats(p) == b"count=4,bytes=14"


def test_enforce_quota_key_and_system_property() -> None:
    cfg = build_config({"dataDir": "/tmp/x", "clientPort": "2181", "enforceQuota": "true"})
    assert cfg.enforce_quota is True
    assert zoo_cfg_key("zookeeper.enforceQuota") == "enforceQuota"


def test_both_snapshot_loaders_recount_the_stats_nodes() -> None:
    """DataTree.deserialize's setupQuota: a follower's SNAP (load_tree) and a restart
    (load_snapshot_into) both rebuild the trie and rewrite the stats from the tree."""
    p = with_quota("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3")
    p.tree.nodes[STATS].data = b"count=99,bytes=99"
    data = sc.encode_view(sc.capture(p.tree, {}))
    for load in (lambda t: sc.load_tree(sc.decode_snapshot(data), t, 9),
                 lambda t: sc.load_snapshot_into(data, t, 9)):
        tree = DataTree()
        load(tree)
        assert tree.nodes[STATS].data == b"count=3,bytes=5"
        assert tree.quota.max_prefix_with_quota("/a/b/x") == "/a"
        loaded = LocalPipeline(tree, PrepSettings(enforce_quota=True))
        assert create(loaded, "/a/x") == Err.QUOTAEXCEEDED


def test_an_invalid_enforce_quota_is_refused_at_start() -> None:
    with pytest.raises(ConfigError) as info:
        build_config({"dataDir": "/tmp/x", "clientPort": "2181", "enforceQuota": "yes"},
                     source_name="zoo.cfg")
    assert info.value.key == "enforceQuota" and "Choose 'true' or 'false.'" in str(info.value)
