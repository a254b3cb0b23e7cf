"""Second scripted scenario: the protocol's corners, each where a client can reach them.

setWatches/setWatches2 relative to an old zxid (what a reconnecting Java client sends), reconfig
and the config node, SASL on a server without SASL, the readOnly connect flag, malformed bodies of
reads and writes, requests after closeSession, session re-attach and a bad password.
"""

from __future__ import annotations

from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.codes import SET_WATCHES_XID
from pyzk.protocol.opcodes import Op
from tests.integration.rawclient import OPEN_ACL, ConnectionClosed, RawClient

from .transcript import Transcript


def run(host: str, port: int) -> Transcript:
    t = Transcript()

    def client(name: str, read_only: bool | None = False) -> RawClient:
        c = RawClient(host, port)
        s = c.connect(30000, read_only=read_only)
        t.name_session(s.sessionId, name)
        t.note(f"connect {name}", timeOut=s.timeOut, readOnly=s.readOnly)
        return c

    def step(label: str, cli: RawClient, op: int, rec: Any = None, **kw: Any) -> Any:
        try:
            rep = cli.call(op, rec, **kw)
        except ConnectionClosed:
            t.note(label, closed_without_reply=True)
            return None
        t.record(label, op, rep)
        return rep

    a = client("A")
    b = client("B")
    step("create /sw", a, Op.CREATE2, r.CreateRequest("/sw", b"0", OPEN_ACL, 0))
    step("create /sw/x", a, Op.CREATE2, r.CreateRequest("/sw/x", b"x", OPEN_ACL, 0))
    mark = step("mark zxid", a, Op.EXISTS, r.ExistsRequest("/sw", False)).zxid
    step("set /sw", a, Op.SET_DATA, r.SetDataRequest("/sw", b"1", -1))
    step("create /sw/y", a, Op.CREATE2, r.CreateRequest("/sw/y", b"", OPEN_ACL, 0))
    step("delete /sw/x", a, Op.DELETE, r.DeleteRequest("/sw/x", -1))
    # A reconnecting client re-registers with the zxid it last saw: the server fires at once
    # what changed since (data changed, created, deleted, children changed).
    step("setWatches since mark", b, Op.SET_WATCHES,
         r.SetWatches(mark, ["/sw", "/sw/x"], ["/sw/y", "/sw/z"], ["/sw"]),
         xid=SET_WATCHES_XID)
    step("B ping after setWatches", b, Op.PING, xid=-2)
    t.note("B events after setWatches", events=[(e.type, e.path) for e in b.events])
    b.events.clear()
    now = step("now zxid", a, Op.EXISTS, r.ExistsRequest("/sw", False)).zxid
    step("setWatches2 current", b, Op.SET_WATCHES2,
         r.SetWatches2(now, ["/sw"], ["/sw/z"], [], ["/sw/y"], ["/sw"]), xid=SET_WATCHES_XID)
    step("create /sw/z", a, Op.CREATE2, r.CreateRequest("/sw/z", b"", OPEN_ACL, 0))
    step("set /sw/y", a, Op.SET_DATA, r.SetDataRequest("/sw/y", b"y", -1))
    step("set /sw", a, Op.SET_DATA, r.SetDataRequest("/sw", b"2", -1))
    step("B sync", b, Op.SYNC, r.SyncRequest("/sw"))
    t.note("B events after setWatches2", events=[(e.type, e.path) for e in b.events])

    step("getConfig", a, Op.GET_DATA, r.GetDataRequest("/zookeeper/config", True))
    step("reconfig", a, Op.RECONFIG, r.ReconfigRequest(None, None, "server.1=x:1:2", -1))
    step("sasl", a, Op.SASL, r.GetSASLRequest(b"token"))
    step("getChildren /zookeeper", a, Op.GET_CHILDREN, r.GetChildrenRequest("/zookeeper", False))
    step("getData /zookeeper/quota", a, Op.GET_DATA, r.GetDataRequest("/zookeeper/quota", False))
    step("setData /zookeeper/quota", a, Op.SET_DATA, r.SetDataRequest("/zookeeper/quota", b"q", -1))
    step("getACL /zookeeper/config", a, Op.GET_ACL, r.GetACLRequest("/zookeeper/config"))

    ro = client("RO", read_only=True)
    step("read-only client reads", ro, Op.EXISTS, r.ExistsRequest("/sw", False))
    old = client("OLD", read_only=None)
    step("old client reads", old, Op.EXISTS, r.ExistsRequest("/sw", False))

    # Malformed bodies: a truncated read body and a truncated write body.
    bad_read = client("BADREAD")
    step("truncated getData body", bad_read, Op.GET_DATA, b"\x00\x00\x00\x10/s")
    t.note("BADREAD still open", open=not bad_read.is_closed_by_server(0.3))
    bad_write = client("BADWRITE")
    step("truncated create body", bad_write, Op.CREATE, b"\x00\x00\x00\x04/abc")
    if not getattr(bad_write, "_closed_seen", False):
        t.note("BADWRITE still open", open=not bad_write.is_closed_by_server(0.3))
    step("after bad write", a, Op.EXISTS, r.ExistsRequest("/abc", False))

    # Re-attach B's session from a new connection; the old connection is closed.
    sid, pw = b.session.sessionId, b.session.passwd
    b2 = RawClient(host, port)
    s2 = b2.connect(30000, session_id=sid, passwd=pw)
    t.note("reattach B", same=s2.sessionId == sid, timeOut=s2.timeOut)
    t.note("old B closed", closed=b.is_closed_by_server(3.0))
    step("B2 works", b2, Op.EXISTS, r.ExistsRequest("/sw", False))
    bad = RawClient(host, port)
    s3 = bad.connect(30000, session_id=sid, passwd=b"\x01" * 16)
    t.note("session id carries the server id", server_byte=sid >> 56)
    t.note("bad password", sessionId=s3.sessionId, timeOut=s3.timeOut, passwd=s3.passwd.hex())
    t.note("bad password closed", closed=bad.is_closed_by_server(3.0))

    # Java closes the session's connection before it checks a re-attach's password, so B2 is
    # gone; closeSession on a live connection, then re-attaching the closed session fails.
    t.note("B2 closed by the bad-password attempt", closed=b2.is_closed_by_server(3.0))
    b2 = RawClient(host, port)
    b2.connect(30000, session_id=sid, passwd=pw)
    step("close B2", b2, Op.CLOSE_SESSION)
    t.note("B2 closed after closeSession", closed=b2.is_closed_by_server(3.0))
    again = RawClient(host, port)
    s4 = again.connect(30000, session_id=sid, passwd=pw)
    # The session is closed now (the bad-password attempt only closed B2's connection).
    t.note("reattach after bad password", same=s4.sessionId == sid, timeOut=s4.timeOut,
           server_byte=s4.sessionId >> 56)
    try:
        again.call(Op.EXISTS, r.ExistsRequest("/", False), timeout=2.0)
        t.note("request after expired reattach", answered=True)
    except (ConnectionClosed, TimeoutError):
        t.note("request after expired reattach", answered=False)
    for c in (a, ro, old, bad_read, bad_write, bad, again, b, b2):
        c.close()
    return t
