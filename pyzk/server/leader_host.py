"""The leader's asyncio host: the quorum port (2888) listener, one reader per learner, the
LeaderCore's actions executed in order, and the leader's write path (prep -> PROPOSAL ->
quorum ACK -> apply), including requests forwarded by learners (Leader.java, LearnerHandler,
LeaderZooKeeperServer, ProposalRequestProcessor).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, assert_never

import structlog

from ..protocol import records as r
from ..protocol.opcodes import Op
from ..zab import leader as L
from ..zab import reconfig
from ..zab.election_addresses import listen_addrs
from ..zab.packets import Packet, encode_packet
from ..zab.quorum import QuorumMaj
from ..zab.zxid import make_zxid
from .group_commit import LogEntry
from .learner_conn import LearnerConn, read_learner, tick_core
from .learner_requests import submit_forwarded
from .pending import NO_ORIGIN, Origin
from .replication import committed_data, disk_log_reader, read_disk_log_off_loop
from .workers.local_master import LocalMaster, WorkerSync

if TYPE_CHECKING:
    from .connection import ClientConn
    from .pending import Pending
    from .quorum_peer import QuorumPeer

log = structlog.get_logger("pyzk.leader")


class LeaderHost:
    """One term of leadership; `run()` returns the reason it ended."""

    forwards = False
    forwards_closing = False

    def __init__(self, peer: QuorumPeer) -> None:
        self.peer = peer
        cfg = peer.config
        self.proposal_last = self.proposal_min = self.proposal_max = -1
        self.server = peer.new_server(leading=True)
        self.server.writes = self
        self.server.prep.reconfig = self  # the reconfig branch's leader-only checks
        self.core = L.LeaderCore(
            peer.my_id, peer.quorum.voter_set(), set(peer.quorum.observing_members),
            peer.accepted_epoch,
            peer.current_epoch, self.server.tree.last_processed_zxid,
            list(peer.db.window), tick_ms=cfg.tick_time_ms,
            init_limit=cfg.init_limit, sync_limit=cfg.sync_limit,
            config_version=peer.quorum.version, config_bytes=peer.last_seen.config_bytes(),
            defer_disk_log=True,
            session_valid=self._session_valid, commit_log_count=cfg.commit_log_count,
            newleader_config=self._newleader_config,
            linearizable_sync=cfg.linearizable_sync)
        # Our own clients' syncs come to `forward` when each must wait for a confirmation
        # round (pyzk.linearizableSync); Java answers them at once, as a read.
        self.forwards_sync = cfg.linearizable_sync
        self.learners: dict[L.Conn, LearnerConn] = {}  # by connection id (an int)
        self._ids = itertools.count(1)
        self.origins: dict[int, Origin] = {}
        self.done = asyncio.Event()
        self.reason = ""
        self.established_at: float | None = None
        self._loop = asyncio.get_running_loop()
        # Output batching (LearnerHandler queues packets and flushes when its queue empties):
        # packets are encoded into the learner's buffer and written once per loop iteration.
        self._flush_scheduled = False
        # Our own log-write ACKs, coalesced: `persisted(seq)` covers every seq before it too.
        self._durable_seq = 0
        self._release_scheduled = False
        # Proposals for our own log not yet handed to the disk worker, with their seqs.
        self._logged: list[tuple[list[LogEntry], int]] = []
        # This member's worker processes (pyzk.workers), fed once the leader is established.
        self.local_master: LocalMaster | None = None
        # A learner's sync from the txn log is read in a thread (ReadDiskLog), never on this
        # loop: a handshake claiming an old lastZxid cost a whole log scan here, and a burst
        # of them starved the followers' pings into a leader change (peer-port fuzzer).
        self._disk_log = disk_log_reader(peer.storage)
        self._disk_reads: set[asyncio.Task[None]] = set()
        self._disk_lock = asyncio.Lock()

    def now_ms(self) -> int:
        return int(self._loop.time() * 1000)

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> str:
        # Leader(): a server socket per quorum address; one that cannot bind is logged, and
        # leading fails only when none could.
        listeners = []
        errors = []
        for host, port in listen_addrs(self.peer.me.quorum_addrs,
                                       self.peer.config.quorum_listen_on_all_ips):
            try:
                listeners.append(await self.peer.net.listen(self._accept, host, port,
                                                            reuse_address=True))
            except OSError as e:
                log.error("Couldn't bind", address=f"{host}:{port}", error=str(e))
                errors.append(str(e))
        if not listeners:
            return f"cannot listen on the quorum port: {'; '.join(errors)}"
        self.execute(self.core.start(self.now_ms()))
        ticker = asyncio.ensure_future(self._tick_loop())
        try:
            await self.done.wait()
        finally:
            self._submit_logged()  # what was proposed is logged, as if submitted at once
            ticker.cancel()
            for task in list(self._disk_reads):
                task.cancel()
            if self.local_master is not None:
                self.local_master.stop()
                if self.peer.workers is not None:
                    self.peer.workers.master = None
            for listener in listeners:
                listener.close()
            # Closing the sockets ends each reader (cancelling a start_server task makes
            # asyncio log it as an error).
            for ln in list(self.learners.values()):
                ln.write_out()
                ln.writer.close()
            self.learners.clear()
        return self.reason

    def stop(self, reason: str) -> None:
        if not self.done.is_set():
            self.reason = reason
            self.done.set()

    async def _tick_loop(self) -> None:
        await tick_core(self.peer.config.tick_time_ms, self.now_ms, self.core.wakeup_ms,
                        lambda now: self.execute(self.core.on_tick(now)))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.done.is_set() or not await self.peer.net.authenticate_accepted(reader, writer):
            writer.close()
            return
        cid = next(self._ids)
        ln = self.learners[cid] = LearnerConn(writer)
        self.execute(self.core.on_connect(cid, self.now_ms()))

        def feed(qp: Packet) -> bool:
            self.execute(self.core.on_packet(cid, qp, self.now_ms()))
            return cid in self.learners

        def feed_acks(zxids: list[int]) -> bool:
            self.execute(self.core.on_acks(cid, zxids, self.now_ms()))
            return cid in self.learners

        try:
            broken = await read_learner(reader, ln, feed, self.done.is_set, feed_acks)
            if broken is not None:
                log.info("learner connection broken", learner=ln.sid, error=broken)
        finally:
            if self.learners.pop(cid, None) is not None:
                writer.close()
                if not self.done.is_set():
                    self.execute(self.core.on_disconnect(cid))

    # -- actions -----------------------------------------------------------------------------
    def execute(self, actions: list[L.LeaderAction]) -> None:
        applied = False
        learners = self.learners
        # One PROPOSAL/COMMIT packet object goes to every learner: encode it once.
        last_qp: Packet | None = None
        last_bytes = b""
        for a in actions:
            match a:  # the most frequent kinds first
                case L.SendTo():
                    ln = learners.get(a.conn)
                    if ln is not None:
                        qp = a.qp
                        if qp is not last_qp:
                            last_qp, last_bytes = qp, encode_packet(qp)
                        ln.out.append(last_bytes)
                        if not self._flush_scheduled:
                            self._flush_scheduled = True
                            self._loop.call_soon(self._flush)
                case L.ApplyCommitted():
                    self._apply(a)
                    applied = True
                case L.LogProposals():
                    # Gathered until this callback returns: one log job for all the proposals
                    # of a chunk of client requests, not one each.
                    if not self._logged:
                        self._loop.call_soon(self._submit_logged)
                    self._logged.append(([(h, tx, d, data) for _, h, tx, d, data in a.entries],
                                         a.seq))
                case L.Touch():
                    self.server.sessions.touch(a.session_id, self.server.mono_ms(), a.timeout)
                case L.LearnerRequest():
                    self._learner_request(a)
                case L.SendSnap():
                    self._send_snap(a.conn, a.zxid)
                case L.Close():
                    ln = self.learners.pop(a.conn, None)
                    if ln is not None:
                        log.info("closing learner connection", learner=ln.sid, reason=a.reason)
                        ln.write_out()
                        ln.writer.close()
                case L.PersistEpoch():
                    self.peer.persist_epoch(a.name, a.value)
                case L.Established():
                    self._established(a.epoch)
                case L.CommitReconfig():
                    self._activate(a)
                case L.ReadConfirmed():
                    self._read_confirmed(a.token)
                case L.StepDown():
                    log.warning("leader stepping down", reason=a.reason)
                    self.stop(a.reason)
                case L.ReadDiskLog():
                    task = asyncio.ensure_future(self._read_disk_log(a.conn, a.zxid))
                    self._disk_reads.add(task)
                    task.add_done_callback(self._disk_reads.discard)
                case _:
                    assert_never(a)
        if applied:
            self.server.sink.maybe_snapshot(self.server.tree, self.server.sessions.timeouts)

    async def _read_disk_log(self, conn: L.Conn, zxid: int) -> None:
        """ZKDatabase.getProposalsFromTxnLog for one learner's sync, off the loop."""
        entries = await read_disk_log_off_loop(self._disk_log, zxid, self._disk_lock)
        if not self.done.is_set():
            self.execute(self.core.disk_log_read(conn, entries, self.now_ms()))

    def _apply(self, a: L.ApplyCommitted) -> None:
        origin = self.origins.pop(a.zxid, NO_ORIGIN)
        self.server.apply_committed(a.hdr, a.txn, origin, a.digest)
        data = committed_data(a.hdr, a.txn, a.digest, a.data)
        self.peer.db.committed(a.zxid, data)
        if self.local_master is not None:
            self.local_master.committed(a.hdr, a.txn, a.digest, data)

    def _read_confirmed(self, token: object) -> None:
        """A sync may be answered: our own client's, or a worker process's."""
        if isinstance(token, WorkerSync):
            token.done()
        else:
            assert isinstance(token, tuple)
            self.server.reply_sync(*token)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for ln in self.learners.values():
            if ln.out:
                ln.write_out()

    def _submit_logged(self) -> None:
        if self._logged:
            runs, self._logged = self._logged, []
            self.peer.disk.submit_runs(runs, self._persisted)

    def _persisted(self, seq: int) -> None:
        # The disk worker reports a whole group commit at once: one core call for all of it.
        if seq > self._durable_seq:
            self._durable_seq = seq
        if not self._release_scheduled:
            self._release_scheduled = True
            self._loop.call_soon(self._release)

    def _release(self) -> None:
        self._release_scheduled = False
        if not self.done.is_set():
            self.execute(self.core.persisted(self._durable_seq))

    def _send_snap(self, cid: L.Conn, zxid: int) -> None:
        ln = self.learners.get(cid)
        if ln is not None:
            ln.send_snap(self.server.tree, self.server.sessions.timeouts(), zxid)

    def _established(self, epoch: int) -> None:
        loop = asyncio.get_running_loop()
        self.established_at = loop.time()
        self.peer.leader_established(epoch)
        srv = self.server
        srv.last_zxid = make_zxid(epoch, 0)
        peer = self.peer
        if peer.reconfig_enabled:
            # Leader.startZkServer (ZOOKEEPER-1324): the config NEWLEADER carried is now in force.
            peer.process_reconfig(peer.last_seen, peer.my_id, srv.tree.last_processed_zxid)
            self.core.config_version = peer.quorum.version
            self.core.config_bytes = peer.last_seen.config_bytes()
        srv.serving = True
        srv.start()
        self._serve_workers()
        log.info("leading", epoch=epoch, zxid=hex(srv.tree.last_processed_zxid),
                 learners=sorted(ln.sid for ln in self.learners.values()))

    def _serve_workers(self) -> None:
        """Worker processes (pyzk.workers) sync from the leader's own commits."""
        peer = self.peer
        if peer.workers is None or not peer.config.leader_serves:
            return  # leaderServes=no: no client is served here, through a worker neither
        self.local_master = LocalMaster(
            peer.config, lambda: self.server, peer.my_id, window=lambda: list(peer.db.window),
            confirm_sync=lambda token: self.execute(self.core.confirm_read(token,
                                                                           self.now_ms())),
            config_version=peer.quorum.version, config_bytes=peer.last_seen.config_bytes())
        self.local_master.start()
        peer.workers.master = self.local_master.host

    def _session_valid(self, session_id: int, timeout: int, learner: int) -> bool:
        """Leader.revalidateSession -> LeaderZooKeeperServer.touch."""
        return self.server.sessions.touch(session_id, self.server.mono_ms(), timeout)

    # -- dynamic reconfiguration -------------------------------------------------------------
    def _newleader_config(self, zxid: int) -> bytes:
        """Leader.lead (ZOOKEEPER-1783): with reconfig enabled, an initial (version 0) config
        gets the NEWLEADER zxid as its version; NEWLEADER carries the last seen config."""
        peer = self.peer
        if peer.reconfig_enabled and peer.quorum.version == 0 and peer.last_seen.version == 0:
            peer.set_last_seen(peer.quorum.with_version(zxid), True)
        return peer.last_seen.config_bytes()

    def prepare(self, rec: r.Record, zxid: int) -> QuorumMaj:
        """Prep's reconfig context: validate against the current and last seen configs."""
        peer = self.peer
        return reconfig.prepare(
            rec, zxid, peer.quorum.version, peer.last_seen, peer.config.standalone_enabled,
            lambda qv: self.core.is_quorum_synced(qv.voter_set()))

    def _activate(self, a: L.CommitReconfig) -> None:
        """tryToCommit's reconfig branch: processReconfig before the commit is applied."""
        peer = self.peer
        qv = reconfig.config_from_string(a.config.decode("utf-8"), self.peer.oracle)
        peer.process_reconfig(qv, a.designated, self.server.tree.last_processed_zxid)
        self.core.config_bytes = peer.last_seen.config_bytes()
        if a.designated != peer.my_id:
            log.info("Committing a reconfiguration; this leader is not the designated leader"
                     " anymore, setting allowedToCommit=false", designated=a.designated)

    # -- the write path (ZkServer.writes) ------------------------------------------------------
    def submit(self, hdr: r.TxnHeaderRecord, txn: r.TxnRecord, origin: Origin,
               digest: r.TxnDigestRecord | None = None) -> None:
        if self.core.phase is not L.LeaderPhase.BROADCAST:
            return  # stepping down: the connections are about to close
        if origin.conn is not None or origin.on_applied is not None:
            self.origins[hdr.zxid] = origin
        plan: tuple[frozenset[int], bool] | None = None
        if hdr.type == Op.RECONFIG:
            # Leader.propose: the proposed config becomes the last seen one
            peer = self.peer
            qv = reconfig.config_from_string(txn.data.decode("utf-8"), self.peer.oracle)
            peer.set_last_seen(qv, True)
            self.core.config_bytes = peer.last_seen.config_bytes()
            plan = (qv.voter_set(),
                    reconfig.stays_leader(qv, peer.my_id, peer.me.quorum_addrs))
        self.execute(self.core.propose(hdr, txn, digest, self.now_ms(), plan))
        p = self.core.outstanding.get(hdr.zxid)
        if p is not None:
            self.record_proposal_size(len(p.data))

    def record_proposal_size(self, size: int) -> None:
        """Leader.proposalStats (BufferStats): last/min/max serialized proposal, -1 before any."""
        self.proposal_last = size
        self.proposal_min = size if self.proposal_min < 0 else min(self.proposal_min, size)
        self.proposal_max = max(self.proposal_max, size)

    def forward(self, conn: ClientConn, pending: Pending, op: int, body: bytes) -> None:
        """Only a sync of our own client, with linearizable sync on: answered in the
        connection's order once a confirmation round says we still lead."""
        if op != Op.SYNC:
            raise AssertionError("the leader does not forward")
        self.execute(self.core.confirm_read((conn, pending), self.now_ms()))

    def create_session(self, conn: ClientConn | None, session_id: int, timeout: int,
                       origin: Origin) -> None:
        raise AssertionError("the leader does not forward")

    def revalidate(self, conn: ClientConn, session_id: int, timeout: int) -> None:
        raise AssertionError("the leader does not forward")

    def touched(self, session_id: int, timeout_ms: int) -> None:
        pass  # the leader touches its own (global) tracker in on_request

    def _learner_request(self, a: L.LearnerRequest) -> None:
        """Leader.submitLearnerRequest -> PrepRequestProcessor, with the learner's session."""
        if a.request.type == Op.SYNC:
            if self.server.serving:
                self.execute(self.core.process_sync(a.conn, self.now_ms()))
            return
        submit_forwarded(self.server, a.request, list(a.authinfo or []), self.peer.my_id)

    # -- views -------------------------------------------------------------------------------
    def learner_info(self) -> list[tuple[int, str, bool]]:
        """(sid, address, synced) of connected learners, for mntr/4LW."""
        out = []
        for cid, ln in self.learners.items():
            h = self.core.handlers.get(cid)
            synced = h is not None and h.stage is L.HandlerStage.BROADCAST
            out.append((ln.sid, ln.addr, synced))
        return out

    def is_observer(self, sid: int) -> bool:
        return sid in self.peer.quorum.observing_members

