"""FinalRequestProcessor: reply bodies for applied writes, and execution of reads.

write_reply turns a TxnResult into (ReplyHeader err, body); read_request runs a read against
the tree (ACL checks, watch registration, setWatches replay) and returns (err, body, events).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from ..protocol import records as r
from ..protocol.codes import AddWatchMode, Err, EventType, KeeperError, KeeperState, Perms
from ..protocol.multi import encode_multi_response
from ..protocol.opcodes import (
    OP_CREATE,
    OP_CREATE2,
    OP_CREATE_CONTAINER,
    OP_CREATE_TTL,
    OP_ERROR,
    OP_MULTI,
    OP_RECONFIG,
    OP_SET_ACL,
    OP_SET_DATA,
    Op,
)
from ..tree.acl import has_perm, redact_digests, user_name
from ..tree.datatree import DataTree, Event
from ..tree.txnapply import TxnResult
from ..tree.watches import STANDARD, NullPathKey
from ..tree.znode import Znode, child_names
from .request import Request

# Err/EventType members as module globals for the hot paths (see protocol.opcodes' OP_*)
_ERR_MARSHALLINGERROR = Err.MARSHALLINGERROR

_I = struct.Struct(">i")
# GetDataResponse's Stat after the data buffer, packed in one call (Stat field order)
_STAT = struct.Struct(">qqqqiiiqiiq")
_NULL = b"\xff\xff\xff\xff"
_SYNC = KeeperState.SYNC_CONNECTED
_READ, _ADMIN = int(Perms.READ), int(Perms.ADMIN)
_OK_RESPONSE: bytes = r.ErrorResponse.to_bytes(r.ErrorResponse(0))
# Reply encoders with their result type (records are built at run time, so mypy sees Any).
_encode_acl: Callable[[Any], bytes] = r.GetACLResponse.to_bytes
_encode_ephemerals: Callable[[Any], bytes] = r.GetEphemeralsResponse.to_bytes
_encode_who_am_i: Callable[[Any], bytes] = r.WhoAmIResponse.to_bytes
_encode_sync: Callable[[Any], bytes] = r.SyncResponse.to_bytes


class _Marshalling(Exception):
    pass


class _MarshallingAfter(Exception):
    """MARSHALLINGERROR, with the reply body Java had already built (multiRead's response
    holds the results of the ops before the failing one)."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body


# -- writes -------------------------------------------------------------------------------

def write_reply(tree: DataTree, req: Request, hdr: Any, result: TxnResult) -> tuple[int, bytes]:
    if hdr.type == OP_ERROR:
        return result.err, b""  # header only, err from the ErrorTxn
    op = req.op
    err = result.err
    if op == OP_SET_DATA and result.stat is not None:
        return err, _STAT.pack(*result.stat)  # SetDataResponse: just the Stat
    if op == OP_MULTI:
        out = bytearray()
        encode_multi_response([_sub_result(s) for s in result.multi or ()], out)
        return 0, bytes(out)
    if op == OP_CREATE:  # CreateResponse: just the path, a jute ustring
        path = result.path
        if path is None:
            return err, b"\xff\xff\xff\xff"
        b = path.encode("utf-8")
        return err, _I.pack(len(b)) + b
    if result.stat is None:
        # delete, deleteContainer, closeSession, check, createSession: no body (Java's `check`
        # would serialize a null Stat and fail; a header-only reply is the sane reading)
        return err, b""
    if op in (OP_CREATE2, OP_CREATE_TTL, OP_CREATE_CONTAINER):
        return err, r.Create2Response.to_bytes(r.Create2Response(result.path, result.stat))
    if op == OP_SET_DATA:
        return err, r.SetDataResponse.to_bytes(r.SetDataResponse(result.stat))
    if op == OP_SET_ACL:
        return err, r.SetACLResponse.to_bytes(r.SetACLResponse(result.stat))
    if op == OP_RECONFIG:
        # FinalRequestProcessor: GetDataResponse(quorumVerifier.toString(), stat); the config
        # was activated before this apply, so it is the data the txn just wrote.
        cfg = tree.nodes.get("/zookeeper/config")
        data = cfg.data if cfg is not None else b""
        return err, r.GetDataResponse.to_bytes(r.GetDataResponse(data, result.stat))
    return err, b""


