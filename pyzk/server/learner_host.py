"""A follower's or observer's asyncio host: connect to the leader's quorum port, run the
LearnerCore's actions (epochs, TRUNC/SNAP/DIFF, logging, ACK release) and serve clients,
forwarding writes, session creation, revalidation and sync to the leader (Follower.java,
Observer.java, Learner.java, FollowerZooKeeperServer, FollowerRequestProcessor).
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, NamedTuple, assert_never

import structlog

from ..sasl.quorum import QuorumAuthError
from ..storage.datadir import UPDATING_EPOCH
from ..storage.snapshot import load_tree
from ..zab import learner as N
from ..zab import reconfig
from ..zab.leader import Conn
from ..zab.packets import Packet, QuorumStreamReader
from .forwarding import ForwardingWrites, ObserverSync
from .group_commit import LogEntry
from .observer_master_host import ObserverMasterHost
from .reachability import all_reachable_or_all
from .replication import carry_out, committed_data

if TYPE_CHECKING:
    from ..tree.datatree import DataTree
    from .quorum_peer import QuorumPeer

log = structlog.get_logger("pyzk.learner")



CONNECT_RETRY_FIRST_S = 0.01
CONNECT_RETRY_MAX_S = 0.1
CONNECT_RETRY_BUDGET_S = 0.4  # Java: 4 sleeps of leaderConnectDelayDuringRetryMs (100 ms)


class Master(NamedTuple):
    """The learner master an observer attaches to: the leader, or with observerMasterPort a
    voter's ObserverMaster (QuorumPeer.findLearnerMaster)."""
    sid: int
    host: str
    port: int


