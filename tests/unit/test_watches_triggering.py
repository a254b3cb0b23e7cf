"""Watch triggering: one-shot vs persistent vs recursive, order, dedupe, removal, ACL filter."""

from __future__ import annotations

from typing import Any

from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.opcodes import Op
from pyzk.tree.acl import digest_auth_ids
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE
from pyzk.tree.datatree import DataTree

IP = [r.Id("ip", "127.0.0.1")]


def ev(events: list[Any]) -> list[tuple[Any, int, str]]:
    return [(w, int(e.type), e.path) for w, e in events]


def create(p: LocalPipeline, path: str, flags: int = 0) -> list[Any]:
    return p.write(Request(1, 1, Op.CREATE, r.CreateRequest(path, b"", OPEN_ACL_UNSAFE, flags),
                           IP))[2]


def read(p: LocalPipeline, op: int, rec: Any, w: Any = "w") -> tuple[int, bytes, list[Any]]:
    return p.read(Request(2, 1, op, rec, IP, watcher=w))


def test_exists_watch_registered_on_nonode_fires_created_once() -> None:
    p = LocalPipeline()
    assert read(p, Op.EXISTS, r.ExistsRequest("/a", True))[0] == Err.NONODE
    assert ev(create(p, "/a")) == [("w", 1, "/a")]
    assert ev(p.write(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/a", b"", -1), IP))[2]) == []


def test_get_data_nonode_registers_nothing() -> None:
    p = LocalPipeline()
    assert read(p, Op.GET_DATA, r.GetDataRequest("/a", True))[0] == Err.NONODE
    assert ev(create(p, "/a")) == []


def test_create_order_node_created_then_parent_children_changed() -> None:
    p = LocalPipeline()
    create(p, "/p")
    read(p, Op.EXISTS, r.ExistsRequest("/p/c", True), "a")
    read(p, Op.GET_CHILDREN, r.GetChildrenRequest("/p", True), "b")
    assert ev(create(p, "/p/c")) == [("a", 1, "/p/c"), ("b", 4, "/p")]


def test_delete_dedupes_data_and_child_watch_of_same_watcher() -> None:
    p = LocalPipeline()
    create(p, "/p")
    create(p, "/p/c")
    read(p, Op.GET_DATA, r.GetDataRequest("/p/c", True))
    read(p, Op.GET_CHILDREN, r.GetChildrenRequest("/p/c", True))
    read(p, Op.GET_CHILDREN, r.GetChildrenRequest("/p", True))
    events = p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/p/c", -1), IP))[2]
    assert ev(events) == [("w", 2, "/p/c"), ("w", 4, "/p")]
    assert p.tree.watches.watch_count() == 0  # one-shot watches are gone


def test_persistent_watch_survives_and_sees_children_changes() -> None:
    p = LocalPipeline()
    create(p, "/p")
    assert read(p, Op.ADD_WATCH, r.AddWatchRequest("/p", 0))[:2] == (0, b"\0\0\0\0")
    assert ev(create(p, "/p/c")) == [("w", 4, "/p")]
    assert ev(create(p, "/p/d")) == [("w", 4, "/p")]
    assert ev(create(p, "/p/c/deep")) == []  # not recursive
    sd = Request(1, 1, Op.SET_DATA, r.SetDataRequest("/p", b"", -1), IP)
    assert ev(p.write(sd)[2]) == [("w", 3, "/p")]
    assert ev(p.write(sd)[2]) == [("w", 3, "/p")]


def test_recursive_watch_sees_descendants_but_not_children_changed() -> None:
    p = LocalPipeline()
    create(p, "/r")
    read(p, Op.ADD_WATCH, r.AddWatchRequest("/r", 1))
    assert ev(create(p, "/r/a")) == [("w", 1, "/r/a")]
    assert ev(create(p, "/r/a/b")) == [("w", 1, "/r/a/b")]
    sd = Request(1, 1, Op.SET_DATA, r.SetDataRequest("/r/a/b", b"", -1), IP)
    assert ev(p.write(sd)[2]) == [("w", 3, "/r/a/b")]
    dl = Request(1, 1, Op.DELETE, r.DeleteRequest("/r/a/b", -1), IP)
    assert ev(p.write(dl)[2]) == [("w", 2, "/r/a/b")]
    assert ev(create(p, "/other")) == []


def test_standard_watch_after_persistent_downgrades_it_as_java() -> None:
    p = LocalPipeline()
    create(p, "/p")
    read(p, Op.ADD_WATCH, r.AddWatchRequest("/p", 0))
    read(p, Op.GET_DATA, r.GetDataRequest("/p", True))
    sd = Request(1, 1, Op.SET_DATA, r.SetDataRequest("/p", b"", -1), IP)
    assert ev(p.write(sd)[2]) == [("w", 3, "/p")]
    assert ev(p.write(sd)[2]) == []  # data table mode became one-shot


def test_check_and_remove_watches() -> None:
    p = LocalPipeline()
    create(p, "/p")
    read(p, Op.GET_DATA, r.GetDataRequest("/p", True))
    assert read(p, Op.CHECK_WATCHES, r.CheckWatchesRequest("/p", 2))[0] == 0
    assert read(p, Op.CHECK_WATCHES, r.CheckWatchesRequest("/p", 1))[0] == Err.NOWATCHER
    assert read(p, Op.REMOVE_WATCHES, r.RemoveWatchesRequest("/p", 1))[0] == Err.NOWATCHER
    assert read(p, Op.REMOVE_WATCHES, r.RemoveWatchesRequest("/p", 3)) == (0, b"", [])
    assert read(p, Op.CHECK_WATCHES, r.CheckWatchesRequest("/p", 2))[0] == Err.NOWATCHER
    assert read(p, Op.CHECK_WATCHES, r.CheckWatchesRequest("/p", 9))[0] == Err.MARSHALLINGERROR


def test_remove_watcher_on_connection_close() -> None:
    p = LocalPipeline()
    create(p, "/p")
    read(p, Op.GET_DATA, r.GetDataRequest("/p", True), "c1")
    read(p, Op.ADD_WATCH, r.AddWatchRequest("/", 1), "c1")
    read(p, Op.GET_DATA, r.GetDataRequest("/p", True), "c2")
    assert p.tree.watches.summary() == (2, 2, 3)
    p.tree.watches.remove_watcher("c1")
    assert p.tree.watches.data.recursive == 0
    assert ev(p.write(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/p", b"", -1), IP))[2]) == [
        ("c2", 3, "/p")]


def test_events_filtered_by_watcher_read_permission() -> None:
    bob = digest_auth_ids(b"bob:pw", None)[0]
    auth = {"bob": [bob], "anon": IP}
    p = LocalPipeline(DataTree(watcher_auth=lambda w: auth[w]))
    p.write(Request(1, 1, Op.CREATE, r.CreateRequest("/s", b"", OPEN_ACL_UNSAFE, 0), IP))
    for w in ("bob", "anon"):
        read(p, Op.ADD_WATCH, r.AddWatchRequest("/s", 1), w)
    req = Request(1, 1, Op.CREATE, r.CreateRequest("/s/x", b"", [r.ACL(31, bob)], 0), [bob])
    assert ev(p.write(req)[2]) == [("bob", 1, "/s/x")]


def test_set_watches_relative_zxid_rules() -> None:
    p = LocalPipeline()
    create(p, "/d")           # zxid 1
    create(p, "/c")           # zxid 2
    rz = p.tree.last_processed_zxid
    p.write(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/d", b"1", -1), IP))  # mzxid 3
    create(p, "/c/kid")       # /c pzxid 4
    create(p, "/new")
    sw = r.SetWatches2(rz, ["/d", "/gone", "/new"], ["/new", "/absent"], ["/c", "/gone", "/new"],
                       ["/pers"], ["/rec"])
    err, body, events = read(p, Op.SET_WATCHES2, sw)
    assert (err, body) == (0, b"")
    assert ev(events) == [("w", 3, "/d"), ("w", 2, "/gone"), ("w", 3, "/new"),
                          ("w", 1, "/new"), ("w", 4, "/c"), ("w", 2, "/gone"),
                          ("w", 4, "/new")]
    wm = p.tree.watches
    assert set(wm.data.table) == {"/absent", "/pers", "/rec"}  # only unmissed ones re-registered
    assert set(wm.child.table) == {"/pers", "/rec"} and wm.data.recursive == 1


def test_set_watches_without_changes_registers_everything() -> None:
    p = LocalPipeline()
    create(p, "/d")
    sw = r.SetWatches(p.tree.last_processed_zxid, ["/d"], ["/x"], ["/d"])
    assert read(p, Op.SET_WATCHES, sw) == (0, b"", [])
    assert ev(p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/d", -1), IP))[2]) == [
        ("w", 2, "/d")]


def test_null_path_persistent_watch_twice_is_marshalling_error() -> None:
    # Java's WatcherModeManager.Key.equals calls path.equals: the first null-path persistent
    # watch of a watcher is taken, any later put or remove of that same key throws (seed 501
    # cases 22807 and 47587).
    p = LocalPipeline()
    create(p, "/p")
    assert read(p, Op.ADD_WATCH, r.AddWatchRequest(None, 0))[0] == 0
    assert read(p, Op.ADD_WATCH, r.AddWatchRequest(None, 1))[0] == Err.MARSHALLINGERROR
    assert read(p, Op.ADD_WATCH, r.AddWatchRequest(None, 0), "other")[0] == 0
    sw = r.SetWatches2(0, [], [], [], ["/p", None], ["/q"])
    assert read(p, Op.SET_WATCHES2, sw)[0] == Err.MARSHALLINGERROR
    assert "/p" in p.tree.watches.child.table and "/q" not in p.tree.watches.child.table
    # removeWatches takes the null path out of the path sets, then throws at the mode key
    assert read(p, Op.REMOVE_WATCHES, r.RemoveWatchesRequest(None, 3))[0] == Err.MARSHALLINGERROR
    assert read(p, Op.REMOVE_WATCHES, r.RemoveWatchesRequest(None, 3))[0] == Err.MARSHALLINGERROR
    assert read(p, Op.REMOVE_WATCHES, r.RemoveWatchesRequest(None, 3))[0] == Err.NOWATCHER
    p.tree.watches.remove_watcher("w")  # a closing connection drops them all, no error
    assert "w" not in p.tree.watches.data.by_watcher
