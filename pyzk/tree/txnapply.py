"""The processTxn switch: apply one txn (or a multi's sub-txns) to a DataTree.

Mirrors DataTree.processTxn, including the multi rewrite: once any sub-txn is an error, the
ones before it report OK (0) and the ones after RUNTIMEINCONSISTENCY, and nothing is applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from ..protocol import records as r
from ..protocol.codes import CONTAINER_EPHEMERAL_OWNER, Err, KeeperError, ttl_ephemeral_owner
from ..protocol.jute import JuteError
from ..protocol.opcodes import (
    OP_CHECK,
    OP_CLOSE_SESSION,
    OP_CREATE,
    OP_CREATE2,
    OP_CREATE_CONTAINER,
    OP_CREATE_TTL,
    OP_DELETE,
    OP_DELETE_CONTAINER,
    OP_ERROR,
    OP_MULTI,
    OP_RECONFIG,
    OP_SET_ACL,
    OP_SET_DATA,
    Op,
)

if TYPE_CHECKING:
    from .datatree import DataTree, Event

log = structlog.get_logger("pyzk.tree")


class TxnResult:
    """ProcessTxnResult: err, path, client Stat, sub-results, op type, and watch events."""

    __slots__ = ("err", "path", "stat", "multi", "op", "events", "zxid")

    def __init__(self, op: int, zxid: int, events: list[Event] | None = None) -> None:
        self.err = 0
        self.path: str | None = None
        self.stat: Any = None
        self.multi: list[TxnResult] | None = None
        self.op = op
        self.zxid = zxid
        self.events: list[Event] = events if events is not None else []

    def __repr__(self) -> str:
        return f"TxnResult(op={self.op}, err={self.err}, path={self.path!r}, multi={self.multi})"


# record class of each sub-txn type inside a MultiTxn
SUB_TXN_RECORDS: dict[int, Any] = {
    Op.CREATE: r.CreateTxn, Op.CREATE2: r.CreateTxn, Op.CREATE_TTL: r.CreateTTLTxn,
    Op.CREATE_CONTAINER: r.CreateContainerTxn, Op.DELETE: r.DeleteTxn,
    Op.DELETE_CONTAINER: r.DeleteTxn, Op.SET_DATA: r.SetDataTxn, Op.ERROR: r.ErrorTxn,
    Op.CHECK: r.CheckVersionTxn,
}


def apply_txn(tree: DataTree, hdr: Any, txn: Any, events: list[Event] | None = None) -> TxnResult:
    t = hdr.type
    rc = TxnResult(t, hdr.zxid, events)
    ev = rc.events
    try:
        if t == OP_CREATE or t == OP_CREATE2:
            rc.path = txn.path
            n = tree.create_node(txn.path, txn.data, txn.acl,
                                 hdr.clientId if txn.ephemeral else 0, txn.parentCVersion,
                                 hdr.zxid, hdr.time, ev)
            if t == OP_CREATE2:
                rc.stat = tree.stat_of(n)
        elif t == OP_SET_DATA or t == OP_RECONFIG:
            rc.path = txn.path
            rc.stat = tree.stat_of(tree.set_data(txn.path, txn.data, txn.version, hdr.zxid,
                                                 hdr.time, ev))
        elif t == OP_DELETE or t == OP_DELETE_CONTAINER:
            rc.path = txn.path
            tree.delete_node(txn.path, hdr.zxid, ev)
        elif t == OP_CREATE_TTL:
            rc.path = txn.path
            rc.stat = tree.stat_of(tree.create_node(
                txn.path, txn.data, txn.acl, ttl_ephemeral_owner(txn.ttl), txn.parentCVersion,
                hdr.zxid, hdr.time, ev))
        elif t == OP_CREATE_CONTAINER:
            rc.path = txn.path
            rc.stat = tree.stat_of(tree.create_node(
                txn.path, txn.data, txn.acl, CONTAINER_EPHEMERAL_OWNER, txn.parentCVersion,
                hdr.zxid, hdr.time, ev))
        elif t == OP_SET_ACL:
            rc.path = txn.path
            rc.stat = tree.stat_of(tree.set_acl(txn.path, txn.acl, txn.version))
        elif t == OP_CLOSE_SESSION:
            tree.kill_session(hdr.clientId, hdr.zxid,
                              txn.paths2Delete if txn is not None else None, ev)
        elif t == OP_ERROR:
            rc.err = txn.err
        elif t == OP_CHECK:
            rc.path = txn.path
        elif t == OP_MULTI:
            _apply_multi(tree, hdr, txn, rc)
        # createSession and anything else: nothing to do in the tree
    except KeeperError as e:
        rc.err = int(e.code)
    except JuteError:
        pass  # Java logs the IOException and returns what it has
    except Exception:
        # Prep validated this txn, so this is a bug rather than input. Java's commit thread
        # would stop the server; here the one txn fails and everyone else goes on. The txn
        # is in the log and replay meets the same failure, so restarts rebuild the same tree.
        log.error("Failed to apply txn", session=hex(hdr.clientId), zxid=hex(hdr.zxid),
                  type=t, exc_info=True)
        rc.err = int(Err.MARSHALLINGERROR)
    return rc


def _apply_multi(tree: DataTree, hdr: Any, txn: Any, rc: TxnResult) -> None:
    subs = txn.txns or []
    failed = any(s.type == Op.ERROR for s in subs)
    post_failed = False
    rc.multi = []
    for s in subs:
        cls = SUB_TXN_RECORDS.get(s.type)
        if cls is None:
            raise JuteError(f"Invalid type of op: {s.type}")
        rec = cls.from_bytes(s.data)
        stype = s.type
        if stype == Op.ERROR:
            post_failed = True
        elif failed:
            stype = Op.ERROR
            rec = r.ErrorTxn(Err.RUNTIMEINCONSISTENCY if post_failed else 0)
        sub_hdr = r.TxnHeader(hdr.clientId, hdr.cxid, hdr.zxid, hdr.time, stype)
        sub = apply_txn(tree, sub_hdr, rec, rc.events)
        rc.multi.append(sub)
        if sub.err != 0 and rc.err == 0:
            rc.err = sub.err