def _sub_result(s: TxnResult) -> tuple[int, int, Any]:
    t = s.op
    if t == Op.CHECK:
        return Op.CHECK, 0, None
    if t == Op.CREATE:
        return Op.CREATE, 0, r.CreateResponse(s.path)
    if t in (Op.CREATE2, Op.CREATE_TTL, Op.CREATE_CONTAINER):
        return Op.CREATE2, 0, r.Create2Response(s.path, s.stat)  # CreateResult(path, stat)
    if t in (Op.DELETE, Op.DELETE_CONTAINER):
        return Op.DELETE, 0, None
    if t == Op.SET_DATA:
        return Op.SET_DATA, 0, r.SetDataResponse(s.stat)
    return Op.ERROR, s.err, r.ErrorResponse(s.err)


# -- reads --------------------------------------------------------------------------------

def read_request(tree: DataTree, req: Request) -> tuple[int, bytes, list[Event]]:
    events: list[Event] = []
    try:
        handler = _READS.get(req.op)
        if handler is None or (req.record is None and req.op not in _BODILESS):
            raise _Marshalling()
        body = handler(tree, req, req.record, events)
    except KeeperError as e:
        return int(e.code), b"", events
    except _Marshalling:
        return int(_ERR_MARSHALLINGERROR), b"", events
    except _MarshallingAfter as e:
        return int(_ERR_MARSHALLINGERROR), e.body, events
    return 0, body, events


def _node(tree: DataTree, path: str | None) -> Znode:
    if path is None:
        raise _Marshalling()
    n = tree.nodes.get(path or "/")
    if n is None:
        raise KeeperError(Err.NONODE, path)
    return n


def _read_check(tree: DataTree, n: Znode, perm: int, req: Request, path: str) -> None:
    if n.acl != -1 and not tree.skip_acl:
        if not has_perm(tree.acl_cache.get(n.acl), perm, req.auth):
            raise KeeperError(Err.NOAUTH, path)


def _pack_stat(tree: DataTree, n: Znode) -> bytes:
    ch = n.children
    nc = len(ch) if ch else 0
    d = n.data
    return _STAT.pack(n.czxid, n.mzxid, n.ctime, n.mtime, n.version,
                      (n.cversion * 2 - nc + 0x80000000) % 0x100000000 - 0x80000000,
                      n.aversion, tree.client_owner(n.ephemeral_owner), len(d) if d else 0, nc,
                      n.pzxid)


