"""Auth schemes and every ACL check of Java 3.8.0, table-driven, on pyzk and Java alike.

Each row names the caller's auth state, one operation (sent with the raw client, so null,
empty, oversized and malformed fields reach the server as written) and the outcome observed
on Debian's Java ZooKeeper 3.8.0: (what the operation answered, whether the connection is
still open afterwards, what changed in the row's private subtree). Every row runs on every
server kind of PYZK_TEST_SERVERS, so a row passing on both kinds means pyzk == Java, and the
Java run keeps the literal honest. A row may carry `pending` (a known pyzk difference being
fixed): it becomes a strict xfail on pyzk only, and an XPASS says to drop the `pending`.

Sources read: ZooKeeperServer.processPacket (auth packet) and checkACL; PrepRequestProcessor
(pRequest2Txn, pRequest2TxnCreate, fixupACL); FinalRequestProcessor.processRequest;
DigestAuthenticationProvider, IPAuthenticationProvider, ProviderRegistry, AuthUtil
(release-3.8.0).
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.multi import encode_multi_request
from pyzk.protocol.opcodes import Op
from tests.integration.rawclient import ConnectionClosed, RawClient
from tests.servers import ServerProc, java_available

HOST = "127.0.0.41"
ALT_HOST = "127.0.0.42"
SUPER_PW = "super:secret"
SUPER_DIGEST = "super:" + base64.b64encode(hashlib.sha1(SUPER_PW.encode()).digest()).decode()
SUPER_KEY = "DigestAuthenticationProvider.superDigest"
ALL, READ, WRITE, CREATE, DELETE, ADMIN = 31, 1, 2, 4, 8, 16
U1 = "u1:pw"


def digest_id(user_pw: str) -> str:
    user = user_pw.split(":", 1)[0]
    return user + ":" + base64.b64encode(hashlib.sha1(user_pw.encode()).digest()).decode()


# -- raw encoding (null strings/buffers, any vector count) -----------------------------------

_I = struct.Struct(">i")


def i32(v: int) -> bytes:
    return _I.pack(v)


def ustr(s: str | bytes | None) -> bytes:
    if s is None:
        return i32(-1)
    b = s.encode() if isinstance(s, str) else s
    return i32(len(b)) + b


def acl_bytes(acls: list[tuple[int, str | None, str | bytes | None]],
              count: int | None = None) -> bytes:
    out = i32(len(acls) if count is None else count)
    for perms, scheme, ident in acls:
        out += i32(perms) + ustr(scheme) + ustr(ident)
    return out


def world(perms: int) -> list[tuple[int, str | None, str | None]]:
    return [(perms, "world", "anyone")]


OPEN = world(ALL)


def create_body(path: str, acl: bytes | list[Any] | None = None, flags: int = 0,
                data: bytes | None = b"", ttl: int | None = None) -> bytes:
    a = acl if isinstance(acl, bytes) else acl_bytes(OPEN if acl is None else acl)
    body = ustr(path) + ustr(data) + a + i32(flags)
    if ttl is not None:
        body += struct.pack(">q", ttl)
    return body


# -- the environment of one row --------------------------------------------------------------

# The fixture tree (relative path, ACL, create flags) every row starts from; `super` creates
# it, so nodes whose ACL shuts everybody out still get their children.
TREE: list[tuple[str, list[tuple[int, str | None, str | None]], int]] = [
    ("open", OPEN, 0),
    ("open/c", OPEN, 0),
    ("nr", world(ALL & ~READ), 0),
    ("nr/c", OPEN, 0),
    ("nw", world(ALL & ~WRITE), 0),
    ("nc", world(ALL & ~CREATE), 0),
    ("nd", world(ALL & ~DELETE), 0),
    ("nd/c", OPEN, 0),
    ("na", world(ALL & ~ADMIN), 0),
    ("ro", world(READ), 0),
    ("ro/c", OPEN, 0),
    ("open/locked", world(0), 0),
    ("none", world(0), 0),
    ("dig", [(ALL, "digest", digest_id(U1))], 0),
    ("dig/c", OPEN, 0),
    ("mix", [(READ, "world", "anyone"), (ALL, "digest", digest_id(U1))], 0),
    ("ipn", [(ALL, "ip", HOST)], 0),
    ("ipnet", [(ALL, "ip", "127.0.0.40/31")], 0),
    ("cont", world(ALL & ~DELETE), 4),  # an empty container nobody may delete
    ("ttl", world(ALL & ~DELETE), 5),  # persistent TTL node
]


@dataclass
class Env:
    srv: ServerProc
    admin: RawClient
    base: str
    made: list[RawClient] = field(default_factory=list)

    def p(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def connect(self, source: str = HOST) -> RawClient:
        c = RawClient(self.srv.host, self.srv.port, timeout=10.0, source=source)
        c.connect()
        self.made.append(c)
        return c


class Srv(ServerProc):
    """ServerProc with Java's super digest as the system property it must be."""

    def command(self, cfg_path: Path) -> list[str]:
        cmd = super().command(cfg_path)
        if self.kind == "java":
            cmd[1:1] = [f"-Dzookeeper.{SUPER_KEY}={SUPER_DIGEST}"]
        return cmd


