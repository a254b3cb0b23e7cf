"""PrepRequestProcessor: validate a write against tree + outstanding changes and build its txn.

Every check happens in Java's order so the same request fails with the same code; a failed
write still consumes its zxid and becomes an ErrorTxn (header type -1). Multi ops share one zxid,
and a failure rolls back the multi's change records (rollbackPendingChanges).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from ..protocol import records as r
from ..protocol.codes import (
    CONTAINER_EPHEMERAL_OWNER,
    MAX_TTL,
    CreateMode,
    Err,
    KeeperError,
    MarshallingError,
    Perms,
    ttl_ephemeral_owner,
)
from ..protocol.opcodes import (
    OP_CHECK,
    OP_CLOSE_SESSION,
    OP_CREATE_CONTAINER,
    OP_CREATE_SESSION,
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
from ..tree.acl import check_acl, fixup_acl
from ..tree.datatree import CONFIG_NODE, SPECIAL_PATHS, DataTree
from ..tree.digest import DIGEST_VERSION, digest_of, to_long
from ..tree.paths import is_valid_path
from ..tree.quota import check_quota
from ..tree.znode import Znode
from ..zab.reconfig import ReconfigMarshalling
from .changes import ChangeRecord, Outstanding
from .ratelog import RateLogger
from .request import Request

# Err/EventType members as module globals for the hot paths (see protocol.opcodes' OP_*)
_ERR_BADVERSION = Err.BADVERSION
_ERR_MARSHALLINGERROR = Err.MARSHALLINGERROR
_ERR_NOCHILDRENFOREPHEMERALS = Err.NOCHILDRENFOREPHEMERALS
_ERR_NODEEXISTS = Err.NODEEXISTS
_ERR_NOTEMPTY = Err.NOTEMPTY
_ERR_QUOTAEXCEEDED = Err.QUOTAEXCEEDED
_ERR_UNIMPLEMENTED = Err.UNIMPLEMENTED

log = structlog.get_logger("pyzk.prep")

_tnew = tuple.__new__
_Hdr = r.TxnHeader
_TxnDigest = r.TxnDigest
_CREATE_OPS = frozenset({Op.CREATE, Op.CREATE2, Op.CREATE_CONTAINER, Op.CREATE_TTL})
_MULTI_READ_OPS = frozenset({Op.GET_CHILDREN, Op.GET_DATA})
_CREATE_TTL_REQUEST = r.CreateTTLRequest
_TXN_CLASS: dict[int, Any] = {
    Op.CREATE: r.CreateTxn, Op.CREATE2: r.CreateTxn, Op.CREATE_CONTAINER: r.CreateContainerTxn,
    Op.CREATE_TTL: r.CreateTTLTxn, Op.DELETE: r.DeleteTxn, Op.SET_DATA: r.SetDataTxn,
    Op.CHECK: r.CheckVersionTxn, Op.ERROR: r.ErrorTxn,
}
# CreateMode predicates by flag value (plain ints: enum construction is slow on the hot path)
_EPH_FLAGS = frozenset({int(m) for m in CreateMode if m.ephemeral})
_SEQ_FLAGS = frozenset({int(m) for m in CreateMode if m.sequential})
_TTL_FLAGS = frozenset({int(m) for m in CreateMode if m.ttl})
_CONTAINER_FLAG = int(CreateMode.CONTAINER)
_READ, _WRITE, _CREATE, _DELETE, _ADMIN = (int(Perms.READ), int(Perms.WRITE),
                                           int(Perms.CREATE), int(Perms.DELETE),
                                           int(Perms.ADMIN))
_RTI_BYTES = r.ErrorTxn.to_bytes(r.ErrorTxn(int(Err.RUNTIMEINCONSISTENCY)))


# The request cannot be used (Java: an IOException or runtime exception -> MARSHALLINGERROR).
_Marshalling = MarshallingError


@dataclass
class PrepSettings:
    skip_acl: bool = False
    extended_types: bool = False  # zookeeper.extendedTypesEnabled: createTTL / TTL modes
    super_digest: str | None = None  # used by the auth layer; kept here for one config object
    max_buffer: int = 0xFFFFF
    reconfig_enabled: bool = False
    close_session_txn: bool = True  # zookeeper.closeSessionTxn.enabled (default true in 3.8)
    enforce_quota: bool = False  # zookeeper.enforceQuota: checkQuota on create and setData


def _i32(v: int) -> int:
    return ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def _bad_args(path: str | None) -> KeeperError:
    return KeeperError(Err.BADARGUMENTS, path)


class Prep:
    def __init__(self, tree: DataTree, settings: PrepSettings | None = None) -> None:
        self.tree = tree
        self.settings = settings or PrepSettings()
        self.outstanding = Outstanding()
        # The leader's reconfig context (prepare(rec, zxid) -> QuorumMaj); None elsewhere.
        self.reconfig: Any = None
        # quota_exceeded_error_per_namespace.add (the server's metrics), if any.
        self.on_quota_exceeded: Callable[[str], None] | None = None
        # With local sessions: the error an ephemeral create of this session gets (0 = none):
        # SESSIONEXPIRED unless the session is global, EPHEMERALONLOCALSESSION for one of
        # this server's local sessions that could not be upgraded.
        self.ephemeral_session_error: Callable[[int], int] | None = None
        self.quota_rate_log = RateLogger()

    # -- overlay lookups (getRecordForPath) ---------------------------------------------------

    def _get(self, path: str) -> ChangeRecord | Znode:
        c = self.outstanding.by_path.get(path)
        if c is None:
            n = self.tree.nodes.get(path or "/")  # Java's node map aliases "" to the root
            if n is None:
                raise KeeperError(Err.NONODE, path)
            return n
        if c.deleted:
            raise KeeperError(Err.NONODE, path)
        return c

    def _exists(self, path: str) -> bool:
        c = self.outstanding.by_path.get(path)
        if c is None:
            return (path or "/") in self.tree.nodes
        return not c.deleted

    def _dup(self, rec: ChangeRecord | Znode, path: str, zxid: int,
             acl: list[Any] | None = None) -> ChangeRecord:
        """A change record for rec's path at zxid; `acl`: rec's ACL list when already known."""
        if isinstance(rec, Znode):
            ch = rec.children
            return ChangeRecord(zxid, path, False, rec.version, rec.cversion, rec.aversion,
                                rec.ephemeral_owner, len(ch) if ch else 0,
                                acl if acl is not None else self.tree.acl_cache.get(rec.acl),
                                rec.data, rec.czxid, rec.mzxid, rec.ctime, rec.mtime,
                                rec.pzxid)
        return rec.duplicate(zxid)

    # -- digests (precalculateDigest: the tree digest each prepped txn will leave) ------------

    def _current_digest(self) -> int:
        """getCurrentTreeDigest: the newest change record's, else the applied tree's."""
        q = self.outstanding.queue
        return q[-1].tree_digest if q else self.tree.digest_sum

    def _add_changed(self, c: ChangeRecord, prev: int) -> None:
        """addChangeRecord after an UPDATE/ADD of c (prev: the node's digest before, 0 for a
        new node): c carries its new node digest and the tree digest after it."""
        out = self.outstanding
        if self.tree.digest_enabled:
            d = c.digest = digest_of(c.path, c)
            q = out.queue  # _current_digest, inlined
            c.tree_digest = (q[-1].tree_digest if q else self.tree.digest_sum) - prev + d
        out.add(c)

    def _add_removed(self, path: str, zxid: int, prev: int) -> None:
        """addChangeRecord of a REMOVE (prev: the removed node's digest)."""
        c = ChangeRecord(zxid, path, True)
        if self.tree.digest_enabled:
            c.tree_digest = self._current_digest() - prev
        self.outstanding.add(c)

    def txn_digest(self, hdr: Any) -> Any:
        """The TxnDigest of the txn just prepped (Request.txnDigest): the tree digest once
        it is applied; none for an error txn, whose preparation failed before setTxnDigest."""
        tree = self.tree
        if not tree.digest_enabled or hdr.type == OP_ERROR:
            return None
        q = self.outstanding.queue  # _current_digest, inline (every txn)
        return _tnew(_TxnDigest, (DIGEST_VERSION, to_long(q[-1].tree_digest if q
                                                          else tree.digest_sum)))

    @staticmethod
    def _child_count(rec: ChangeRecord | Znode) -> int:
        if isinstance(rec, Znode):
            return len(rec.children) if rec.children else 0
        return rec.child_count

    def _check(self, rec: ChangeRecord | Znode, perm: int, req: Request,
               path: str) -> list[Any]:
        """checkACL; returns rec's ACL list (for _dup)."""
        acl = self.tree.acl_cache.get(rec.acl) if isinstance(rec, Znode) else (rec.acl or [])
        if not self.settings.skip_acl:
            check_acl(acl, perm, req.auth, False, path)
        return acl

    def _check_quota(self, path: str, last_data: bytes | None, data: bytes | None,
                     create: bool, now_ms: int) -> None:
        """ZooKeeperServer.checkQuota against the committed tree: soft and hard limits
        crossed are rate-logged at WARN; a hard one fails the op with QUOTAEXCEEDED naming
        the quota'd path and counts in quota_exceeded_error_per_namespace."""
        tree = self.tree
        verdict = check_quota(tree.nodes, tree.quota.max_prefix_with_quota, path, last_data,
                              data, create)
        for line in verdict.errors:
            log.error(line)
        for msg in verdict.warnings:
            for line in self.quota_rate_log.rate_limit_log(msg, now_ms):
                log.warning(line)
        if verdict.exceeded is not None:
            if verdict.namespace is not None and self.on_quota_exceeded is not None:
                self.on_quota_exceeded(verdict.namespace)
            raise KeeperError(_ERR_QUOTAEXCEEDED, verdict.exceeded)

    def committed(self, zxid: int) -> None:
        """Forget overlay records of txns applied up to zxid (call after process_txn)."""
        self.outstanding.committed(zxid)

    # -- entry points ---------------------------------------------------------------------

    def prep(self, req: Request, zxid: int, now_ms: int) -> tuple[Any, Any]:
        """Build (TxnHeader, txn) for a write; failures become (type -1 header, ErrorTxn).

        Never raises: anything unexpected while preparing (a body that decoded but cannot be
        used, as a null path inside a multi) becomes a MARSHALLINGERROR error txn with the
        same zxid, as pRequest's catch (Exception) does, and the request's change records
        are dropped. So every zxid handed out is logged, and one client's request cannot
        stop the pipeline."""
        try:
            return self._prep(req, zxid, now_ms)
        except Exception:
            self.outstanding.discard(zxid)
            log.error("Failed to process request", session=hex(req.session_id),
                      opcode=req.op, xid=req.xid, exc_info=True)
            return (_tnew(_Hdr, (req.session_id, req.xid, zxid, now_ms, OP_ERROR)),
                    r.ErrorTxn(int(_ERR_MARSHALLINGERROR)))

    def _prep(self, req: Request, zxid: int, now_ms: int) -> tuple[Any, Any]:
        op = req.op
        if op == OP_MULTI:
            return self._prep_multi(req, zxid, now_ms)
        if op == OP_CLOSE_SESSION:
            return self.close_session_txn(req.session_id, req.xid, zxid, now_ms)
        if op == OP_CREATE_SESSION:
            return self.create_session_txn(req.session_id, req.record, zxid, now_ms, req.xid)
        hdr = _tnew(_Hdr, (req.session_id, req.xid, zxid, now_ms, op))
        try:
            if op == OP_DELETE_CONTAINER:
                # A client's deleteContainer: Java takes the whole request buffer, header
                # bytes included, as the path; the opcode's zero bytes make every such path
                # invalid, so it always fails BADARGUMENTS (only ContainerManager's own
                # requests, delete_container_txn, remove containers).
                raise _bad_args(None)
            if req.record is None:
                raise _Marshalling()
            txn = self._p2txn(op, zxid, now_ms, req, req.record)
        except KeeperError as e:
            return hdr._replace(type=OP_ERROR), r.ErrorTxn(int(e.code))
        except _Marshalling:
            return hdr._replace(type=OP_ERROR), r.ErrorTxn(int(_ERR_MARSHALLINGERROR))
        return hdr, txn

    def create_session_txn(self, session_id: int, timeout_ms: int, zxid: int, now_ms: int,
                           xid: int = 0) -> tuple[Any, Any]:
        return (_tnew(_Hdr, (session_id, xid, zxid, now_ms, Op.CREATE_SESSION)),
                r.CreateSessionTxn(timeout_ms))

    def close_session_txn(self, session_id: int, xid: int, zxid: int,
                          now_ms: int) -> tuple[Any, Any]:
        """CloseSessionTxn listing the session's ephemerals, pending creates/deletes included."""
        es = set(self.tree.ephemerals.get(session_id, ()))
        for c in self.outstanding.queue:
            if c.deleted:
                es.discard(c.path)
            elif c.ephemeral_owner == session_id:
                es.add(c.path)
        paths = sorted(es)
        for p in paths:
            if self.tree.digest_enabled:
                # With digests on Java also records each parent's pzxid change (and not its
                # child count) so that the digest accounts for it.
                parent_path = p[:p.rfind("/")]
                try:
                    parent = self._get(parent_path)
                    node = self._get(p)
                except KeeperError:
                    self.outstanding.add(ChangeRecord(zxid, p, True))
                    continue
                pr = self._dup(parent, parent_path, zxid)
                pr.pzxid = zxid
                self._add_changed(pr, parent.digest)
                self._add_removed(p, zxid, node.digest)
            else:
                self.outstanding.add(ChangeRecord(zxid, p, True))
        hdr = _tnew(_Hdr, (session_id, xid, zxid, now_ms, Op.CLOSE_SESSION))
        return hdr, (r.CloseSessionTxn(paths) if self.settings.close_session_txn else None)

    def delete_container_txn(self, path: str, zxid: int, now_ms: int) -> tuple[Any, Any] | None:
        """ContainerManager's deleteContainer request (session 0, cxid 0), or None when the
        path is no longer an empty node by the overlay's view."""
        try:
            if self._child_count(self._get(path)) > 0:
                return None
        except KeeperError:
            return None
        hdr = _tnew(_Hdr, (0, 0, zxid, now_ms, Op.DELETE_CONTAINER))
        try:
            txn = self._p2txn(Op.DELETE_CONTAINER, zxid, now_ms, None, r.DeleteRequest(path, -1))
        except KeeperError as e:
            return hdr._replace(type=Op.ERROR), r.ErrorTxn(int(e.code))
        return hdr, txn

    # -- multi ----------------------------------------------------------------------------

    def _prep_multi(self, req: Request, zxid: int, now_ms: int) -> tuple[Any, Any]:
        hdr = _tnew(_Hdr, (req.session_id, req.xid, zxid, now_ms, Op.MULTI))
        ops = req.record
        if ops is None:
            return hdr._replace(type=Op.ERROR), r.ErrorTxn(int(Err.MARSHALLINGERROR))
        paths = [rec.path for _, rec in ops]
        if None in paths or ops and ops[0][0] in _MULTI_READ_OPS:
            # getPendingChanges reads every op's path first: a null one is Java's
            # NullPointerException, which pRequest answers MARSHALLINGERROR. So is a write
            # multi of reads: pRequest2Txn sets no txn for a read and serializing the missing
            # txn throws (the decoder already refused reads mixed with writes).
            return hdr._replace(type=Op.ERROR), r.ErrorTxn(int(Err.MARSHALLINGERROR))
        out = self.outstanding
        pending = out.snapshot_for(paths)
        txns: list[Any] = []
        failed = False
        for op, rec in ops:
            if failed:
                txns.append(r.Txn(Op.ERROR, _RTI_BYTES))
                continue
            try:
                txn = self._p2txn(op, zxid, now_ms, req, rec)
                txns.append(r.Txn(op, _TXN_CLASS[op].to_bytes(txn)))
            except KeeperError as e:
                failed = True
                txns.append(r.Txn(Op.ERROR, r.ErrorTxn.to_bytes(r.ErrorTxn(int(e.code)))))
                out.rollback(zxid, pending)
            except _Marshalling:
                out.rollback(zxid, pending)
                return hdr._replace(type=Op.ERROR), r.ErrorTxn(int(Err.MARSHALLINGERROR))
        return hdr, r.MultiTxn(txns)

    # -- pRequest2Txn ---------------------------------------------------------------------

    def _p2txn(self, op: int, zxid: int, time: int, req: Request | None, rec: Any) -> Any:
        if op in _CREATE_OPS:
            assert req is not None
            return self._create(op, zxid, time, req, rec)
        if op == OP_DELETE or op == OP_DELETE_CONTAINER:
            path = rec.path
            if path is None:
                raise _Marshalling()  # Java: NullPointerException -> MARSHALLINGERROR
            slash = path.rfind("/")
            if slash == -1 or "\0" in path or path in SPECIAL_PATHS:
                raise _bad_args(path)
            parent_path = path[:slash]
            if op == OP_DELETE_CONTAINER:
                node = self._get(path)
                if self._child_count(node) > 0:
                    raise KeeperError(_ERR_NOTEMPTY, path)
                if self.tree.owner_type(node.ephemeral_owner) == "normal":
                    raise KeeperError(_ERR_BADVERSION, path)
                parent = self._get(parent_path)
            else:
                assert req is not None
                parent = self._get(parent_path)
                self._check(parent, _DELETE, req, path)
                node = self._get(path)
                if rec.version != -1 and rec.version != node.version:
                    raise KeeperError(_ERR_BADVERSION, path)
                if self._child_count(node) > 0:
                    raise KeeperError(_ERR_NOTEMPTY, path)
            txn = r.DeleteTxn(path)
            pr = self._dup(parent, parent_path, zxid)
            pr.child_count -= 1
            pr.pzxid = zxid
            self._add_changed(pr, parent.digest)
            self._add_removed(path, zxid, node.digest)
            return txn
        assert req is not None
        if op == OP_SET_DATA:
            path = rec.path
            if not is_valid_path(path):
                raise _bad_args(path)
            node = self._get(path)
            acl = self._check(node, _WRITE, req, path)
            if self.settings.enforce_quota and self.tree.quota.trie.paths:
                self._check_quota(path, node.data, rec.data, False, time)
            if rec.version != -1 and rec.version != node.version:
                raise KeeperError(_ERR_BADVERSION, path)
            new_version = _i32(node.version + 1)
            nr = self._dup(node, path, zxid, acl)
            nr.version = new_version
            nr.mtime = time
            nr.mzxid = zxid
            nr.data = rec.data
            self._add_changed(nr, node.digest)
            return _tnew(r.SetDataTxn, (path, rec.data, new_version))
        if op == OP_SET_ACL:
            path = rec.path
            if not is_valid_path(path):
                raise _bad_args(path)
            acl = fixup_acl(path, req.auth, rec.acl)
            node = self._get(path)
            self._check(node, _ADMIN, req, path)
            if rec.version != -1 and rec.version != node.aversion:
                raise KeeperError(_ERR_BADVERSION, path)
            new_version = _i32(node.aversion + 1)
            nr = self._dup(node, path, zxid)
            nr.aversion = new_version
            nr.acl = acl
            self._add_changed(nr, node.digest)
            return r.SetACLTxn(path, acl, new_version)
        if op == OP_CHECK:
            path = rec.path
            if not is_valid_path(path):
                raise _bad_args(path)
            node = self._get(path)
            self._check(node, _READ, req, path)
            if rec.version != -1 and rec.version != node.version:
                raise KeeperError(_ERR_BADVERSION, path)
            return r.CheckVersionTxn(path, _i32(node.version + 1))
        if op == OP_RECONFIG:
            return self._reconfig(zxid, time, req, rec)
        raise KeeperError(_ERR_UNIMPLEMENTED)  # not a txn-building op

    def _reconfig(self, zxid: int, time: int, req: Request, rec: Any) -> Any:
        """The reconfig branch (PrepRequestProcessor, release-3.8.4): disabled, then (leader
        only) the membership checks of pyzk.zab.reconfig.prepare, then WRITE on
        /zookeeper/config; the txn is a SetDataTxn of the new config text, version -1."""
        if not self.settings.reconfig_enabled:
            raise KeeperError(Err.RECONFIGDISABLED)
        ctx = self.reconfig
        if ctx is None:
            # standalone: "reconfiguration currently not supported"
            raise KeeperError(Err.UNIMPLEMENTED, CONFIG_NODE)
        try:
            qv = ctx.prepare(rec, zxid)
        except ReconfigMarshalling:
            raise _Marshalling() from None
        node = self._get(CONFIG_NODE)
        self._check(node, _WRITE, req, CONFIG_NODE)
        data = qv.config_bytes()
        nr = self._dup(node, CONFIG_NODE, zxid)
        nr.version = -1
        nr.mtime = time
        nr.mzxid = zxid
        nr.data = data
        # a NOOP for the digest: /zookeeper/config is outside it (digest 0 before and after)
        self._add_changed(nr, node.digest)
        return r.SetDataTxn(CONFIG_NODE, data, -1)

    def _create(self, op: int, zxid: int, time: int, req: Request, rec: Any) -> Any:
        flags = rec.flags
        path = rec.path
        if op == OP_CREATE_TTL:
            if type(rec) is not _CREATE_TTL_REQUEST:
                # A multi's create header with TTL flags: Java casts its CreateRequest to a
                # CreateTTLRequest (ClassCastException), which fails the whole request.
                raise _Marshalling()
            ttl = rec.ttl
        else:
            ttl = -1
        if not 0 <= flags <= 6:
            raise _bad_args(path)  # CreateMode.fromFlag
        is_ttl = flags in _TTL_FLAGS
        # validateCreateRequest
        if is_ttl and not self.settings.extended_types:
            raise KeeperError(_ERR_UNIMPLEMENTED, path)
        if is_ttl:
            if ttl > MAX_TTL or ttl <= 0:
                raise _bad_args(path)
        elif ttl >= 0:
            raise _bad_args(path)
        if flags in _EPH_FLAGS and self.ephemeral_session_error is not None:
            # checkGlobalSession (local sessions): an ephemeral needs a global session.
            code = self.ephemeral_session_error(req.session_id)
            if code:
                raise KeeperError(Err(code))
        # validatePathForCreate
        if path is None:
            raise _Marshalling()  # validatePathForCreate's path.lastIndexOf: NullPointerException
        slash = path.rfind("/")
        if slash == -1 or "\0" in path:
            raise _bad_args(path)
        parent_path = path[:slash]
        acl = fixup_acl(path, req.auth, rec.acl)
        parent = self._get(parent_path)
        parent_acl = self._check(parent, _CREATE, req, path)
        parent_cversion = parent.cversion
        if flags in _SEQ_FLAGS:
            path = f"{path}{parent_cversion:010d}"
        if not is_valid_path(path):
            raise _bad_args(path)
        if self._exists(path):
            raise KeeperError(_ERR_NODEEXISTS, path)
        if self.tree.owner_type(parent.ephemeral_owner) == "normal":
            raise KeeperError(_ERR_NOCHILDRENFOREPHEMERALS, path)
        new_cversion = _i32(parent_cversion + 1)
        if self.settings.enforce_quota and self.tree.quota.trie.paths:
            self._check_quota(path, None, rec.data, True, time)
        if op == OP_CREATE_TTL and ttl < 0:
            # Only a non-TTL mode gets here with a negative ttl (validateTTL lets it pass):
            # Java logs the CreateTTLTxn, fails to apply it (TTL.toEphemeralOwner) and exits.
            # Refused as a bad ttl at the point Java would have made the txn.
            raise _bad_args(path)
        if op == OP_CREATE_CONTAINER:
            txn = r.CreateContainerTxn(path, rec.data, acl, new_cversion)
        elif op == OP_CREATE_TTL:
            txn = r.CreateTTLTxn(path, rec.data, acl, new_cversion, ttl)
        else:
            txn = _tnew(r.CreateTxn, (path, rec.data, acl, flags in _EPH_FLAGS, new_cversion))
        if flags == _CONTAINER_FLAG:
            owner = CONTAINER_EPHEMERAL_OWNER
        elif is_ttl:
            owner = ttl_ephemeral_owner(ttl)
        elif flags in _EPH_FLAGS:
            owner = req.session_id
        else:
            owner = 0
        pr = self._dup(parent, parent_path, zxid, parent_acl)
        pr.child_count += 1
        pr.cversion = new_cversion
        pr.pzxid = zxid
        self._add_changed(pr, parent.digest)
        # DataTree.createStat: czxid = mzxid = pzxid = zxid, ctime = mtime = time
        self._add_changed(ChangeRecord(zxid, path, False, 0, 0, 0, owner, 0, acl, rec.data,
                                       zxid, zxid, time, time, zxid), 0)
        return txn