class LearnerHost(ForwardingWrites):
    """One connection to one leader; `run()` returns the reason it ended."""

    def __init__(self, peer: QuorumPeer, leader_sid: int, observer: bool,
                 master: Master | None = None) -> None:
        self.peer = peer
        self.leader_sid = leader_sid
        self.master = master
        self.observer = observer
        cfg = peer.config
        # syncEnabled=false: an observer logs no txns and takes no periodic snapshots
        # (ObserverZooKeeperServer without its SyncRequestProcessor); the snapshot and
        # currentEpoch of a sync with the leader are still written (Learner.syncWithLeader).
        self.logs_txns = not observer or cfg.sync_enabled
        if observer:
            log.info(f"syncEnabled ={str(cfg.sync_enabled).lower()}")
        self.server = peer.new_server(leading=False)
        self.server.writes = self
        self.core = N.LearnerCore(
            peer.my_id, observer, peer.accepted_epoch, peer.current_epoch,
            self.server.tree.last_processed_zxid, config_version=peer.quorum.version,
            tick_ms=cfg.tick_time_ms,
            init_limit=cfg.init_limit, sync_limit=cfg.sync_limit,
            touches=self._touches, full_resync=peer.db.full_resync)
        self.writer: asyncio.StreamWriter | None = None
        # A follower's ObserverMaster, once synced with observerMasterPort set; the designated
        # leader of a COMMITANDACTIVATE, until its txn is applied and relayed as INFORMANDACTIVATE.
        self.om: ObserverMasterHost | None = None
        # This member's worker processes (pyzk.workers > 1), served as observers are.
        self.workers_om: ObserverMasterHost | None = None
        self._designated: dict[int, int] = {}
        self.done = asyncio.Event()
        self.reason = ""
        self.serving_since: float | None = None
        # Output batching as Java's SendAckRequestProcessor: one ACK per proposal, one socket
        # write per batch.
        self._init_forwarding()
        # Log writes reported durable, coalesced: `persisted(seq)` releases every seq up to it.
        self._durable_seq = 0
        self._release_scheduled = False
        # Plain log writes of the chunk being read, each with the seq that releases its ACK.
        self._logged: list[tuple[list[LogEntry], int]] = []

    def now_ms(self) -> int:
        return int(self._loop.time() * 1000)

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> str:
        # The leader may be a member a reconfig added (not in zoo.cfg's server list).
        leader = self.peer.quorum.all_members.get(self.leader_sid) or \
            self.peer.config.servers[self.leader_sid]
        target = self.master or Master(self.leader_sid, leader.host, leader.quorum_port)
        cfg = self.peer.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.connect_to_learner_master_limit * cfg.tick_time_ms / 1000
        waited, delay = 0.0, CONNECT_RETRY_FIRST_S
        # An observer master has one address (observerMasterPort on the follower's host); the
        # leader every quorum address of its server line.
        addrs = [(target.host, target.port)] if self.master is not None else leader.quorum_addrs
        if self.master is None and cfg.multi_address.check_enabled:
            # Learner.connectToLeader: the reachable ones, or all when none is (ZOOKEEPER-3758)
            addrs = await all_reachable_or_all(
                addrs, cfg.multi_address.check_timeout_ms / 1000)
        while True:
            try:
                reader, writer = await self._dial_first(addrs)
                break
            except (OSError, TimeoutError) as e:
                # Learner.LeaderConnector gives up after 5 tries 100 ms apart, within the
                # limit, and goes back to LOOKING (a vote for a leader that just died must not
                # hold us). The same budget here, spent in shorter steps first: the new leader
                # usually opens its port a few ms after its followers finish the election.
                if waited >= CONNECT_RETRY_BUDGET_S or loop.time() + delay >= deadline:
                    return f"cannot connect to learner master {target.sid}: {e}"
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, CONNECT_RETRY_MAX_S)
        try:
            # Java passes QuorumServer.hostname: the host of the line's last address.
            await self.peer.net.authenticate_dialled(  # Learner.connectToLeader
                reader, writer,
                host=target.host if self.master is not None else leader.addresses[-1][0])
        except (QuorumAuthError, OSError, TimeoutError, asyncio.IncompleteReadError) as e:
            writer.close()
            return f"authentication with learner master {target.sid} failed: {e}"
        if self.master is not None:
            # Observer.observeLeader: setLeaderAddressAndId(master): `leader` and the like
            # name the follower an observer attached to.
            self.peer.leader_id = target.sid
            log.info("observing through a learner master", master=target.sid,
                     address=f"{target.host}:{target.port}", leader=self.leader_sid)
        self.writer = writer
        ticker = asyncio.ensure_future(self._tick_loop())
        reading = asyncio.ensure_future(self._read_loop(reader))
        try:
            await self.execute(self.core.connected(self.now_ms()))
            await self.done.wait()
        finally:
            self._submit_logged()  # queued before the role ends (QuorumPeer waits for it)
            self._stop_masters()
            ticker.cancel()
            reading.cancel()
            self._flush()
            writer.close()
        return self.reason

    async def _dial_first(self, addrs: list[tuple[str, int]]
                          ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """One LeaderConnector per quorum address of the leader, in parallel: the first
        connection wins and the others are closed. Raises the last error when none connects."""
        tasks = {asyncio.ensure_future(asyncio.wait_for(self.peer.net.dial(h, p), 2.0)): (h, p)
                 for h, p in addrs}
        pending = set(tasks)
        won: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        error: BaseException = OSError(f"no address of leader {self.leader_sid}")
        try:
            while pending and won is None:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    exc = t.exception()
                    if exc is not None:
                        error = exc
                    elif won is None:
                        won = t.result()
                        if len(addrs) > 1:
                            log.info("Successfully connected to leader, using address",
                                     address="{}:{}".format(*tasks[t]))
                    else:
                        t.result()[1].close()  # "close the redundant connection"
        finally:
            for t in pending:
                t.cancel()
        if won is None:
            if isinstance(error, (OSError, TimeoutError)):
                raise error
            raise OSError(str(error))
        return won

    def stop(self, reason: str) -> None:
        if not self.done.is_set():
            self.reason = reason
            self.done.set()

    async def _tick_loop(self) -> None:
        step = max(self.peer.config.tick_time_ms // 4, 10) / 1000
        while True:
            # Wake at the read deadline itself, as Java's socket timeout fires.
            wake = self.core.wakeup_ms()
            delay = step if wake is None else min(step, max(wake - self.now_ms() + 1, 1) / 1000)
            await asyncio.sleep(delay)
            await self.execute(self.core.on_tick(self.now_ms()))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        stream = QuorumStreamReader()
        try:
            while not self.done.is_set():
                data = await reader.read(1 << 20)
                if not data:
                    break
                now = self.now_ms()  # one reading of the clock per chunk while broadcasting
                for item in stream.feed(data):
                    actions = self.core.on_packet(item.qp, now, item.snapshot)
                    if not self._execute_plain(actions):
                        await self.execute(actions)
                    if self.done.is_set():
                        return
                    if self.core.state is not N.LearnerState.BROADCAST:
                        now = self.now_ms()  # syncing: loading a SNAP can take seconds
                self._submit_logged()
        except (OSError, ValueError) as e:
            log.info("leader connection broken", error=str(e))
        if not self.done.is_set():
            await self.execute(self.core.on_disconnect())

    # -- actions -----------------------------------------------------------------------------
    def _execute_plain(self, actions: list[N.LearnerAction]) -> bool:
        """Carry out a packet's actions at once when they are only sends, applies and log
        writes, as for every PROPOSAL and COMMIT while broadcasting: no coroutine per packet.
        False, with nothing done, when one needs execute (which awaits some kinds)."""
        for a in actions:
            if not isinstance(a, (N.Send, N.Apply, N.Persist)):
                return False
        applied = False
        for a in actions:
            if isinstance(a, N.Apply):
                self._apply(a.entry)
                applied = True
            elif isinstance(a, N.Send):
                self._send(a.qp)
            elif isinstance(a, N.Persist):
                self._persist(a)
        if applied:
            self._after_apply()
        return True

    def _after_apply(self) -> None:
        if self.server.serving and self.logs_txns:
            self.server.sink.maybe_snapshot(self.server.tree, self.server.sessions.timeouts)

    async def execute(self, actions: list[N.LearnerAction]) -> None:
        applied = False
        leave = False
        for a in actions:
            match a:
                case N.Activate():
                    # Follower/Observer/Learner: processReconfig; a role or leader change means
                    # leaving this leader ("changes proposed in reconfig").
                    qv = reconfig.config_from_string(a.config.decode("utf-8"), self.peer.oracle)
                    if a.zxid is not None and a.designated is not None:
                        self._designated[a.zxid] = a.designated
                    changed = self.peer.process_reconfig(qv, a.designated, a.zxid)
                    self._config_to_om()
                    if changed:
                        if a.now:
                            self.stop("changes proposed in reconfig")
                            return
                        leave = True
                case N.SeenConfig():
                    self.peer.set_last_seen(
                        reconfig.config_from_string(a.config.decode("utf-8"), self.peer.oracle))
                    self._config_to_om()
                case N.Send():
                    self._send(a.qp)
                case N.Apply():
                    self._apply(a.entry)
                    applied = True
                case N.Persist():
                    self._persist(a)
                case N.PersistEpoch():
                    self.peer.persist_epoch(a.name, a.value)
                case N.Truncate():
                    await carry_out(self.peer, self.peer.db.truncate(a.zxid), self._replace_db,
                                    self._truncate_failed)
                case N.LoadSnapshot():
                    await carry_out(self.peer, self.peer.db.replace(), self._replace_db)
                    tree = self.peer.new_tree()
                    load_tree(a.snapshot, tree, a.zxid)
                    self._replace_db(tree, dict(a.snapshot.sessions))
                    log.info("loaded SNAP from the leader", zxid=hex(a.zxid),
                             nodes=tree.node_count())
                case N.ResetDatabase():
                    await carry_out(self.peer, self.peer.db.replace(), self._replace_db)
                    self._replace_db(self.peer.new_tree(), {})
                case N.StartServing():
                    self._start_serving(a.epoch)
                    if not self.observer and self.peer.config.observer_master_port > 0:
                        await self._start_observer_master()
                    self._serve_workers()
                case N.Revalidated():
                    self._revalidated(a)
                case N.SyncDone():
                    self._sync_done()
                case N.Disconnected():
                    log.warning("lost the leader", leader=self.leader_sid, reason=a.reason)
                    self.stop(a.reason)
                case _:
                    assert_never(a)
        if applied:
            self._after_apply()
        if leave:
            self.stop("changes proposed in reconfig")

    def _apply(self, e: N.Entry) -> None:
        self._applied(e)
        data = committed_data(e.hdr, e.txn, e.digest, e.data)
        self.peer.db.committed(e.zxid, data)
        if self.om is not None or self.workers_om is not None:
            designated = self._designated.pop(e.zxid, None)
            for om in self._masters():  # proposalCommitted / informAndActivate
                om.committed(e.zxid, data, designated)

    def _revalidated(self, a: N.Revalidated) -> None:
        """Follower.processPacket: the answer goes to an observer that asked through us
        (ObserverMaster.revalidateLearnerSession), else to our own clients."""
        for om in self._masters():
            relayed = om.core.revalidated(a.session_id, a.valid)
            if relayed is not None:
                om.execute(relayed)
                return
        self._revalidated_here(a)

    def _sync_done(self) -> None:
        """FollowerZooKeeperServer.sync: the oldest pending sync, ours or an observer's."""
        if not self.syncs:
            return
        waiting = self.syncs.popleft()
        if not isinstance(waiting, ObserverSync):
            self.server.reply_sync(*waiting)
        else:
            waiting.master.execute(waiting.master.core.sync_done(waiting.conn))

    def _persist(self, a: N.Persist) -> None:
        seq = a.seq
        if not self.logs_txns:
            if a.current_epoch is None and not a.snapshot:
                self._persisted(seq)  # ObserverZooKeeperServer.commitRequest: no syncProcessor
                return
            a = a._replace(entries=[])
        if a.current_epoch is None and not a.snapshot:
            # A plain PROPOSAL/INFORM: gathered with the rest of the chunk just read into one
            # log job (the ACKs still go out only once it is durable).
            if not self._logged:
                self._loop.call_soon(self._submit_logged)  # whoever called, it gets written
            self._logged.append(([(e.hdr, e.txn, e.digest, e.data) for e in a.entries], seq))
            return
        self._submit_logged()  # the log stays in order
        after = None
        if a.current_epoch is not None:
            epoch = a.current_epoch
            # The sync's SNAP tree or logged DIFF txns (of the new epoch once the leader has
            # written some) reach disk before currentEpoch does: a crash in between leaves a
            # data dir whose last zxid is newer than its epoch, which Java 3.8.0 then refuses
            # to start forever. The marker (ZooKeeper 3.4's updatingEpoch) lets the next start
            # finish the epoch update instead. (DIFF: found by tests/simulation/hostsim.py.)
            self.peer.storage.datadir.write_epoch(UPDATING_EPOCH, epoch)

            def after() -> None:
                self.peer.persist_epoch("currentEpoch", epoch)
                self.peer.storage.datadir.remove_epoch(UPDATING_EPOCH)

        snap_tree = self.server.tree if a.snapshot else None
        db = self.peer.db
        token = db.snapshot_queued() if a.snapshot else -1

        def done() -> None:
            if a.snapshot:
                db.snapshot_durable(token)
            self._persisted(seq)

        self.peer.disk.submit([(e.hdr, e.txn, e.digest, e.data) for e in a.entries],
                              done, snapshot_tree=snap_tree,
                              sessions=self.server.sessions.timeouts, after=after)

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
        if self.done.is_set():
            return
        actions = self.core.persisted(self._durable_seq)
        acks = [a.qp for a in actions if isinstance(a, N.Send)]
        if len(acks) == len(actions):
            for qp in acks:
                self._send(qp)  # the ACKs: no task needed
        else:
            asyncio.ensure_future(self.execute(actions))

    async def _truncate_failed(self) -> None:
        await self.execute(self.core.truncate_failed())

    def _replace_db(self, tree: DataTree, sessions: dict[int, int]) -> None:
        self.server = self.peer.new_server(leading=False, tree=tree, sessions=sessions)
        self.server.writes = self

    def _start_serving(self, epoch: int) -> None:
        self.serving_since = asyncio.get_running_loop().time()
        # Learner.syncWithLeader: initConfigInZKDatabase once synced (version -1)
        self.peer.init_config_node(self.server.tree)
        self.peer.leader_established(epoch)
        self.server.serving = True
        self.server.start()
        log.info("following" if not self.observer else "observing", leader=self.leader_sid,
                 epoch=epoch, zxid=hex(self.server.tree.last_processed_zxid))

    # -- serving observers (observerMasterPort) ------------------------------------------------
    async def _start_observer_master(self) -> None:
        """Follower.followLeader: an ObserverMaster once synced with the leader."""
        om = ObserverMasterHost.of_follower(self.peer, lambda: self.server,
                                            self._om_touched)
        om.to_leader = functools.partial(self._relay, om)
        # quorumListenOnAllIPs: the wildcard address, else the member's quorum host
        host = None if self.peer.config.quorum_listen_on_all_ips else self.peer.me.host
        try:
            await om.listen(self.peer.net, host, self.peer.config.observer_master_port)
        except OSError as e:
            log.warning("cannot serve observers", error=str(e))
            self.stop(str(e))
            return
        om.start()
        self.om = om

    def _om_touched(self, session_id: int, timeout: int) -> None:
        """ObserverMaster.touch -> LearnerSessionTracker.touchSession: with local sessions
        on, only a global (or upgrading) session known here goes into the touch table."""
        if self.server.local is not None and session_id not in self.server.sessions.sessions:
            return
        self.touched(session_id, timeout)

    def _serve_workers(self) -> None:
        """Worker processes (pyzk.workers) sync from this learner as its observers do."""
        pool = self.peer.workers
        if pool is None:
            return
        om = ObserverMasterHost.of_follower(self.peer, lambda: self.server,
                                            self._om_touched)
        om.to_leader = functools.partial(self._relay, om)
        om.start()
        self.workers_om = pool.master = om

    def _stop_masters(self) -> None:
        for om in self._masters():
            om.stop()
        if self.workers_om is not None and self.peer.workers is not None:
            self.peer.workers.master = None

    def _masters(self) -> list[ObserverMasterHost]:
        return [om for om in (self.om, self.workers_om) if om is not None]

    def _relay(self, om: ObserverMasterHost, qp: Packet, sync_for: Conn | None) -> None:
        """An observer's REQUEST or REVALIDATE on to the leader, as it came (a relayed sync
        waits in line with our own clients' syncs for the leader's SYNC)."""
        if sync_for is not None:
            self.syncs.append(ObserverSync(sync_for, om))
        self._send(qp)

    def _config_to_om(self) -> None:
        for om in self._masters():
            om.core.reconfigured(self.peer.quorum.version,
                                 self.peer.last_seen.config_bytes())