@pytest.fixture(scope="module")
def srv(zk_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """A server with a super digest, reconfigEnabled and extended types (TTL nodes)."""
    if zk_kind == "java" and not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    cfg = {"reconfigEnabled": "true", "extendedTypesEnabled": "true"}
    if zk_kind != "java":
        cfg[SUPER_KEY] = SUPER_DIGEST
    s = Srv(zk_kind, tmp_path_factory.mktemp("authacl"), host=HOST, cfg=cfg)
    try:
        s.start()
        yield s
    finally:
        s.stop()


_seq = iter(range(1_000_000))


@pytest.fixture
def env(srv: ServerProc) -> Iterator[Env]:
    admin = RawClient(srv.host, srv.port, timeout=10.0)
    admin.connect()
    assert admin.auth("digest", SUPER_PW.encode()).err == 0
    e = Env(srv, admin, f"/aa{next(_seq)}-{int(time.time() * 1000) % 100000}")
    assert admin.call(Op.CREATE, create_body(e.base)).err == 0
    for rel, acl, flags in TREE:
        ttl = 3_600_000 if flags == 5 else None
        op = Op.CREATE_TTL if ttl else (Op.CREATE_CONTAINER if flags == 4 else Op.CREATE)
        rep = admin.call(op, create_body(e.p(rel), acl, flags, ttl=ttl))
        assert rep.err == 0, (rel, rep.err)
    yield e
    for c in [*e.made, admin]:
        c.close()


# -- observations ----------------------------------------------------------------------------

def snapshot(env: Env) -> dict[str, tuple[Any, ...]]:
    """Every node under the row's base as (data, version, aversion, ACL), read as super."""
    out: dict[str, tuple[Any, ...]] = {}
    todo = [""]
    while todo:
        rel = todo.pop()
        path = env.p(rel)
        got = env.admin.get(path)
        if got.err:
            continue
        acl = env.admin.call(Op.GET_ACL, r.GetACLRequest(path))
        kids = env.admin.children(path)
        out[rel] = (got.body.data, got.body.stat.version, got.body.stat.aversion,
                    tuple((a.perms, a.id.scheme, a.id.id) for a in acl.body.acl))
        for k in kids.body.children:
            todo.append(f"{rel}/{k}" if rel else k)
    return out


def tree_diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """'+rel' created, '-rel' deleted, 'rel:data' / 'rel:acl' changed."""
    diff = [f"+{k}" for k in after if k not in before]
    diff += [f"-{k}" for k in before if k not in after]
    for k in before.keys() & after.keys():
        b, a = before[k], after[k]
        if b[0] != a[0] or b[1] != a[1]:
            diff.append(f"{k}:data")
        if b[2] != a[2] or b[3] != a[3]:
            diff.append(f"{k}:acl")
    return sorted(diff)


def still_open(c: RawClient) -> str:
    """'open' when the connection answers a whoAmI, else 'closed'."""
    try:
        c.call(Op.WHO_AM_I, timeout=5.0)
    except (ConnectionClosed, OSError):
        return "closed"
    return "open"


# -- actions: (env, actor connection) -> what the server answered ----------------------------

Action = Callable[[Env, RawClient], Any]


def err_of(op: int, body: Callable[[Env], Any]) -> Action:
    def act(env: Env, c: RawClient) -> Any:
        try:
            return c.call(op, body(env)).err
        except ConnectionClosed:
            return "EOF"
    return act


def who(c: RawClient) -> Any:
    rep = c.call(Op.WHO_AM_I)
    return [(i.authScheme, i.user) for i in rep.body.clientInfo]


def auth_then_who(scheme: str | None, cred: bytes | None, raw: bytes | None = None) -> Action:
    """Send one auth packet (xid -4); answer (err, whoAmI list) or (err, 'closed')."""
    def act(env: Env, c: RawClient) -> Any:
        body = raw if raw is not None else i32(0) + ustr(scheme) + ustr(cred)
        try:
            err = c.call(Op.AUTH, body, xid=-4).err
        except (ConnectionClosed, OSError):
            return ("EOF", "closed")
        try:
            return (err, who(c))
        except (ConnectionClosed, OSError):
            return (err, "closed")
    return act


def auths_then_who(*packets: tuple[str, bytes]) -> Action:
    def act(env: Env, c: RawClient) -> Any:
        errs = [c.auth(s, cred).err for s, cred in packets]
        return (errs, who(c))
    return act


def create(rel: str, acl: bytes | list[Any] | None = None, flags: int = 0,
           op: int = Op.CREATE) -> Action:
    ttl = 60_000 if op == Op.CREATE_TTL else None
    return err_of(op, lambda e: create_body(e.p(rel), acl, flags, ttl=ttl))


def delete(rel: str, version: int = -1) -> Action:
    return err_of(Op.DELETE, lambda e: ustr(e.p(rel)) + i32(version))


def delete_container(rel: str, bare: bool = False) -> Action:
    """opcode 20 with a DeleteRequest body, or (bare) the path's bytes alone."""
    return err_of(Op.DELETE_CONTAINER,
                  lambda e: e.p(rel).encode() if bare else ustr(e.p(rel)) + i32(-1))


def set_data(rel: str, version: int = -1) -> Action:
    return err_of(Op.SET_DATA, lambda e: ustr(e.p(rel)) + ustr(b"new") + i32(version))


def set_acl(rel: str, acl: bytes | list[Any], version: int = -1) -> Action:
    return err_of(Op.SET_ACL, lambda e: ustr(e.p(rel)) + (
        acl if isinstance(acl, bytes) else acl_bytes(acl)) + i32(version))


def read(op: int, rel: str) -> Action:
    def body(e: Env) -> bytes:
        b = ustr(e.p(rel))
        return b if op in (Op.GET_ACL, Op.GET_ALL_CHILDREN_NUMBER) else b + b"\0"
    return err_of(op, body)


def get_acl_ids(rel: str) -> Action:
    """getACL's (err, ids) with digest ids as the caller sees them (redacted or not)."""
    def act(env: Env, c: RawClient) -> Any:
        rep = c.call(Op.GET_ACL, r.GetACLRequest(env.p(rel)))
        if rep.err:
            return rep.err
        return [(a.perms, a.id.scheme, a.id.id) for a in rep.body.acl]
    return act


def multi(*ops: Callable[[Env], tuple[int, Any]], read_only: bool = False) -> Action:
    """(err, [(result type, err)]) of a multi / multiRead."""
    def act(env: Env, c: RawClient) -> Any:
        out = bytearray()
        encode_multi_request([op(env) for op in ops], out)
        rep = c.call(Op.MULTI_READ if read_only else Op.MULTI, bytes(out))
        return (rep.err, [(t, e) for t, e, _ in rep.body or ()])
    return act


def multi_raw(body: Callable[[Env], bytes]) -> Action:
    """A multi from raw bytes (null strings inside sub-ops): (err, [(result type, err)])."""
    def act(env: Env, c: RawClient) -> Any:
        rep = c.call(Op.MULTI, body(env))
        return (rep.err, [(t, e) for t, e, _ in rep.body or ()])
    return act


def create_then_acl(rel: str, acl: list[Any]) -> Action:
    """create, then the ACL as stored (read back as super): (err, ids) or err."""
    def act(env: Env, c: RawClient) -> Any:
        err = c.call(Op.CREATE, create_body(env.p(rel), acl)).err
        if err:
            return err
        rep = env.admin.call(Op.GET_ACL, r.GetACLRequest(env.p(rel)))
        return [(a.perms, a.id.scheme, a.id.id) for a in rep.body.acl]
    return act


def m_create(rel: str) -> Callable[[Env], tuple[int, Any]]:
    return lambda e: (Op.CREATE, r.CreateRequest(e.p(rel), b"", [r.ACL(ALL, r.Id(
        "world", "anyone"))], 0))


def m_check(rel: str) -> Callable[[Env], tuple[int, Any]]:
    return lambda e: (Op.CHECK, r.CheckVersionRequest(e.p(rel), -1))


def m_set(rel: str) -> Callable[[Env], tuple[int, Any]]:
    return lambda e: (Op.SET_DATA, r.SetDataRequest(e.p(rel), b"m", -1))


def m_delete(rel: str) -> Callable[[Env], tuple[int, Any]]:
    return lambda e: (Op.DELETE, r.DeleteRequest(e.p(rel), -1))


def m_get(rel: str) -> Callable[[Env], tuple[int, Any]]:
    return lambda e: (Op.GET_DATA, r.GetDataRequest(e.p(rel), False))


def m_kids(rel: str) -> Callable[[Env], tuple[int, Any]]:
    return lambda e: (Op.GET_CHILDREN, r.GetChildrenRequest(e.p(rel), False))


def reconfig() -> Action:
    return err_of(Op.RECONFIG, lambda e: r.ReconfigRequest(None, None, "server.1=" + HOST
                                                           + ":2888:3888;2181", -1))


def ephemerals(prefix_rel: str) -> Action:
    """getEphemerals after creating one ephemeral under `nr` (no READ for anybody but super)."""
    def act(env: Env, c: RawClient) -> Any:
        assert c.call(Op.CREATE, create_body(env.p("nr/eph"), flags=1)).err == 0
        rep = c.call(Op.GET_EPHEMERALS, r.GetEphemeralsRequest(env.p(prefix_rel)))
        if rep.err:
            return rep.err
        return sorted(p[len(env.base):] for p in rep.body.ephemerals)
    return act


def watch_then(register: Callable[[Env, RawClient], int], wtype: int, op: int) -> Action:
    """Register a watch with `register` (its err is part of the answer), then checkWatches
    (17) or removeWatches (18) of type wtype on the same path."""
    def act(env: Env, c: RawClient) -> Any:
        first = register(env, c)
        rep = c.call(op, r.CheckWatchesRequest(env.p("nr"), wtype))
        return (first, rep.err)
    return act


def no_watch(env: Env, c: RawClient) -> int:
    return 0


def exists_watch(env: Env, c: RawClient) -> int:
    return c.exists(env.p("nr"), watch=True).err


def get_watch(env: Env, c: RawClient) -> int:
    return c.get(env.p("nr"), watch=True).err


def kids_watch(env: Env, c: RawClient) -> int:
    return c.children(env.p("nr"), watch=True).err


def add_watch_event(rel: str, mode: int, change: str) -> Action:
    """addWatch (106) on rel, then super changes `change`'s data: (err, events seen)."""
    def act(env: Env, c: RawClient) -> Any:
        err = c.call(Op.ADD_WATCH, r.AddWatchRequest(env.p(rel), mode)).err
        assert env.admin.set(env.p(change), b"changed").err == 0
        try:
            c.wait_events(1, timeout=2.0)
        except TimeoutError:
            pass
        return (err, [(ev.type, ev.path[len(env.base):]) for ev in c.events])
    return act


def exists_watch_event(env: Env, c: RawClient) -> Any:
    """exists-watch on nr (no READ needed), super changes it: is the event delivered?"""
    err = c.exists(env.p("nr"), watch=True).err
    assert env.admin.set(env.p("nr"), b"changed").err == 0
    try:
        c.wait_events(1, timeout=2.0)
    except TimeoutError:
        pass
    return (err, [(ev.type, ev.path[len(env.base):]) for ev in c.events])


def set_watches(rel: str, kind: str) -> Action:
    """setWatches (101), relativeZxid 0, one path: (err, events fired at once)."""
    def act(env: Env, c: RawClient) -> Any:
        lists: dict[str, list[str]] = {"data": [], "exist": [], "child": []}
        lists[kind] = [env.p(rel)]
        rep = c.call(Op.SET_WATCHES, r.SetWatches(0, lists["data"], lists["exist"],
                                                   lists["child"]))
        events = rep.events
        return (rep.err, [(ev.type, ev.path[len(env.base):]) for ev in events])
    return act


# -- the table -------------------------------------------------------------------------------

AUTH_STATES: dict[str, list[tuple[str, bytes]]] = {
    "anon": [],
    "u1": [("digest", U1.encode())],
    "u2": [("digest", b"u2:pw")],
    "super": [("digest", SUPER_PW.encode())],
    "ip": [("ip", b"")],
    "alt": [],  # anonymous, from 127.0.0.42
}


@dataclass(frozen=True)
class Row:
    id: str
    auth: str  # key of AUTH_STATES: what the actor authenticated as before `act`
    act: Action
    expect: tuple[Any, str, list[str]]  # (answer, "open"/"closed" afterwards, tree diff)
    pending: str | None = None  # a pyzk fix pending outside this test's files


def row(id: str, auth: str, act: Action, answer: Any, state: str = "open",
        diff: list[str] | None = None, pending: str | None = None) -> Any:
    return pytest.param(Row(id, auth, act, (answer, state, diff or []), pending), id=id)


ROWS = [
    # --- (a) the auth packet: what it answers, whether the connection survives, whoAmI ------
    row("auth-digest-ok", "anon", auth_then_who("digest", U1.encode()), (0, [('ip', '127.0.0.41'), ('digest', 'u1')])),
    row("auth-digest-null-cred", "anon", auth_then_who("digest", None), (-115, 'closed'), state='closed'),
    row("auth-digest-empty-cred", "anon", auth_then_who("digest", b""), (0, [('ip', '127.0.0.41'), ('digest', '')])),
    row("auth-digest-no-colon", "anon", auth_then_who("digest", b"justuser"), (0, [('ip', '127.0.0.41'), ('digest', 'justuser')])),
    row("auth-digest-many-colons", "anon", auth_then_who("digest", b"a:b:c:d"), (0, [('ip', '127.0.0.41'), ('digest', 'a')])),
    row("auth-digest-colon-first", "anon", auth_then_who("digest", b":pw"), (0, [('digest', ''), ('ip', '127.0.0.41')])),
    row("auth-digest-non-utf8", "anon", auth_then_who("digest", b"\xff\xfeus\xc3er:pw"), (0, [('digest', '\ufffd\ufffdus\ufffder'), ('ip', '127.0.0.41')])),
    row("auth-digest-truncated-utf8", "anon",
        auth_then_who("digest", b"a\xe2\x82:b\xf0\x9f\x98"), (0, [('digest', 'a\ufffd'), ('ip', '127.0.0.41')])),
    row("auth-digest-surrogate-utf8", "anon",
        auth_then_who("digest", b"\xed\xa0\x80x\xc0\xafy:pw"), (0, [('digest', '\ufffdx\ufffd\ufffdy'), ('ip', '127.0.0.41')])),
    row("auth-digest-64k-cred", "anon", auth_then_who("digest", b"big:" + b"x" * 65536), (0, [('ip', '127.0.0.41'), ('digest', 'big')])),
    row("auth-digest-over-maxbuffer", "anon",
        auth_then_who("digest", b"big:" + b"x" * 1_100_000), ('EOF', 'closed'), state='closed'),
    row("auth-digest-super", "anon", auth_then_who("digest", SUPER_PW.encode()), (0, [('super', ''), ('ip', '127.0.0.41'), ('digest', 'super')])),
    row("auth-digest-super-wrong-pw", "anon", auth_then_who("digest", b"super:nope"), (0, [('digest', 'super'), ('ip', '127.0.0.41')])),
    row("auth-digest-twice", "anon", auths_then_who(("digest", b"u1:pw"), ("digest", b"u2:x"),
                                                    ("digest", b"u1:pw")), ([0, 0, 0], [('ip', '127.0.0.41'), ('digest', 'u2'), ('digest', 'u1')])),
    row("auth-ip-null-cred", "anon", auth_then_who("ip", None), (0, [('ip', '127.0.0.41')])),
    row("auth-ip-garbage-cred", "anon", auth_then_who("ip", b"\xff10.0.0.1"), (0, [('ip', '127.0.0.41')])),
    row("auth-ip-alt-source", "alt", auth_then_who("ip", b""), (0, [('ip', '127.0.0.42')])),
    row("auth-world", "anon", auth_then_who("world", b"anyone"), (-115, 'closed'), state='closed'),
    row("auth-super-scheme", "anon", auth_then_who("super", b""), (-115, 'closed'), state='closed'),
    row("auth-sasl-scheme", "anon", auth_then_who("sasl", b"user"), (-115, 'closed'), state='closed'),
    row("auth-x509-plain-port", "anon", auth_then_who("x509", b"CN=client"), (-115, 'closed'), state='closed'),
    row("auth-unknown-scheme", "anon", auth_then_who("nosuch", b"x"), (-115, 'closed'), state='closed'),
    row("auth-uppercase-digest", "anon", auth_then_who("DIGEST", U1.encode()), (-115, 'closed'), state='closed'),
    row("auth-empty-scheme", "anon", auth_then_who("", b"x"), (-115, 'closed'), state='closed'),
    row("auth-null-scheme", "anon", auth_then_who(None, b"x"), (-115, 'closed'), state='closed'),
    row("auth-truncated-packet", "anon", auth_then_who(None, None, raw=i32(0) + i32(10)), ('EOF', 'closed'), state='closed'),
    row("whoami-anon", "anon", lambda e, c: who(c), [('ip', '127.0.0.41')]),
    row("whoami-u1-then-ip", "u1", auths_then_who(("ip", b"")), ([0], [('ip', '127.0.0.41'), ('digest', 'u1')])),
    # --- (b) create family: CREATE on the parent; fixupACL runs before the parent check ------
    row("create-open", "anon", create("open/x"), 0, diff=['+open/x']),
    row("create-no-create-perm", "anon", create("nc/x"), -102),
    row("create2-no-create-perm", "anon", create("nc/x", op=Op.CREATE2), -102),
    row("create-container-no-create-perm", "anon", create("nc/x", flags=4,
                                                          op=Op.CREATE_CONTAINER), -102),
    row("create-ttl-no-create-perm", "anon", create("nc/x", flags=5, op=Op.CREATE_TTL), -102),
    row("create-seq-no-create-perm", "anon", create("nc/x", flags=2), -102),
    row("create-read-only-parent", "anon", create("ro/x"), -102),
    row("create-digest-parent-anon", "anon", create("dig/x"), -102),
    row("create-digest-parent-u1", "u1", create("dig/x"), 0, diff=['+dig/x']),
    row("create-digest-parent-u2", "u2", create("dig/x"), -102),
    row("create-digest-parent-super", "super", create("dig/x"), 0, diff=['+dig/x']),
    row("create-no-perms-super", "super", create("none/x"), 0, diff=['+none/x']),
    row("create-ip-parent-same-ip", "anon", create("ipn/x"), 0, diff=['+ipn/x']),
    row("create-ip-parent-other-ip", "alt", create("ipn/x"), -102),
    row("create-ip-cidr-parent-other-ip", "alt", create("ipnet/x"), -102),
    row("create-missing-parent", "anon", create("gone/x"), -101),
    row("create-acl-empty", "anon", create("open/x", acl=[]), -114),
    row("create-acl-count-minus1", "anon", create("open/x", acl=acl_bytes([], count=-1)), -114),
    row("create-acl-count-minus2", "anon", create("open/x", acl=acl_bytes([], count=-2)), -114),
    row("create-acl-bad-scheme", "anon", create("open/x", acl=[(ALL, "nosuch", "x")]), -114),
    row("create-acl-invalid-before-noauth", "anon",
        create("nc/x", acl=[(ALL, "nosuch", "x")]), -114),
    row("create-acl-auth-anon", "anon", create("open/x", acl=[(ALL, "auth", "")]), -114),
    row("create-acl-auth-ip-only", "ip", create("open/x", acl=[(ALL, "auth", "")]), -114),
    row("create-acl-auth-u1", "u1", create("open/x", acl=[(ALL, "auth", "whatever")]), 0, diff=['+open/x']),
    row("create-acl-auth-super", "super", create("open/x", acl=[(ALL, "auth", "")]), 0, diff=['+open/x']),
    row("create-acl-world-not-anyone", "anon", create("open/x", acl=[(ALL, "world", "x")]),
        -114),
    row("create-acl-world-null-id", "anon", create("open/x", acl=[(ALL, "world", None)]), -5),
    row("create-acl-null-scheme", "anon", create("open/x", acl=[(ALL, None, "x")]), -114),
    row("create-acl-digest-no-colon", "anon", create("open/x", acl=[(ALL, "digest", "u1")]),
        -114),
    row("create-acl-digest-null-id", "anon", create("open/x", acl=[(ALL, "digest", None)]),
        -5),
    row("create-acl-ip-bad", "anon", create("open/x", acl=[(ALL, "ip", "300.1.1.1")]), -114),
    row("create-acl-ip-cidr-33", "anon", create("open/x", acl=[(ALL, "ip", "10.0.0.0/33")]),
        -114),
    row("create-acl-ip-null-id", "anon", create("open/x", acl=[(ALL, "ip", None)]), -5),
    row("create-acl-sasl", "anon", create("open/x", acl=[(ALL, "sasl", "user")]), -114),
    row("create-acl-x509-plain", "anon", create("open/x", acl=[(ALL, "x509", "CN=a")]), -114),
    row("create-acl-super-scheme", "anon", create("open/x", acl=[(ALL, "super", "")]), -114),
    row("create-acl-duplicates", "anon", create("open/x", acl=OPEN + OPEN), 0, diff=['+open/x']),
    # removeDuplicates calls the jute equals (perms, then scheme.equals, then id.equals)
    row("create-acl-null-scheme-after-same-perms", "anon",
        create("open/x", acl=[(ALL, "digest", "a:b"), (ALL, None, "x")]), -5),
    row("create-acl-null-scheme-after-other-perms", "anon",
        create("open/x", acl=[(READ, "digest", "a:b"), (ALL, None, "x")]), -114),
    row("create-acl-null-id-after-same-scheme", "anon",
        create("open/x", acl=[(ALL, "digest", "a:b"), (ALL, "digest", None)]), -5),
    row("create-acl-world-null-id-after-invalid-same-scheme", "anon",
        create("open/x", acl=[(ALL, "world", "x"), (ALL, "world", None)]), -5),
    row("create-acl-world-null-id-after-invalid-other-perms", "anon",
        create("open/x", acl=[(ALL, "world", "x"), (READ, "world", None)]), -114),
    row("create-acl-auth-null-id-u1", "u1", create("open/x", acl=[(ALL, "auth", None)]), 0, diff=['+open/x']),
    row("create-acl-digest-id-surrogate-bytes", "anon",
        create_then_acl("open/x", [(ALL, "digest", b"u\xed\xa0\x80:x")]), [(31, 'digest', 'u\ufffd:x')], diff=['+open/x']),
    row("multi-create-acl-world-null-id", "anon", multi_raw(
        lambda e: i32(Op.CREATE) + b"\0" + i32(-1) + create_body(e.p("open/x"))
        + i32(Op.CREATE) + b"\0" + i32(-1)
        + create_body(e.p("open/y"), acl=[(ALL, "world", None)])
        + i32(-1) + b"\1" + i32(-1)), (-5, [])),
    # --- delete: DELETE on the parent, before the node is even looked up -----------------------
    row("delete-open", "anon", delete("open/c"), 0, diff=['-open/c']),
    row("delete-no-delete-on-parent", "anon", delete("nd/c"), -102),
    row("delete-missing-under-no-delete", "anon", delete("nd/missing"), -102),
    row("delete-read-only-parent", "anon", delete("ro/c"), -102),
    row("delete-node-own-acl-irrelevant", "anon", delete("open/locked"), 0, diff=['-open/locked']),
    row("delete-digest-parent-anon", "anon", delete("dig/c"), -102),
    row("delete-digest-parent-u1", "u1", delete("dig/c"), 0, diff=['-dig/c']),
    row("delete-no-delete-on-parent-super", "super", delete("nd/c"), 0, diff=['-nd/c']),
    row("delete-bad-version-no-perm", "anon", delete("nd/c", version=7), -102),
    # --- deleteContainer (20): Java reads request.request.array(), header included ----------
    row("delete-container-plain-node", "anon", delete_container("open/c"), -8),
    row("delete-container-container", "anon", delete_container("cont"), -8),
    row("delete-container-ttl", "anon", delete_container("ttl"), -8),
    row("delete-container-bare-path-container", "anon",
        delete_container("cont", bare=True), -8),
    row("delete-container-bare-path-plain", "super", delete_container("open/c", bare=True),
        -8),
    row("delete-container-empty-body", "anon", err_of(Op.DELETE_CONTAINER, lambda e: b""),
        -8),
    # --- setData: WRITE on the node -----------------------------------------------------------
    row("set-open", "anon", set_data("open"), 0, diff=['open:data']),
    row("set-no-write", "anon", set_data("nw"), -102),
    row("set-no-write-bad-version", "anon", set_data("nw", version=9), -102),
    row("set-digest-anon", "anon", set_data("dig"), -102),
    row("set-digest-u1", "u1", set_data("dig"), 0, diff=['dig:data']),
    row("set-no-perms-super", "super", set_data("none"), 0, diff=['none:data']),
    row("set-ip-same", "ip", set_data("ipn"), 0, diff=['ipn:data']),
    row("set-ip-other", "alt", set_data("ipn"), -102),
    # --- setACL: ADMIN on the node; fixupACL first ------------------------------------------
    row("setacl-open", "anon", set_acl("open", world(READ)), 0, diff=['open:acl']),
    row("setacl-no-admin", "anon", set_acl("na", OPEN), -102),
    row("setacl-no-admin-bad-version", "anon", set_acl("na", OPEN, version=5), -102),
    row("setacl-bad-version", "anon", set_acl("open", OPEN, version=5), -103),
    row("setacl-empty", "anon", set_acl("open", []), -114),
    row("setacl-empty-no-admin", "anon", set_acl("na", []), -114),
    row("setacl-count-minus1", "anon", set_acl("open", acl_bytes([], count=-1)), -114),
    row("setacl-count-minus2", "anon", set_acl("open", acl_bytes([], count=-2)), -114),
    row("setacl-count-minus100-with-entry", "anon",
        set_acl("open", acl_bytes(OPEN, count=-100)), -114),
    row("setacl-bad-scheme", "anon", set_acl("open", [(ALL, "nosuch", "x")]), -114),
    row("setacl-auth-anon", "anon", set_acl("open", [(ALL, "auth", "")]), -114),
    row("setacl-auth-u1", "u1", set_acl("open", [(ALL, "auth", "")]), 0, diff=['open:acl']),
    row("setacl-world-null-id", "anon", set_acl("open", [(ALL, "world", None)]), -5),
    row("setacl-digest-u1-on-dig", "u1", set_acl("dig", OPEN), 0, diff=['dig:acl']),
    row("setacl-super-on-none", "super", set_acl("none", OPEN), 0, diff=['none:acl']),
    row("setacl-missing", "anon", set_acl("gone", OPEN), -101),
    # --- reads: READ (getACL: READ or ADMIN; exists: none in 3.8.0) --------------------------
    row("getdata-no-read", "anon", read(Op.GET_DATA, "nr"), -102),
    row("getdata-open", "anon", read(Op.GET_DATA, "open"), 0),
    row("getdata-missing", "anon", read(Op.GET_DATA, "gone"), -101),
    row("getdata-no-read-super", "super", read(Op.GET_DATA, "nr"), 0),
    row("getdata-digest-anon", "anon", read(Op.GET_DATA, "dig"), -102),
    row("getdata-digest-u1", "u1", read(Op.GET_DATA, "dig"), 0),
    row("getdata-ip-cidr-same", "anon", read(Op.GET_DATA, "ipnet"), 0),
    row("getdata-ip-cidr-other", "alt", read(Op.GET_DATA, "ipnet"), -102),
    row("getchildren-no-read", "anon", read(Op.GET_CHILDREN, "nr"), -102),
    row("getchildren2-no-read", "anon", read(Op.GET_CHILDREN2, "nr"), -102),
    row("getchildren2-no-perms", "anon", read(Op.GET_CHILDREN2, "none"), -102),
    row("exists-no-read", "anon", read(Op.EXISTS, "nr"), 0),
    row("exists-no-perms", "anon", read(Op.EXISTS, "none"), 0),
    row("getacl-no-read-but-admin", "anon", get_acl_ids("nr"), [(30, 'world', 'anyone')]),
    row("getacl-no-perms", "anon", get_acl_ids("none"), -102),
    row("getacl-read-only-redacted", "anon", get_acl_ids("mix"), [(1, 'world', 'anyone'), (31, 'digest', 'u1:x')]),
    row("getacl-admin-u1-not-redacted", "u1", get_acl_ids("mix"), [(1, 'world', 'anyone'), (31, 'digest', 'u1:iMa4jTJUXtsOZxv2bTb8Lfyby5M=')]),
    row("getacl-digest-anon", "anon", get_acl_ids("dig"), -102),
    row("all-children-number-no-read", "anon", read(Op.GET_ALL_CHILDREN_NUMBER, "nr"), -102),
    row("all-children-number-open", "anon", read(Op.GET_ALL_CHILDREN_NUMBER, "open"), 0),
    # --- multi: check needs READ; any failure rolls every op back ---------------------------
    row("multi-check-no-read", "anon", multi(m_check("nr")), (0, [(-1, -102)])),
    row("multi-check-open", "anon", multi(m_check("open")), (0, [(13, 0)])),
    row("multi-create-then-check-no-read", "anon", multi(m_create("open/x"), m_check("nr")),
        (0, [(-1, 0), (-1, -102)])),
    row("multi-create-then-set-no-write", "anon", multi(m_create("open/x"), m_set("nw")), (0, [(-1, 0), (-1, -102)])),
    row("multi-delete-no-delete-then-create", "anon",
        multi(m_delete("nd/c"), m_create("open/x")), (0, [(-1, -102), (-1, -2)])),
    row("multi-all-allowed", "anon", multi(m_create("open/x"), m_set("open"),
                                           m_delete("open/c"), m_check("ro")), (0, [(1, 0), (5, 0), (2, 0), (13, 0)]), diff=['+open/x', '-open/c', 'open:data']),
    row("multi-super-everything", "super", multi(m_create("none/x"), m_set("nw"),
                                                 m_delete("nd/c"), m_check("nr")), (0, [(1, 0), (5, 0), (2, 0), (13, 0)]), diff=['+none/x', '-nd/c', 'nw:data']),
    row("multiread-mixed", "anon", multi(m_get("nr"), m_get("open"), m_kids("nr"),
                                         m_kids("open"), m_get("gone"), read_only=True), (0, [(-1, -102), (4, 0), (-1, -102), (8, 0), (-1, -101)])),
    row("multiread-u1", "u1", multi(m_get("dig"), m_kids("dig"), read_only=True), (0, [(4, 0), (8, 0)])),
    # --- reconfig (standalone: never reaches the /zookeeper/config ACL check) --------------
    row("reconfig-anon", "anon", reconfig(), -6),
    row("reconfig-super", "super", reconfig(), -6),
    # --- sync, getEphemerals, getAllChildrenNumber: no ACL ----------------------------------
    row("sync-no-read", "anon", err_of(Op.SYNC, lambda e: r.SyncRequest(e.p("none"))), 0),
    row("sync-missing", "anon", err_of(Op.SYNC, lambda e: r.SyncRequest(e.p("gone"))), 0),
    row("getephemerals-under-no-read", "anon", ephemerals("nr"), ['/nr/eph'], diff=['+nr/eph']),
    row("getephemerals-prefix-no-match", "anon", ephemerals("open"), [], diff=['+nr/eph']),
    # --- watches: checkWatches (17) / removeWatches (18) / addWatch (106) / setWatches (101) -
    row("checkwatches-none", "anon", watch_then(no_watch, 2, Op.CHECK_WATCHES), (0, -121)),
    row("checkwatches-exists-watch-no-read", "anon",
        watch_then(exists_watch, 2, Op.CHECK_WATCHES), (0, 0)),
    row("checkwatches-getdata-watch-denied", "anon",
        watch_then(get_watch, 2, Op.CHECK_WATCHES), (-102, -121)),
    row("checkwatches-children-watch-denied", "anon",
        watch_then(kids_watch, 1, Op.CHECK_WATCHES), (-102, -121)),
    row("removewatches-exists-watch-no-read", "anon",
        watch_then(exists_watch, 3, Op.REMOVE_WATCHES), (0, 0)),
    row("removewatches-none", "anon", watch_then(no_watch, 3, Op.REMOVE_WATCHES), (0, -121)),
    row("exists-watch-event-no-read", "anon", exists_watch_event, (0, []), diff=['nr:data']),
    row("addwatch-persistent-no-read", "anon", add_watch_event("nr", 0, "nr"), (0, []), diff=['nr:data']),
    row("addwatch-recursive-child-no-read", "anon", add_watch_event("", 1, "nr"), (0, []), diff=['nr:data']),
    row("addwatch-no-perms-node", "anon", add_watch_event("none", 0, "none"), (0, []), diff=['none:data']),
    row("setwatches-data-no-read", "anon", set_watches("nr", "data"), (0, [(3, '/nr')])),
    row("setwatches-child-no-read", "anon", set_watches("nr", "child"), (0, [(4, '/nr')])),
    row("setwatches-exist-no-read", "anon", set_watches("nr", "exist"), (0, [(1, '/nr')])),
]


@pytest.mark.parametrize("case", ROWS)
def test_row(case: Row, env: Env, srv: ServerProc, request: pytest.FixtureRequest) -> None:
    if srv.kind == "pyzk" and case.pending:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=f"pending: {case.pending}"))
    c = env.connect(ALT_HOST if case.auth == "alt" else HOST)
    for scheme, cred in AUTH_STATES[case.auth]:
        assert c.auth(scheme, cred).err == 0
    before = snapshot(env)
    answer = case.act(env, c)
    state = still_open(c)
    diff = tree_diff(before, snapshot(env))
    assert (answer, state, diff) == case.expect


@pytest.mark.skip(reason="x509 auth needs a TLS client port and client certificates: the "
                  "x509 rows (auth over TLS, x509 ACLs, x509 super user) live in "
                  "tests/integration/test_tls.py; on this plain port x509 is not a "
                  "registered provider (rows auth-x509-plain-port, create-acl-x509-plain)")
def test_x509_over_tls() -> None:
    """Placeholder naming where the x509-over-TLS rows are."""


def test_reconfig_disabled_answers_before_any_acl(zk: ServerProc) -> None:
    """Default config (reconfigEnabled=false): RECONFIGDISABLED (-123) comes first."""
    c = RawClient(zk.host, zk.port, timeout=10.0)
    try:
        c.connect()
        rep = c.call(Op.RECONFIG, r.ReconfigRequest(None, None, "server.1=" + HOST
                                                    + ":2888:3888;2181", -1))
        assert (rep.err, still_open(c)) == (-123, "open")
    finally:
        c.close()
