"""The scripted scenario: three clients (A anonymous, B anonymous, C digest-authenticated)
performing successful and failing operations, with watches, ACLs, multi and a session close.

`run(host, port)` returns the Transcript; every step is deterministic given a fresh server.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from tests.integration.rawclient import OPEN_ACL, RawClient

from .transcript import Transcript


def _acl(perms: int, scheme: str, ident: str) -> Any:
    return r.ACL(perms, r.Id(scheme, ident))


def run(host: str, port: int) -> Transcript:
    digest = "carol:" + base64.b64encode(hashlib.sha1(b"carol:pw").digest()).decode()
    t = Transcript()
    clients: dict[str, RawClient] = {}
    for name in ("A", "B", "C"):
        c = RawClient(host, port)
        s = c.connect(30000)
        t.name_session(s.sessionId, name)
        t.note(f"connect {name}", timeOut=s.timeOut, passwd_len=len(s.passwd),
               readOnly=s.readOnly)
        clients[name] = c
    A, B, C = clients["A"], clients["B"], clients["C"]

    def step(label: str, cli: RawClient, op: int, rec: Any = None, **kw: Any) -> Any:
        rep = cli.call(op, rec, **kw)
        t.record(label, op, rep)
        return rep

    def create(label: str, cli: RawClient, path: str, data: bytes | None = b"",
               flags: int = 0, acl: list[Any] | None = None, op: int = Op.CREATE2,
               ttl: int = 0) -> Any:
        acl = OPEN_ACL if acl is None else acl
        rec = (r.CreateTTLRequest(path, data, acl, flags, ttl) if op == Op.CREATE_TTL
               else r.CreateRequest(path, data, acl, flags))
        return step(label, cli, op, rec)

    step("C auth digest", C, Op.AUTH, r.AuthPacket(0, "digest", b"carol:pw"), xid=-4)
    step("whoami C", C, Op.WHO_AM_I)
    step("root before", A, Op.GET_CHILDREN2, r.GetChildren2Request("/", False))
    create("create /d", A, "/d", b"a")
    create("create /d again", A, "/d", b"b")
    create("create with missing parent", A, "/d/x/y")
    create("plain create (opcode 1)", A, "/d/plain", None, op=Op.CREATE)
    step("get null data", A, Op.GET_DATA, r.GetDataRequest("/d/plain", False))
    step("A data watch /d", A, Op.GET_DATA, r.GetDataRequest("/d", True))
    step("B exists watch /d/c", B, Op.EXISTS, r.ExistsRequest("/d/c", True))
    step("B child watch /d", B, Op.GET_CHILDREN, r.GetChildrenRequest("/d", True))
    step("B set bad version", B, Op.SET_DATA, r.SetDataRequest("/d", b"b", 5))
    step("B set /d", B, Op.SET_DATA, r.SetDataRequest("/d", b"b", 0))
    step("A sees data event first", A, Op.EXISTS, r.ExistsRequest("/d", False))
    create("A create /d/c", A, "/d/c", b"c")
    step("B sees created+children", B, Op.GET_DATA, r.GetDataRequest("/d/c", True))
    step("delete non-empty", A, Op.DELETE, r.DeleteRequest("/d", -1))
    step("delete bad version", A, Op.DELETE, r.DeleteRequest("/d/plain", 3))
    step("delete missing", A, Op.DELETE, r.DeleteRequest("/d/nope", -1))
    create("seq 1", A, "/d/s-", flags=2)
    step("delete plain", A, Op.DELETE, r.DeleteRequest("/d/plain", 0))
    create("seq 2", A, "/d/s-", flags=2)
    create("ephemeral seq", A, "/d/es-", flags=3)
    create("ephemeral", A, "/d/e", b"eph", flags=1)
    create("child of ephemeral", A, "/d/e/x")
    step("B watch ephemeral", B, Op.EXISTS, r.ExistsRequest("/d/e", True))
    for label, path in (("trailing slash", "/d/"), ("relative", "d"), ("dot", "/d/./x"),
                        ("dotdot", "/d/../d"), ("double slash", "/d//x"), ("nul", "/d/a\0")):
        create(f"create bad path {label}", A, path)
        step(f"get bad path {label}", A, Op.GET_DATA, r.GetDataRequest(path, False))
    create("bad flags", A, "/d/f", flags=9)
    create("empty acl", A, "/d/noacl", acl=[])
    create("auth acl without auth", B, "/d/authacl", acl=[_acl(31, "auth", "")])
    create("unknown scheme acl", A, "/d/badscheme", acl=[_acl(31, "nosuch", "x")])
    create("bad ip acl", A, "/d/badip", acl=[_acl(31, "ip", "not-an-ip")])
    create("C auth acl", C, "/d/carol", b"k", acl=[_acl(31, "auth", "")])
    step("C getACL own", C, Op.GET_ACL, r.GetACLRequest("/d/carol"))
    create("digest+world-read acl", A, "/acl", b"s",
           acl=[_acl(31, "digest", digest), _acl(1, "world", "anyone")])
    step("B read allowed", B, Op.GET_DATA, r.GetDataRequest("/acl", False))
    step("B set NOAUTH", B, Op.SET_DATA, r.SetDataRequest("/acl", b"x", -1))
    step("B getACL redacted", B, Op.GET_ACL, r.GetACLRequest("/acl"))
    step("C getACL full", C, Op.GET_ACL, r.GetACLRequest("/acl"))
    step("C set allowed", C, Op.SET_DATA, r.SetDataRequest("/acl", b"y", -1))
    step("B get carol NOAUTH", B, Op.GET_DATA, r.GetDataRequest("/d/carol", False))
    step("B create under acl NOAUTH", B, Op.CREATE, r.CreateRequest("/acl/x", b"", OPEN_ACL, 0))
    step("setACL bad version", C, Op.SET_ACL, r.SetACLRequest("/acl", OPEN_ACL, 4))
    step("setACL", C, Op.SET_ACL, r.SetACLRequest("/acl", OPEN_ACL, 0))
    step("B set after setACL", B, Op.SET_DATA, r.SetDataRequest("/acl", b"z", 1))

    def multi(label: str, cli: RawClient, ops: list[tuple[int, Any]], read: bool = False) -> None:
        rep = cli.multi(ops, read=read)
        t.record(label, Op.MULTI_READ if read else Op.MULTI, rep)

    multi("multi ok", A, [
        (Op.CREATE, r.CreateRequest("/m1", None, OPEN_ACL, 1)),
        (Op.SET_DATA, r.SetDataRequest("/m1", b"broker", 0)),
        (Op.CHECK, r.CheckVersionRequest("/d", 1)),
        (Op.CREATE2, r.CreateRequest("/m2", b"", OPEN_ACL, 2)),
        (Op.DELETE, r.DeleteRequest("/d/c", -1)),
    ])
    step("B sees /d/c deleted", B, Op.SYNC, r.SyncRequest("/d"))
    multi("multi fails", A, [
        (Op.CREATE, r.CreateRequest("/m3", b"", OPEN_ACL, 0)),
        (Op.SET_DATA, r.SetDataRequest("/d", b"", 99)),
        (Op.DELETE, r.DeleteRequest("/nope", -1)),
    ])
    step("m3 absent", A, Op.EXISTS, r.ExistsRequest("/m3", False))
    multi("multi NOAUTH", B, [(Op.SET_DATA, r.SetDataRequest("/d/carol", b"", -1))])
    multi("multi check fails", A, [(Op.CHECK, r.CheckVersionRequest("/nope", 0))])
    multi("empty multi", A, [])
    multi("multiRead", B, [(Op.GET_DATA, r.GetDataRequest("/d", False)),
                           (Op.GET_CHILDREN, r.GetChildrenRequest("/nope", False)),
                           (Op.GET_DATA, r.GetDataRequest("/d/carol", False))], read=True)
    step("children2 /d", A, Op.GET_CHILDREN2, r.GetChildren2Request("/d", False))
    step("all children number", A, Op.GET_ALL_CHILDREN_NUMBER,
         r.GetAllChildrenNumberRequest("/d"))
    step("ephemerals A", A, Op.GET_EPHEMERALS, r.GetEphemeralsRequest("/"))
    step("sync", A, Op.SYNC, r.SyncRequest("/d"))
    create("ttl disabled", A, "/ttl", op=Op.CREATE_TTL, flags=5, ttl=1000)
    create("container", A, "/cont", b"c", flags=4, op=Op.CREATE_CONTAINER)
    step("addWatch recursive", B, Op.ADD_WATCH, r.AddWatchRequest("/cont", 1))
    create("container child", A, "/cont/k")
    step("A set /d fires nothing for A", A, Op.SET_DATA, r.SetDataRequest("/d", b"q", -1))
    step("B recursive event", B, Op.SYNC, r.SyncRequest("/"))
    step("checkWatches none", A, Op.CHECK_WATCHES, r.CheckWatchesRequest("/d", 2))
    step("A data watch again", A, Op.GET_DATA, r.GetDataRequest("/d", True))
    step("checkWatches data", A, Op.CHECK_WATCHES, r.CheckWatchesRequest("/d", 2))
    step("removeWatches data", A, Op.REMOVE_WATCHES, r.RemoveWatchesRequest("/d", 2))
    step("removeWatches again", A, Op.REMOVE_WATCHES, r.RemoveWatchesRequest("/d", 2))
    step("system node set", A, Op.SET_DATA, r.SetDataRequest("/zookeeper/config", b"", -1))
    step("system node delete", A, Op.DELETE, r.DeleteRequest("/zookeeper/quota", -1))
    step("/zookeeper children", A, Op.GET_CHILDREN2, r.GetChildren2Request("/zookeeper", False))
    step("A close session", A, Op.CLOSE_SESSION)
    A.close()
    step("B sees ephemerals gone", B, Op.GET_CHILDREN2, r.GetChildren2Request("/d", False))
    step("m1 gone", B, Op.EXISTS, r.ExistsRequest("/m1", False))
    step("root after", B, Op.GET_CHILDREN2, r.GetChildren2Request("/", False))
    step("unknown opcode", C, 999, b"")
    t.note("C closed after unknown opcode", closed=C.is_closed_by_server(5))
    t.note("pending events", B=[(e.type, e.path) for e in B.events],
           C=[(e.type, e.path) for e in C.events])
    B.close_session()
    C.close()
    return t
