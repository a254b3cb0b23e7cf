"""The server process core: one pipeline prep -> log (group commit) -> apply -> reply.

Everything here runs on the event loop except the log write+fsync, which runs in a worker thread
on a whole batch at a time (group commit: txns arriving during an fsync form the next batch).
Reads execute at once against the applied tree unless the same connection still awaits a write.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from .. import audit
from ..config.model import Config
from ..pipeline import final
from ..pipeline.prep import Prep, PrepSettings
from ..pipeline.request import Request
from ..pipeline.sync_policy import SyncPolicy
from ..protocol import records as r
from ..protocol.codes import Err, KeeperError, KeeperState
from ..protocol.connect import encode_connect_response
from ..protocol.jute import JuteError
from ..protocol.multi import decode_multi
from ..protocol.opcodes import (
    CLIENT_OPS,
    OP_AUTH,
    OP_CLOSE_SESSION,
    OP_CREATE,
    OP_CREATE2,
    OP_CREATE_SESSION,
    OP_ERROR,
    OP_MULTI,
    OP_PING,
    OP_RECONFIG,
    OP_SASL,
    OP_SYNC,
    OP_WHO_AM_I,
    Op,
)
from ..sasl.server import ClientSecurity
from ..session.tracker import SessionTracker
from ..session.upgrade import EPHEMERAL_FLAGS, UPGRADE_OPS, creates_ephemeral
from ..tree.acl import check_acl, fixup_acl
from ..tree.datatree import DataTree, TxnResult
from . import background
from .auth import add_auth_ids, authenticate, client_infos
from .clock import SYSTEM_CLOCK, Clock
from .group_commit import ClientTxn, GroupCommit
from .output import OutputFlusher
from .pending import NO_ORIGIN, Origin, Pending
from .persistence import TxnSnapLog
from .stats import ServerStats
from .write_path import OnCommitted, WritePath

# Err/EventType members as module globals for the hot paths (see protocol.opcodes' OP_*)
_ERR_MARSHALLINGERROR = Err.MARSHALLINGERROR
_ERR_UNIMPLEMENTED = Err.UNIMPLEMENTED

if TYPE_CHECKING:
    from ..metrics import ServerMetrics
    from .connection import ClientConn

log = structlog.get_logger("pyzk.server")

_HDR = r.ReplyHeader
_FRAMED_REPLY_HDR = struct.Struct(">iiqi")  # frame length + ReplyHeader
_MULTI_OPS = frozenset({Op.MULTI, Op.MULTI_READ})
_SERVER_OPS = frozenset({Op.PING, Op.AUTH, Op.SASL, Op.WHO_AM_I, Op.SYNC})
# The record of a write multi with a null path: answered in its turn without a txn (_run_read).
_NULL_PATH_MULTI = object()
_EMPTY_MULTI_RESPONSE = r.MultiHeader.to_bytes(r.MultiHeader(-1, True, -1))
# enableEagerACLCheck: ZooKeeperServer.effectiveACLPerms; ZKDatabase.isSpecialPath.
_EAGER_PERMS: dict[int, int] = {Op.CREATE: 4, Op.CREATE2: 4, Op.DELETE: 8, Op.SET_DATA: 2, Op.SET_ACL: 16}
_SPECIAL_PATHS = frozenset({"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"})


class ZkServer:
    # ReadOnlyServer (pyzk.server.readonly) says True: finishSessionInit's readOnly flag.
    read_only = False

    def __init__(self, config: Config, tree: DataTree, sink: TxnSnapLog,
                 sessions: dict[int, int] | None = None, server_id: int = 0,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self.tree = tree
        # Java delivers a watch event only to connections with READ on the znode.
        tree.watcher_auth = lambda conn: conn.auth
        tree.extended_types = config.extended_types
        tree.skip_acl = config.skip_acl
        self.sink = sink
        self.force_sync: bool = config.force_sync
        self.fsync_warn_ms: int = config.fsync_warning_threshold_ms
        self.tick_ms: int = config.tick_time_ms
        self.min_timeout: int = config.min_session_timeout_ms
        self.max_timeout: int = config.max_session_timeout_ms
        self.prep = Prep(tree, PrepSettings(
            skip_acl=config.skip_acl,
            extended_types=config.extended_types,
            super_digest=config.super_digest,
            max_buffer=config.jute_max_buffer,
            # Standalone Java answers reconfig UNIMPLEMENTED when enabled, else RECONFIGDISABLED
            reconfig_enabled=config.reconfig_enabled,
            enforce_quota=config.enforce_quota,
        ))
        if config.enforce_quota:
            log.info("zookeeper.enforceQuota = true, Quota Enforce enables")
        self.super_digest: str | None = config.super_digest
        # Client SASL and enforce.auth (pyzk.sasl.server): processSasl, enforceAuthentication.
        self.security = ClientSecurity(config.security)
        self.enforce_auth = self.security.settings.enforce_enabled
        # Session ids are seeded from wall time (unique across restarts); expiry runs on
        # elapsed time.
        self.sessions = SessionTracker(self.tick_ms, server_id, clock.wall_ms())
        now = clock.mono_ms()
        for sid, timeout in (sessions or {}).items():
            self.sessions.add(sid, timeout, now)
        self.last_zxid: int = tree.last_processed_zxid
        self.conns: set[ClientConn] = set()
        # globalOutstandingLimit: past it, connections stop being read until replies drain
        # (ZooKeeperServer.shouldThrottle).
        self.outstanding, self.global_limit = 0, config.global_outstanding_limit
        self.throttled: set[ClientConn] = set()
        self.output = OutputFlusher()  # connections' replies, written once per loop turn
        # largeRequestThreshold / largeRequestMaxBytes (ZooKeeperServer.isLargeRequest,
        # checkRequestSize*): bytes of in-flight requests longer than the threshold (-1: off);
        # a frame that would take the total past the max closes its connection.
        self.large_threshold: int = config.large_request_threshold
        self.large_max: int = config.large_request_max_bytes
        self.large_bytes = 0
        self.eager_acl: bool = config.enable_eager_acl_check
        self.owner: dict[int, ClientConn] = {}
        self.stats = ServerStats()
        # digest_mismatches_count (DataTree.reportDigestMismatch): each one from now on, and
        # those found while the tree was loaded once the server starts (a quorum peer swaps
        # in its own metrics before that).
        tree.digests.on_mismatch = self._digest_mismatch
        tree.digests.now_ms = self.clock.mono_ms
        # ZooKeeperServer.updateQuotaExceededMetrics; self.stats is replaced by quorum peers.
        self.prep.on_quota_exceeded = lambda ns: self.stats.metrics.counter_sets[
            "quota_exceeded_error_per_namespace"].add(ns)
        self.serving = True
        # False on a leader with leaderServes=no: Java never hands it to the client port's
        # factory (Leader.lead), so clients and the client port's four-letter words find no
        # server while learners, the pipeline and the AdminServer use it as usual.
        self.on_client_port = True
        # Standalone: this server's own txn log writer (a quorum member's is QuorumPeer.disk).
        self.commits = GroupCommit(sink, self.force_sync, self._fsynced,
                                   policy=SyncPolicy.from_config(config), wall_ms=self.wall_ms)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.on_fatal: Callable[[], None] | None = None
        self.storage = sink  # the same object as sink, under the name views read
        self.metrics: ServerMetrics | None = None  # set when the metrics front end starts
        # Quorum mode: the write path; only a leader expires sessions (LeaderSessionTracker).
        self.writes: WritePath | None = None
        self.leads = True
        # localSessionsEnabled on a quorum member (LocalSessionTracker): sessions this server
        # made and alone tracks; None when off (and always standalone).
        self.local: SessionTracker | None = None
        self.fails_like_standalone = False  # a standalone's worker: pre-txn failures here
        self.on_committed: OnCommitted | None = None  # standalone, to its worker processes
        # audit.enable (pyzk.audit): written requests and ephemerals of ended sessions
        self.audit = audit.provider(config)
        audit.watch_tree(config, tree)

    # -- clocks ---------------------------------------------------------------------------
    def wall_ms(self) -> int:
        """Txn and znode times, container and TTL ages."""
        return self.clock.wall_ms()

    def mono_ms(self) -> int:
        """Session expiry and every other timer."""
        return self.clock.mono_ms()

    # -- lifecycle ------------------------------------------------------------------------
    def _digest_mismatch(self, _zxid: int) -> None:
        self.stats.metrics.counter("digest_mismatches_count").add(1)

    def start(self) -> None:
        self.stats.metrics.counter("digest_mismatches_count").add(
            self.tree.digests.take_unreported())
        self._tasks = [] if self.writes is not None else [self.commits.start("pyzk-commit")]
        if self.local is not None:
            self._tasks.append(asyncio.create_task(background.expire_local_sessions(self),
                                                   name="pyzk-local-expiry"))
        if self.leads:
            self._tasks += [
                asyncio.create_task(background.expire_sessions(self), name="pyzk-expiry"),
                asyncio.create_task(background.expire_containers(self), name="pyzk-containers"),
            ]
        for t in self._tasks:
            t.add_done_callback(self._task_died)
        hours = self.config.autopurge_purge_interval_hours
        if hours > 0:
            self._tasks.append(asyncio.create_task(
                background.purge_periodically(self.sink, hours * 3600), name="pyzk-purge"))

    def _task_died(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping:
            return
        exc = task.exception()
        if exc is not None:
            # A dead pipeline task would wedge every client: fail loudly and stop serving.
            # Client input cannot get here (every request's failure is contained); what can is
            # what stops Java's SyncRequestProcessor too: the txn log cannot be written.
            if isinstance(exc, OSError):
                where = f" ({exc.filename})" if exc.filename else ""
                log.critical("Severe unrecoverable error: cannot write the transaction log; "
                             "stopping", task=task.get_name(),
                             error=f"{exc.strerror or exc}{where}")
            else:
                log.critical("internal task failed; stopping", task=task.get_name(),
                             error=repr(exc), exc_info=exc)
            self.serving = False
            for conn in list(self.conns):
                conn.close()
            if self.on_fatal is not None:
                self.on_fatal()

    async def stop(self) -> None:
        self._stopping = True
        self.serving = False
        for conn in list(self.conns):
            conn.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: PERF203 - shutdown only
                pass

    # -- connection entry points ----------------------------------------------------------
    def on_connect(self, conn: ClientConn, req: r.Record, read_only: bool, old_client: bool) -> None:
        """processConnectRequest: new session, or re-attach by id + password."""
        if not self.serving or not self.on_client_port:
            # NIOServerCnxn: "ZooKeeperServer not running" (a quorum member without a leader,
            # or a leader that does not serve clients).
            log.warning("Close of session 0x0: ZooKeeperServer not running", client=conn.peer)
            conn.close()
            return
        if req.lastZxidSeen > self.tree.last_processed_zxid:
            log.info("refusing session: client has seen a newer zxid",
                     client=conn.peer, client_zxid=hex(req.lastZxidSeen),
                     our_zxid=hex(self.tree.last_processed_zxid))
            conn.close()
            return
        timeout = min(max(req.timeOut, self.min_timeout), self.max_timeout)
        conn.old_client = old_client
        if req.sessionId == 0 and self.local is not None:
            # A local session: no createSession txn, answered at once (CommitProcessor lets
            # a local createSession through to Final).
            sid = self.sessions.new_session_id()
            self.local.add(sid, timeout, self.clock.mono_ms())
            conn.session_id = sid
            conn.timeout_ms = timeout
            self.owner[sid] = conn
            self._finish_session_init(conn, True)
            log.info("local session established", session=hex(sid), timeout=timeout,
                     client=conn.peer)
            return
        if req.sessionId == 0:
            sid = self.sessions.new_session_id()
            self.sessions.add(sid, timeout, self.clock.mono_ms())
            conn.session_id = sid
            conn.timeout_ms = timeout
            self.owner[sid] = conn

            def done(hdr: r.TxnHeaderRecord, result: TxnResult) -> None:
                self._finish_session_init(conn, True)
                log.info("session established", session=hex(sid), timeout=timeout,
                         client=conn.peer)

            if self.writes is not None and self.writes.forwards:
                # Learner.request(createSession): the leader logs it; we answer on COMMIT.
                self.writes.create_session(conn, sid, timeout, Origin(conn, None, done))
                return
            txn = self.prep.create_session_txn(sid, timeout, self.next_zxid(),
                                                 self.clock.wall_ms())
            self.enqueue_txn(txn, Origin(conn, None, done))
            return
        sid = req.sessionId
        # Java closes the connection that currently holds the session before it checks the
        # password (processConnectRequest: closeSession(sessionId, CLIENT_RECONNECT)).
        old = self.owner.get(sid)
        if old is not None and old is not conn:
            old.close()
        local = self.local
        if local is not None and sid in local.sessions:
            # revalidateSession of a local session: this server alone decides.
            valid = (local.check_password(sid, req.passwd)
                     and local.touch(sid, self.clock.mono_ms(), timeout))
            if valid:
                conn.session_id = sid
                conn.timeout_ms = timeout
                self.owner[sid] = conn
            self._finish_session_init(conn, valid)
            return
        if self.writes is not None and self.writes.forwards:
            # Learner.revalidate: only the leader knows whether the session is alive.
            conn.timeout_ms = timeout
            if self.sessions.check_password(sid, req.passwd):
                conn.session_id = sid
                self.writes.revalidate(conn, sid, timeout)
            else:
                self._finish_session_init(conn, False)
            return
        valid = (self.sessions.check_password(sid, req.passwd)
                 and self.sessions.touch(sid, self.clock.mono_ms(), timeout))
        if valid:
            conn.session_id = sid
            conn.timeout_ms = timeout
            self.owner[sid] = conn
        else:
            log.info("invalid session, probably expired", session=hex(sid), client=conn.peer)
        self._finish_session_init(conn, valid)

    def revalidated(self, conn: ClientConn, valid: bool) -> None:
        """The leader's REVALIDATE answer for a re-attaching session (Learner.revalidate)."""
        if valid:
            self.sessions.touch(conn.session_id, self.clock.mono_ms(), conn.timeout_ms)
            self.owner[conn.session_id] = conn
        self._finish_session_init(conn, valid)

    def _finish_session_init(self, conn: ClientConn, valid: bool) -> None:
        sid = conn.session_id if valid else 0
        passwd = self.sessions.password(sid) if valid else b"\0" * 16
        conn.send(encode_connect_response(conn.timeout_ms if valid else 0, sid, passwd,
                                          self.read_only, conn.old_client))
        if valid:
            conn.mark_established()
        else:
            conn.close_after_flush()

    def on_request(self, conn: ClientConn, xid: int, op: int, body: memoryview) -> None:
        self.stats.packets_received += 1
        started = time.monotonic()
        sid = conn.session_id
        clock = self.clock
        local = self.local
        is_local = local is not None and sid in local.sessions
        if is_local:
            assert local is not None
            if not local.touch(sid, clock.mono_ms(), conn.timeout_ms) or \
                    self._local_request(conn, xid, op, body):
                return
        elif not self.sessions.touch(sid, clock.mono_ms(), conn.timeout_ms) and \
                self._untouched_drop(conn, sid, op):
            return
        writes = self.writes
        if writes is not None and not is_local:
            writes.touched(sid, conn.timeout_ms)
        if self.enforce_auth and op != OP_AUTH and op != OP_SASL and \
                not self.security.enforce(conn, xid):
            return
        if op == OP_CREATE_SESSION:
            self._create_session_again(conn, xid, body, clock.wall_ms(), started)
            return
        spec = CLIENT_OPS.get(op)
        if spec is None:
            log.warning("unknown opcode, closing", opcode=op, session=hex(sid), client=conn.peer)
            # UnimplementedRequestProcessor answers with zxid -1, then the connection closes.
            conn.reply_in_turn(xid, -1, _ERR_UNIMPLEMENTED)
            conn.close_when_answered()
            return
        if op == OP_AUTH:
            self._auth(conn, xid, body)
            return
        record: r.Record  # the request, a multi's ops, None, or the JuteError decoding raised
        try:
            if op in _MULTI_OPS:
                record, _ = decode_multi(body)
            elif spec.request is not None:
                record, _ = spec.request.decode(body, 0)
            else:
                record = None
        except JuteError as e:
            log.warning("malformed request body", opcode=op, session=hex(sid), error=str(e))
            record = e
        if op == OP_SASL and (isinstance(record, JuteError) or record.token is None):
            # processSasl reads the body outside the pipeline: an unreadable one is an
            # IOException and a null token a NullPointerException, and either closes the
            # connection without a reply.
            log.warning("closing connection: malformed sasl request", session=hex(sid),
                        client=conn.peer)
            conn.close_when_answered()
            return
        if op == OP_SASL:
            self.security.process_sasl(self, conn, xid, record.token)
            return
        req = Request(sid, xid, op, record, conn.auth, conn)
        if is_local and (op == OP_CREATE or op == OP_CREATE2) and \
                getattr(record, "flags", None) in EPHEMERAL_FLAGS:
            # checkUpgradeSession with upgrading off (an upgrade returned True above).
            req.exception = int(Err.EPHEMERALONLOCALSESSION)
        if self.eager_acl and writes is not None and op in _EAGER_PERMS and \
                not isinstance(record, JuteError):
            err = self._eager_acl_error(req)
            if err:
                conn.reply_in_turn(xid, 0, err)
                return
        if (writes is None or self.fails_like_standalone) and (
                (op == OP_MULTI and type(record) is list and any(rec.path is None for _, rec in record))
                or (op == OP_RECONFIG and isinstance(record, JuteError))):
            # Writes Java fails before their txn header exists, so nothing is logged, and
            # answers -5 at the last processed zxid: a multi with a null path (prep takes a
            # zxid, then getPendingChanges dereferences the path; Java leaves a hole in its
            # log, pyzk does not hand the zxid out; Final sends the empty MultiResponse it had
            # made) and a reconfig whose body cannot be read (decoded before the zxid).
            if op == OP_MULTI:
                req.record = _NULL_PATH_MULTI
            pending = Pending(req, False, started)
            conn.queue.push(pending)
            self.outstanding += 1
            if len(conn.queue) == 1:
                conn.queue.drain(self._run_read, conn.emit_pending)
            return
        if writes is not None and (writes.forwards and spec.write
                                   or op == OP_SYNC and writes.forwards_sync):
            # FollowerRequestProcessor: writes and sync go to the leader as raw bytes; the
            # reply waits for the COMMIT (or the leader's SYNC) in this connection's order.
            pending = Pending(req, True, started)
            conn.queue.push(pending)
            self.outstanding += 1
            if op == OP_CLOSE_SESSION:
                self.sessions.set_closing(sid)
            writes.forward(conn, pending, op, bytes(body))
            return
        if not spec.write and not conn.queue:
            # Nothing of this connection's is ahead of it: answered now, exactly as the
            # queue's drain would, without the queue.
            conn.emit_answer(op, False, started, self._run_read(req))
            return
        pending = Pending(req, spec.write, started)
        conn.queue.push(pending)
        self.outstanding += 1
        if spec.write:
            # The zxid is taken only here, and prep never raises: every zxid handed out
            # reaches the log, as an error txn when the request fails.
            self.last_zxid += 1  # next_zxid(), inline
            now = clock.wall_ms()
            if isinstance(record, JuteError):
                hdr = r.TxnHeader(sid, xid, self.last_zxid, now, OP_ERROR)
                txn: tuple[r.TxnHeaderRecord, r.TxnRecord] = (hdr, r.ErrorTxn(_ERR_MARSHALLINGERROR))
            elif op == OP_CLOSE_SESSION:
                self.sessions.set_closing(sid)
                txn = self.prep.close_session_txn(sid, xid, self.last_zxid, now)
            else:
                txn = self.prep.prep(req, self.last_zxid, now)
            self.enqueue_txn(txn, Origin(conn, pending))

    def _untouched_drop(self, conn: ClientConn, sid: int, op: int) -> bool:
        """The session tracker refused to touch `sid`: True if the request is dropped, as
        Java's submitRequest drops it (MissingSessionException) for a closing session; but
        LearnerSessionTracker.touchSession is true for a global session, so on a learner a
        closing session's write goes to the leader (logged as an error txn, unanswered), and
        without local sessions a session re-attached here is served before its createSession
        is applied here."""
        writes = self.writes
        if sid in self.sessions.sessions:  # closing
            spec = CLIENT_OPS.get(op)
            return not (writes is not None and writes.forwards_closing and spec is not None
                        and spec.write)
        if self.owner.get(sid) is not conn:
            conn.close_when_answered()  # no session any more: nothing else will close it
            return True
        return self.local is not None or writes is None or not writes.forwards

    # -- local sessions ----------------------------------------------------------------------
    def _local_request(self, conn: ClientConn, xid: int, op: int, body: memoryview) -> bool:
        """A request of one of this server's local sessions: closeSession stays here; an
        ephemeral create upgrades the session first (localSessionsUpgradingEnabled,
        QuorumZooKeeperServer.checkUpgradeSession); the rest goes the usual way with the
        session's id, which the leader accepts as another server's local session. True when
        the request was handled here."""
        sid = conn.session_id
        if op == OP_CLOSE_SESSION:
            log.info("Submitting local closeSession request for session", session=hex(sid))
            conn.reply_in_turn(xid, self.tree.last_processed_zxid, 0)
            self.close_local_session(sid)
            return True
        if self.config.local_sessions_upgrading_enabled and op in UPGRADE_OPS and \
                creates_ephemeral(op, body):
            self.upgrade_session(sid)
            self.stats.packets_received -= 1  # counted again as the global request
            self.on_request(conn, xid, op, body)
            return True
        return False

    def close_local_session(self, sid: int) -> None:
        local = self.local
        if local is not None:
            local.remove(sid)
        conn = self.owner.pop(sid, None)
        if conn is not None and conn.session_id == sid:
            conn.close_when_answered()

    def upgrade_session(self, sid: int) -> None:
        """UpgradeableSessionTracker.upgradeSession + makeUpgradeRequest: the session leaves
        the local tracker for the global one, and a createSession for it is logged (through
        the leader on a learner) ahead of the request that needed it."""
        local = self.local
        assert local is not None
        timeout = local.sessions[sid].timeout_ms
        local.remove(sid)
        log.info("Upgrading session", session=hex(sid))
        self.sessions.add(sid, timeout, self.clock.mono_ms())
        writes = self.writes
        if writes is not None and writes.forwards:
            writes.create_session(None, sid, timeout, NO_ORIGIN)  # an upgrade: no connection waits
            return
        txn = self.prep.create_session_txn(sid, timeout, self.next_zxid(), self.clock.wall_ms())
        self.enqueue_txn(txn, NO_ORIGIN)

    def ephemeral_session_error(self, sid: int) -> int:
        """Prep's session check for an ephemeral create while local sessions are on."""
        if sid in self.sessions.sessions:
            return 0
        local = self.local
        if local is not None and sid in local.sessions:
            return int(Err.EPHEMERALONLOCALSESSION)
        return int(Err.SESSIONEXPIRED)

    def _eager_acl_error(self, req: Request) -> int:
        """enableEagerACLCheck (ZooKeeperServer.authWriteRequest, run by the quorum request
        processors only): the committed tree's ACL of the parent (create, delete) or the node
        (setData, setACL) must grant the op's permission and a new ACL list must be valid,
        else the request is answered at once (zxid 0) with no txn; a missing node or an
        unusable path lets the request through to prep."""
        rec = req.record
        path = rec.path
        if path is None:
            return 0
        if req.op in (Op.CREATE, Op.CREATE2, Op.DELETE):
            slash = path.rfind("/")
            if slash == -1 or "\0" in path or path in _SPECIAL_PATHS:
                return 0
            path = "/" if slash == 0 else path[:slash]
        try:
            if req.op in (Op.CREATE, Op.CREATE2, Op.SET_ACL):
                fixup_acl(path, req.auth, rec.acl)
            node = self.tree.nodes.get(path)
            if node is None:
                return 0
            check_acl(self.tree.acl_cache.get(node.acl), _EAGER_PERMS[req.op], req.auth,
                      self.tree.skip_acl, path)
        except KeeperError as e:
            return int(e.code) if e.code in (Err.NOAUTH, Err.INVALIDACL) else 0
        except Exception:  # fixupACL's NullPointerException: prep answers it
            return 0
        return 0

    def _create_session_again(self, conn: ClientConn, xid: int, body: memoryview, now: int,
                              started: float) -> None:
        """createSession (-10) inside an established session, as Java 3.8.0 runs it: prep
        reads a new timeout from the body and logs a CreateSessionTxn for the same session
        (a body shorter than an int is a MARSHALLINGERROR error txn), trackSession puts the
        session's next expiry that far out (its own timeout stays for later touches), and
        Final answers with a second ConnectResponse instead of a reply header."""
        sid = conn.session_id
        req = Request(sid, xid, OP_CREATE_SESSION, None, conn.auth, conn)
        pending = Pending(req, True, started)
        conn.queue.push(pending)
        self.outstanding += 1
        if self.writes is not None and self.writes.forwards:
            # FollowerRequestProcessor forwards it; the leader's prep does the rest.
            if len(body) < 4:
                req.record = JuteError("createSession body too short")
            self.writes.forward(conn, pending, OP_CREATE_SESSION, bytes(body))
            return
        self.last_zxid += 1
        if len(body) < 4:
            req.record = JuteError("createSession body too short")
            txn: tuple[r.TxnHeaderRecord, r.TxnRecord] = (r.TxnHeader(sid, xid, self.last_zxid, now, OP_ERROR),
                                    r.ErrorTxn(_ERR_MARSHALLINGERROR))
        else:
            timeout = int.from_bytes(body[:4], "big", signed=True)
            txn = self.prep.create_session_txn(sid, timeout, self.last_zxid, now, xid)
            s = self.sessions.sessions.get(sid)
            if s is not None:
                own = s.timeout_ms
                self.sessions.touch(sid, self.clock.mono_ms(), timeout)
                s.timeout_ms = own
        self.enqueue_txn(txn, Origin(conn, pending))

    def request_done(self, n: int = 1) -> None:
        self.outstanding -= n
        if self.throttled and self.outstanding <= self.global_limit:
            for conn in self.throttled:
                conn.resume()
            self.throttled.clear()

    def on_close(self, conn: ClientConn) -> None:
        self.conns.discard(conn)
        self.throttled.discard(conn)
        self.tree.watches.remove_watcher(conn)
        if self.owner.get(conn.session_id) is conn:
            del self.owner[conn.session_id]

    # -- reads and server-level ops --------------------------------------------------------
    def _run_read(self, req: Request) -> bytes:
        conn: ClientConn = req.watcher
        op = req.op
        if isinstance(req.record, JuteError):
            return self._reply_bytes(req.xid, _ERR_MARSHALLINGERROR, b"")
        if req.record is _NULL_PATH_MULTI:
            return self._error_with_body(req.xid, _ERR_MARSHALLINGERROR, _EMPTY_MULTI_RESPONSE)
        if op in _SERVER_OPS:
            if op == OP_PING:
                return self._reply_bytes(-2, 0, b"")
            if op == OP_SYNC:
                return self._reply_bytes(req.xid, 0, r.SyncResponse.to_bytes((req.record.path,)))
            if op == OP_WHO_AM_I:
                infos = client_infos(conn.auth)
                return self._reply_bytes(req.xid, 0, r.WhoAmIResponse.to_bytes((infos,)))
            if op == OP_SASL:
                # No SASL server is configured: Java answers OK, zxid 0, a null token.
                out = bytearray(b"\0\0\0\0")
                _HDR.encode((req.xid, 0, 0), out)
                r.SetSASLResponse.encode((None,), out)
                out[0:4] = (len(out) - 4).to_bytes(4, "big")
                return bytes(out)
        try:
            err, body, events = final.read_request(self.tree, req)
        except Exception:
            # FinalRequestProcessor: anything unexpected answers MARSHALLINGERROR.
            log.error("Failed to process read", session=hex(req.session_id), opcode=op,
                      xid=req.xid, exc_info=True)
            return self._reply_bytes(req.xid, _ERR_MARSHALLINGERROR, b"")
        self.stats.record_read(req, err, body)  # read_per_namespace (ops helper)
        for watcher, ev in events:
            watcher.send_event(ev)
        if err and body:
            # Only multiRead: Java sends the MultiResponse built before the failing op.
            return self._error_with_body(req.xid, err, body)
        return self._reply_bytes(req.xid, err, body)

    def _error_with_body(self, xid: int, err: int, body: bytes) -> bytes:
        return _FRAMED_REPLY_HDR.pack(16 + len(body), xid, self.tree.last_processed_zxid,
                                      err) + body

    def _reply_bytes(self, xid: int, err: int, body: bytes) -> bytes:
        """Length prefix + ReplyHeader(xid, lastProcessedZxid, err) + body (none on error)."""
        if err:
            return _FRAMED_REPLY_HDR.pack(16, xid, self.tree.last_processed_zxid, err)
        return _FRAMED_REPLY_HDR.pack(16 + len(body), xid, self.tree.last_processed_zxid,
                                      0) + body

    def _auth(self, conn: ClientConn, xid: int, body: memoryview) -> None:
        try:
            pkt, _ = r.AuthPacket.decode(body, 0)
        except JuteError:
            conn.close_when_answered()
            return
        tls = self.config.tls
        ids = authenticate(pkt.scheme, pkt.auth, conn.peer_ip, self.super_digest,
                           conn.peer_cert_der,
                           tls.x509_super_user if tls is not None else None)
        if ids is None:
            log.warning("authentication failed", scheme=pkt.scheme, session=hex(conn.session_id))
            self.stats.auth_failed += 1
            conn.reply_in_turn(xid, 0, Err.AUTHFAILED)
            conn.close_when_answered()
            return
        add_auth_ids(conn.auth, ids)
        log.info("auth success", scheme=pkt.scheme, session=hex(conn.session_id))
        conn.reply_in_turn(xid, 0, 0)

    # -- the write pipeline ---------------------------------------------------------------
    def next_zxid(self) -> int:
        self.last_zxid += 1
        return self.last_zxid

    def enqueue_txn(self, txn: tuple[r.TxnHeaderRecord, r.TxnRecord], origin: Origin) -> None:
        # Right after prep: the TxnDigest it precalculated for this txn (None for errors).
        digest = self.prep.txn_digest(txn[0])
        if self.writes is not None:
            self.writes.submit(txn[0], txn[1], origin, digest)
            return
        self.commits.add((txn[0], txn[1], digest, origin), self._durable)

    def _durable(self, txns: list[ClientTxn]) -> None:
        """A standalone batch is in the log: apply it, then maybe snapshot."""
        apply = self.apply_committed
        committed = self.on_committed
        for hdr, txn, digest, origin in txns:
            apply(hdr, txn, origin, digest)
            if committed is not None:
                committed(hdr, txn, digest)
        # After this batch's replies are written: taking a snapshot copies the node table.
        asyncio.get_running_loop().call_soon(self.sink.maybe_snapshot, self.tree,
                                             self.sessions.timeouts)

    def _fsynced(self, seconds: float, txns: int) -> None:
        self.stats.record_fsync(seconds, txns)
        if seconds * 1000 > self.fsync_warn_ms:
            log.warning("fsync of the txn log took too long", ms=int(seconds * 1000), txns=txns)

    def _apply(self, hdr: r.TxnHeaderRecord, txn: r.TxnRecord, origin: Origin,
               digest: r.TxnDigestRecord | None) -> None:
        t = hdr.type
        if t == OP_CREATE_SESSION and hdr.clientId not in self.sessions.sessions:
            # A session created through another quorum member (the global session table).
            self.sessions.add(hdr.clientId, txn.timeOut, self.clock.mono_ms())
        tree = self.tree
        result = tree.process_txn(hdr, txn, digest)
        # write_per_namespace, watch fan-out, propagation latency (ops helper)
        self.stats.record_write(hdr, result, tree)
        self.prep.outstanding.committed(hdr.zxid)  # prep.committed, inline
        if result.events:
            for watcher, ev in result.events:
                watcher.send_event(ev)
        if t == OP_CLOSE_SESSION:
            self._session_closed(hdr.clientId)
        if origin.on_applied is not None:
            try:
                origin.on_applied(hdr, result)
            except Exception:
                # A connecting client's follow-up (its held frames) must not stop the
                # pipeline that applies everyone's txns.
                log.error("Failed after applying txn", session=hex(hdr.clientId),
                          zxid=hex(hdr.zxid), exc_info=True)
                if origin.conn is not None:
                    origin.conn.close()
        conn, pending = origin.conn, origin.pending
        if pending is None or conn is None:
            return
        req = pending.req
        if self.audit is not None and not isinstance(req.record, JuteError):
            self.audit.request(req.op, req.record, t, result, req.session_id, req.auth,
                               conn.peer_ip)
        if req.op == OP_CLOSE_SESSION:
            pending.reply = self._reply_bytes(req.xid, 0, b"")
            conn.queue.drain(self._run_read, conn.emit_pending)
            conn.close_answered = True
            conn.close_after_flush()
            return
        if req.op == OP_CREATE_SESSION and t == OP_CREATE_SESSION:
            # Final's createSession: finishSessionInit again, a ConnectResponse, no header.
            sid = conn.session_id
            pending.reply = encode_connect_response(conn.timeout_ms, sid,
                                                    self.sessions.password(sid),
                                                    self.read_only, conn.old_client)
            conn.queue.drain(self._run_read, conn.emit_pending)
            return
        if isinstance(req.record, JuteError):
            err, body = int(_ERR_MARSHALLINGERROR), b""
        elif req.exception:
            err, body = req.exception, b""
        else:
            try:
                err, body = final.write_reply(self.tree, req, hdr, result)
            except Exception:
                log.error("Failed to build reply", session=hex(req.session_id), opcode=req.op,
                          xid=req.xid, exc_info=True)
                err, body = int(_ERR_MARSHALLINGERROR), b""
        pending.reply = self._reply_bytes(req.xid, err, body)
        conn.queue.drain(self._run_read, conn.emit_pending)

    def apply_committed(self, hdr: r.TxnHeaderRecord, txn: r.TxnRecord,
                        origin: Origin | None = None,
                        digest: r.TxnDigestRecord | None = None) -> None:
        """A txn committed by the quorum, in zxid order (CommitProcessor -> Final); `digest`:
        the TxnDigest it carries, compared with the tree once applied.

        Never raises: the loop that calls this applies everyone's txns, so a failure in one
        txn's bookkeeping or reply answers that request MARSHALLINGERROR and goes on."""
        try:
            self._apply(hdr, txn, origin or NO_ORIGIN, digest)
        except Exception:
            log.error("Failed to process committed txn", session=hex(hdr.clientId),
                      zxid=hex(hdr.zxid), type=hdr.type, exc_info=True)
            if origin is None or origin.conn is None or origin.pending is None:
                return
            conn, pending = origin.conn, origin.pending
            if pending.reply is None:
                pending.reply = self._reply_bytes(pending.req.xid, _ERR_MARSHALLINGERROR, b"")
            try:
                conn.queue.drain(self._run_read, conn.emit_pending)
            except Exception:
                log.error("closing connection after a failed reply", client=conn.peer,
                          exc_info=True)
                conn.close()

    def reply_sync(self, conn: ClientConn, pending: Pending) -> None:
        """The leader answered a forwarded sync: reply in the connection's order (Final
        reads the SyncRequest only now: an unreadable one is a MARSHALLINGERROR)."""
        req = pending.req
        if isinstance(req.record, JuteError):
            pending.reply = self._reply_bytes(req.xid, _ERR_MARSHALLINGERROR, b"")
        else:
            path = req.record.path if req.record is not None and hasattr(req.record, "path") \
                else ""
            pending.reply = self._reply_bytes(req.xid, 0, r.SyncResponse.to_bytes((path,)))
        conn.queue.drain(self._run_read, conn.emit_pending)

    def _session_closed(self, sid: int) -> None:
        # Once per session, whether closed by the client or expired (Java: "Processed session
        # termination for sessionid"); ops helper.
        log.info("session closed", session_id=hex(sid))
        self.sessions.remove(sid)
        conn = self.owner.pop(sid, None)
        if conn is not None and not conn.closing_session:
            conn.close_after_flush()

    # -- notifications --------------------------------------------------------------------
    @staticmethod
    def event_frame(ev: r.Record) -> bytes:
        out = bytearray(b"\0\0\0\0")
        _HDR.encode((-1, -1, 0), out)
        r.WatcherEvent.encode((ev.type, KeeperState.SYNC_CONNECTED, ev.path), out)
        out[0:4] = (len(out) - 4).to_bytes(4, "big")
        return bytes(out)
