"""Sessions (timeout clamp, expiry, re-attach, bad password), watches (one-shot, ordering,
persistent, recursive, remove/check) and hostile bytes on the client port."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import EventType

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.codes import EventType as Ev
from pyzk.protocol.opcodes import Op
from tests.integration.itest_util import raw
from tests.integration.rawclient import ConnectionClosed, RawClient


@pytest.fixture
def fast(zk_factory):
    """tickTime=200: sessions may last 400..4000 ms."""
    return zk_factory(tickTime="200")


def test_session_timeout_is_clamped_to_2_and_20_ticks(fast, clients) -> None:
    for asked, got in ((100, 400), (1000, 1000), (60000, 4000)):
        c = RawClient(fast.host, fast.port)
        try:
            s = c.connect(asked)
            assert (s.timeOut, len(s.passwd), s.readOnly) == (got, 16, False)
            assert s.sessionId != 0
        finally:
            c.close()
    # kazoo asks for 100 s and still connects (it keeps no record of the negotiated value).
    assert clients(fast, timeout=100.0).connected


def test_expired_session_drops_ephemerals_and_fires_watches(fast, clients) -> None:
    watcher = clients(fast)
    dying = raw(fast, timeout_ms=400)
    assert dying.create("/doomed", b"", flags=1).err == 0
    events: list[Any] = []
    got = threading.Event()

    def on_event(ev: Any) -> None:
        events.append(ev)
        got.set()

    watcher.exists("/doomed", watch=on_event)
    # Stop pinging: the server must expire the session within a few ticks of 400 ms.
    assert got.wait(10), "no NodeDeleted after session expiry"
    assert events[0].type == EventType.DELETED and events[0].path == "/doomed"
    assert watcher.exists("/doomed") is None
    assert dying.is_closed_by_server(5)
    # Re-attaching to the expired session is refused with a zeroed ConnectResponse.
    again = RawClient(fast.host, fast.port)
    try:
        s = again.connect(400, session_id=dying.session.sessionId, passwd=dying.session.passwd)
        assert (s.timeOut, s.sessionId, s.passwd) == (0, 0, b"\0" * 16)
        assert again.is_closed_by_server(5)
    finally:
        again.close()
        dying.close()


def test_session_reattaches_from_another_connection(zk, clients) -> None:
    a = raw(zk, timeout_ms=10000)
    assert a.create("/reattach-eph", b"", flags=1).err == 0
    sid, pw = a.session.sessionId, a.session.passwd
    b = RawClient(zk.host, zk.port)
    k = None
    try:
        s = b.connect(10000, session_id=sid, passwd=pw)
        assert s.sessionId == sid and s.timeOut == 10000 and s.passwd == pw
        # The session moved: the server drops its previous connection.
        assert a.is_closed_by_server(5)
        assert b.exists("/reattach-eph").body.stat.ephemeralOwner == sid
        bad = RawClient(zk.host, zk.port)
        try:
            s = bad.connect(10000, session_id=sid, passwd=b"x" * 16)
            assert (s.timeOut, s.sessionId, s.passwd) == (0, 0, b"\0" * 16)
            assert bad.is_closed_by_server(5)
        finally:
            bad.close()
        k = KazooClient(hosts=zk.address, client_id=(sid, pw), timeout=10.0)
        k.start(timeout=15)
        assert k.client_id[0] == sid
        assert k.exists("/reattach-eph").ephemeralOwner == sid
        assert b.is_closed_by_server(5)
        k.stop()  # closes the session itself
        assert clients(zk).exists("/reattach-eph") is None
    finally:
        if k is not None:
            k.close()
        a.close()
        b.close()


def test_standard_watches_are_one_shot(zk, client: KazooClient, base: str) -> None:
    p = f"{base}/w"
    client.create(p, b"0")
    c = raw(zk)
    try:
        assert c.get(p, watch=True).err == 0
        assert c.children(p, watch=True).err == 0
        assert c.exists(f"{p}/kid", watch=True).err == Err.NONODE  # watch set anyway
        client.set(p, b"1")
        client.set(p, b"2")
        client.create(f"{p}/kid")
        client.create(f"{p}/kid2")
        evs = c.wait_events(3)
        assert [(e.type, e.path) for e in evs] == [
            (Ev.NODE_DATA_CHANGED, p), (Ev.NODE_CREATED, f"{p}/kid"),
            (Ev.NODE_CHILDREN_CHANGED, p)]
        assert all(e.state == 3 for e in evs)
        c.call(Op.SYNC, r.SyncRequest(p))
        c.get(p)
        assert len(c.events) == 3
        # A delete fires data and child watches of the node itself.
        c.get(f"{p}/kid", watch=True)
        c.children(f"{p}/kid", watch=True)
        client.delete(f"{p}/kid")
        assert [(e.type, e.path) for e in c.wait_events(4)[3:]] == [
            (Ev.NODE_DELETED, f"{p}/kid")]
    finally:
        c.close()


def test_watch_event_precedes_the_reply_that_observes_the_change(zk, base: str) -> None:
    p = f"{base}/order"
    a = raw(zk)
    b = raw(zk)
    try:
        a.create(p, b"0")
        assert a.get(p, watch=True).err == 0
        assert b.set(p, b"1").err == 0
        rep = a.get(p)
        assert rep.body.data == b"1"
        assert [(e.type, e.path) for e in rep.events] == [(Ev.NODE_DATA_CHANGED, p)]
        # On the writer's own connection the event also comes before its write's reply.
        assert a.exists(p, watch=True).err == 0
        rep = a.set(p, b"2")
        assert [(e.type, e.path) for e in rep.events] == [(Ev.NODE_DATA_CHANGED, p)]
    finally:
        a.close()
        b.close()


def test_persistent_and_recursive_watches(zk, client: KazooClient, base: str) -> None:
    p = f"{base}/pw"
    client.create(p)
    c = raw(zk)
    try:
        assert c.call(Op.ADD_WATCH, r.AddWatchRequest(p, 0)).body.err == 0
        client.set(p, b"1")
        client.set(p, b"2")
        client.create(f"{p}/a")
        client.create(f"{p}/a/deep")
        assert [(e.type, e.path) for e in c.wait_events(3)] == [
            (Ev.NODE_DATA_CHANGED, p), (Ev.NODE_DATA_CHANGED, p),
            (Ev.NODE_CHILDREN_CHANGED, p)]
        c.call(Op.SYNC, r.SyncRequest(p))
        assert len(c.events) == 3
        # 3.8's WatcherType.fromInt knows only 1..3: the persistent types are a marshalling
        # error (the connection stays up); ANY covers persistent watches.
        assert c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(p, 4)).err == Err.MARSHALLINGERROR
        assert c.call(Op.REMOVE_WATCHES,
                      r.RemoveWatchesRequest(p, 5)).err == Err.MARSHALLINGERROR
        assert c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(p, 3)).err == 0
        assert c.call(Op.REMOVE_WATCHES, r.RemoveWatchesRequest(p, 3)).err == 0
        assert c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(p, 3)).err == Err.NOWATCHER
        assert c.call(Op.ADD_WATCH, r.AddWatchRequest(p, 7)).err == Err.MARSHALLINGERROR

        c.events.clear()
        assert c.call(Op.ADD_WATCH, r.AddWatchRequest(p, 1)).err == 0
        client.set(f"{p}/a/deep", b"x")
        client.create(f"{p}/b")
        client.delete(f"{p}/b")
        client.set(p, b"3")
        # Recursive watches never report NodeChildrenChanged.
        assert [(e.type, e.path) for e in c.wait_events(4)] == [
            (Ev.NODE_DATA_CHANGED, f"{p}/a/deep"), (Ev.NODE_CREATED, f"{p}/b"),
            (Ev.NODE_DELETED, f"{p}/b"), (Ev.NODE_DATA_CHANGED, p)]
        assert c.call(Op.REMOVE_WATCHES, r.RemoveWatchesRequest(p, 3)).err == 0
    finally:
        c.close()


def test_remove_and_check_watches_for_standard_watches(zk, client: KazooClient,
                                                      base: str) -> None:
    p = f"{base}/rw"
    client.create(p)
    c = raw(zk)
    try:
        assert c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(p, 2)).err == Err.NOWATCHER
        c.get(p, watch=True)
        c.children(p, watch=True)
        assert c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(p, 2)).err == 0
        assert c.call(Op.REMOVE_WATCHES, r.RemoveWatchesRequest(p, 2)).err == 0
        assert c.call(Op.REMOVE_WATCHES, r.RemoveWatchesRequest(p, 2)).err == Err.NOWATCHER
        assert c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(p, 1)).err == 0
        assert c.call(Op.REMOVE_WATCHES, r.RemoveWatchesRequest(p, 3)).err == 0
        assert c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(p, 3)).err == Err.NOWATCHER
        client.set(p, b"x")
        client.create(f"{p}/c")
        c.call(Op.SYNC, r.SyncRequest(p))
        c.get(p)
        assert c.events == []  # the server sends no event for a removal
    finally:
        c.close()


def test_kazoo_watch_callbacks_fire(client: KazooClient, base: str) -> None:
    p = f"{base}/kw"
    seen: list[tuple[Any, str]] = []
    done = threading.Event()

    def cb(ev: Any) -> None:
        seen.append((ev.type, ev.path))
        done.set()

    client.exists(p, watch=cb)
    client.create(p)
    assert done.wait(10)
    assert seen == [(EventType.CREATED, p)]


# -- hostile input -------------------------------------------------------------------------

def _still_serving(srv) -> None:
    c = raw(srv)
    try:
        assert c.exists("/zookeeper").err == 0
    finally:
        c.close_session()


def test_oversized_frame_closes_connection(zk_factory) -> None:
    srv = zk_factory(**{"jute.maxbuffer": "4096"})
    c = raw(srv)
    try:
        c.send_raw(struct.pack(">i", 1 << 30))
        assert c.is_closed_by_server(5)
    finally:
        c.close()
    c = raw(srv)
    try:
        c.create("/big", b"")
        with pytest.raises(ConnectionClosed):
            c.set("/big", b"x" * 8000)
    finally:
        c.close()
    c = raw(srv)
    try:
        c.send_raw(struct.pack(">i", -5))
        assert c.is_closed_by_server(5)
    finally:
        c.close()
    _still_serving(srv)


def test_unknown_opcode_gets_unimplemented_then_close(zk) -> None:
    c = raw(zk)
    try:
        rep = c.call(999, b"")
        assert rep.err == Err.UNIMPLEMENTED and rep.xid == 1
        assert c.is_closed_by_server(5)
    finally:
        c.close()
    _still_serving(zk)


@pytest.mark.parametrize("junk", [
    struct.pack(">iii", 8, 1, Op.GET_DATA),  # a request before any ConnectRequest
    struct.pack(">i", 5) + b"hello",  # too short for a ConnectRequest
    b"\x00\x00\x00\x2d" + b"\xff" * 45,  # ConnectRequest-sized garbage
], ids=["request-before-connect", "short-garbage", "sized-garbage"])
def test_garbage_before_connect_closes_connection(zk, junk: bytes) -> None:
    s = socket.create_connection((zk.host, zk.port), timeout=5)
    try:
        s.sendall(junk)
        data = b""
        while True:  # the server answers at most once, then closes
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert len(data) < 100
    finally:
        s.close()
    _still_serving(zk)


def test_four_letter_word_answers_then_closes(zk) -> None:
    s = socket.create_connection((zk.host, zk.port), timeout=5)
    try:
        s.sendall(b"ruok")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        assert data == b"imok"
    finally:
        s.close()
    _still_serving(zk)