def _get_data(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    path = rec.path
    n = _node(tree, path)
    _read_check(tree, n, _READ, req, path)
    if rec.watch and req.watcher is not None:
        tree.watches.data.add(path, req.watcher, STANDARD)
    d = n.data
    if d is None:
        return _NULL + _pack_stat(tree, n)
    return _I.pack(len(d)) + d + _pack_stat(tree, n)


def _exists(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    path = rec.path
    if path is None:
        raise _Marshalling()
    if "\0" in path:
        raise KeeperError(Err.BADARGUMENTS, path)
    n = tree.nodes.get(path or "/")
    # No READ check: 3.8.0-3.8.3 (our reference, Debian's 3.8.0) answer exists to anyone;
    # ZOOKEEPER-2590 added the check in 3.8.4.
    # statNode registers the watch before it finds out the node is missing
    if rec.watch and req.watcher is not None:
        tree.watches.data.add(path, req.watcher, STANDARD)
    if n is None:
        raise KeeperError(Err.NONODE, path)
    return _pack_stat(tree, n)


def _children(tree: DataTree, req: Request, rec: Any, with_stat: bool) -> bytes:
    path = rec.path
    n = _node(tree, path)
    _read_check(tree, n, _READ, req, path)
    if rec.watch and req.watcher is not None:
        tree.watches.child.add(path, req.watcher, STANDARD)
    body = _names_memo(n, path)
    return body + _pack_stat(tree, n) if with_stat else body


# Encoded children lists of recently read parents (a Kafka broker's or a Curator recipe's
# getChildren of the same parent again and again), by path: (node, its pzxid, its child
# count, the bytes). A create or delete of a child moves the parent's pzxid to its zxid, which
# only grows while a server serves, and a resync builds new nodes, so an entry is used only
# while its node is the same object with the same pzxid and count. Bounded in entries and size.
_NAMES: dict[str, tuple[Znode, int, int, bytes]] = {}
NAMES_MEMO_LIMIT = 1024
NAMES_MEMO_MAX_BYTES = 4096


def _names_memo(n: Znode, path: str) -> bytes:
    children = n.children
    if not children:
        return b"\0\0\0\0"
    count = len(children)
    hit = _NAMES.get(path)
    if hit is not None and hit[0] is n and hit[1] == n.pzxid and hit[2] == count:
        return hit[3]
    body = _names_vector(children, path)
    if len(body) <= NAMES_MEMO_MAX_BYTES and (hit is not None or len(_NAMES) < NAMES_MEMO_LIMIT):
        _NAMES[path] = (n, n.pzxid, count, body)
    return body


def _names_vector(children: Any, path: str) -> bytes:
    """The children's names (child_names, in the same order) as a jute vector<ustring>: the
    body of GetChildrenResponse, and of GetChildren2Response before its Stat."""
    if not children:
        return b"\0\0\0\0"
    cut = 1 if path in ("/", "") else len(path) + 1
    pack = _I.pack
    out = bytearray(pack(len(children)))
    for c in children:
        b = c[cut:].encode("utf-8")
        out += pack(len(b))
        out += b
    return bytes(out)


def _get_acl(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    path = rec.path
    n = _node(tree, path)
    acl = tree.acl_cache.get(n.acl)
    if not tree.skip_acl and not has_perm(acl, _READ | _ADMIN, req.auth):
        raise KeeperError(Err.NOAUTH, path)
    if not tree.skip_acl and not has_perm(acl, _ADMIN, req.auth):
        acl = redact_digests(acl)  # callers without ADMIN do not see digest hashes
    return _encode_acl(r.GetACLResponse(list(acl), tree.stat_of(n)))


def _all_children(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    path = rec.path
    n = _node(tree, path)
    _read_check(tree, n, _READ, req, path)
    return _I.pack(tree.all_children_number(path))


def _ephemerals(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    paths = tree.get_ephemerals(req.session_id, rec.prefixPath)
    return _encode_ephemerals(r.GetEphemeralsResponse(paths))


def _multi_read(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    # No sub-op leaves a watch, whatever its watch flag: MultiOperationRecord keeps only the
    # path (Op.getData/Op.getChildren), and their toRequestRecord asks with watch false.
    results: list[tuple[int, int, Any]] = []
    for op, sub in rec:
        try:
            if op == Op.GET_CHILDREN:
                n = _node(tree, sub.path)
                _read_check(tree, n, _READ, req, sub.path)
                results.append((op, 0, r.GetChildrenResponse(child_names(n.children,
                                                                         sub.path))))
            elif op == Op.GET_DATA:
                n = _node(tree, sub.path)
                _read_check(tree, n, _READ, req, sub.path)
                results.append((op, 0, r.GetDataResponse(n.data, tree.stat_of(n))))
            else:
                raise _Marshalling()
        except KeeperError as e:
            results.append((Op.ERROR, int(e.code), r.ErrorResponse(int(e.code))))
        except _Marshalling:
            raise _MarshallingAfter(_multi_response(results)) from None
    return _multi_response(results)


def _multi_response(results: list[tuple[int, int, Any]]) -> bytes:
    out = bytearray()
    encode_multi_response(results, out)
    return bytes(out)


def _check_watches(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    if rec.type not in (1, 2, 3) or rec.path is None:
        raise _Marshalling()  # WatcherType.fromInt throws; a null path is a NullPointerException
    try:
        found = tree.watches.contains(rec.path, rec.type, req.watcher)
    except ValueError:
        raise _Marshalling() from None  # see WatchTable.contains: a path without a parent
    if not found:
        raise KeeperError(Err.NOWATCHER, rec.path)
    return b""


def _remove_watches(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    # The server only drops the watch; the client library raises the *WatchRemoved event.
    if rec.type not in (1, 2, 3):
        raise _Marshalling()
    try:
        removed = tree.watches.remove(rec.path, rec.type, req.watcher)
    except NullPathKey:
        raise _Marshalling() from None  # the session's own null-path watch: Java's NPE
    if not removed:
        raise KeeperError(Err.NOWATCHER, rec.path)
    return b""


def _add_watch(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    if rec.mode not in (AddWatchMode.PERSISTENT, AddWatchMode.PERSISTENT_RECURSIVE):
        raise _Marshalling()  # WatcherMode.fromZooDef throws
    if req.watcher is not None:
        try:
            tree.watches.add_persistent(rec.path, req.watcher,
                                        rec.mode == AddWatchMode.PERSISTENT_RECURSIVE)
        except NullPathKey:
            raise _Marshalling() from None  # a second null-path watch: Java's NPE
    return _OK_RESPONSE


def _set_watches(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    """DataTree.setWatches: fire what the client missed since relativeZxid, else re-register."""
    w = req.watcher
    rz = rec.relativeZxid
    nodes = tree.nodes
    wm = tree.watches

    def fire(etype: int, path: str) -> None:
        events.append((w, r.WatcherEvent(etype, _SYNC, path)))

    def paths(v: list[str | None] | None) -> Iterator[str]:
        # Java iterates each list in turn: a null list, or a null path where the node is
        # looked up, throws (NullPointerException -> MARSHALLINGERROR) after every path
        # before it took effect.
        if v is None:
            raise _Marshalling()
        for path in v:
            if path is None:
                raise _Marshalling()
            yield path

    def persistent(v: list[str | None] | None) -> list[str | None]:
        # addWatch takes a null path without looking anything up: a watch that never fires
        # (but see NullPathKey).
        if v is None:
            raise _Marshalling()
        return v

    for path in paths(rec.dataWatches):
        n = nodes.get(path or "/")  # Java's node map aliases "" to the root
        if n is None:
            fire(EventType.NODE_DELETED, path)
        elif n.mzxid > rz:
            fire(EventType.NODE_DATA_CHANGED, path)
        else:
            wm.data.add(path, w)
    for path in paths(rec.existWatches):
        if (path or "/") in nodes:
            fire(EventType.NODE_CREATED, path)
        else:
            wm.data.add(path, w)
    for path in paths(rec.childWatches):
        n = nodes.get(path or "/")
        if n is None:
            fire(EventType.NODE_DELETED, path)
        elif n.pzxid > rz:
            fire(EventType.NODE_CHILDREN_CHANGED, path)
        else:
            wm.child.add(path, w)
    if len(rec) > 4:  # SetWatches2
        try:
            for ppath in persistent(rec.persistentWatches):
                wm.add_persistent(ppath, w, False, child_first=True)
            for ppath in persistent(rec.persistentRecursiveWatches):
                wm.add_persistent(ppath, w, True, child_first=True)
        except NullPathKey:
            raise _Marshalling() from None
    return b""


def _who_am_i(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    infos = [r.ClientInfo(i.scheme, user_name(i)) for i in req.auth]
    return _encode_who_am_i(r.WhoAmIResponse(infos))


def _sync(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    return _encode_sync(r.SyncResponse(rec.path))


def _ping(tree: DataTree, req: Request, rec: Any, events: list[Event]) -> bytes:
    return b""


_BODILESS = frozenset({Op.PING, Op.WHO_AM_I})
_READS: dict[int, Any] = {
    Op.GET_DATA: _get_data,
    Op.EXISTS: _exists,
    Op.GET_CHILDREN: lambda t, q, rec, ev: _children(t, q, rec, False),
    Op.GET_CHILDREN2: lambda t, q, rec, ev: _children(t, q, rec, True),
    Op.GET_ACL: _get_acl,
    Op.GET_ALL_CHILDREN_NUMBER: _all_children,
    Op.GET_EPHEMERALS: _ephemerals,
    Op.MULTI_READ: _multi_read,
    Op.CHECK_WATCHES: _check_watches,
    Op.REMOVE_WATCHES: _remove_watches,
    Op.ADD_WATCH: _add_watch,
    Op.SET_WATCHES: _set_watches,
    Op.SET_WATCHES2: _set_watches,
    Op.WHO_AM_I: _who_am_i,
    Op.SYNC: _sync,
    Op.PING: _ping,
}
