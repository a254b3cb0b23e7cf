"""A replicated-mode server (QuorumPeer.run): recover the database, elect, then lead, follow or
observe until that ends, and elect again. Owns what outlives one role: the data tree, the txn
log and its persist worker, acceptedEpoch/currentEpoch, the election port and the client port
(which refuses sessions while there is no established leader).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from .. import __version__
from ..config.model import Config
from ..config.servers import allow_multi_address_lines
from ..metrics import ServerMetrics
from ..pipeline.sync_policy import SyncPolicy
from ..session.tracker import SessionTracker
from ..tree.datatree import CONFIG_NODE, DataTree, Event
from ..zab import reconfig
from ..zab.database import ReplicaDatabase
from ..zab.election import FLE
from ..zab.election_addresses import MultiAddress
from ..zab.election_service import ElectionService
from ..zab.election_transport import UNABLE_TO_BIND_QUORUM_PORT, QuorumCnxManager
from ..zab.peer_timing import WAIT_LINE, observer_delay_ms, quorum_cnxn_timeout_ms
from ..zab.quorum import QuorumMaj, make_quorum
from ..zab.vote import ServerState, Vote
from .auth import enable_auth_providers
from .clock import SYSTEM_CLOCK, Clock
from .epochs import load_epochs
from .fourlw_port import FourLetterWords
from .group_commit import GroupCommit
from .leader_host import LeaderHost
from .learner_host import LearnerHost
from .learner_masters import LearnerMasters
from .oracle import read_oracle
from .persistence import TxnSnapLog, open_storage
from .quorum_net import PLAIN, QuorumNet, quorum_net
from .quorum_view import QuorumView
from .reachability import is_reachable, reachable_or_one
from .readonly import ReadOnlyServer, grace_ms
from .replication import carry_out
from .startup import ClientPorts, StartupError, listen_error, start_front_ends
from .stats import ServerStats
from .workers.pool import WorkerPool
from .zkserver import ZkServer

if TYPE_CHECKING:
    from .frontends import Stoppable

log = structlog.get_logger("pyzk.quorum")


class QuorumPeer:
    def __init__(self, config: Config, clock: Clock = SYSTEM_CLOCK,
                 rng: random.Random | None = None) -> None:
        self.config = config
        # Session expiry and znode times; the seeded simulation passes its virtual clock.
        self.clock = clock
        # Observer delays and the snapshot trigger's draws; the simulation passes a seeded one.
        self.rng = rng if rng is not None else random.Random()
        assert config.my_id is not None, "is_distributed configs have a myid"
        self.my_id: int = config.my_id
        self.me = config.servers[self.my_id]
        # QuorumPeerMain: setQuorumVerifier(config's, false), then setLastSeenQuorumVerifier
        # with `<zoo.cfg>.dynamic.next` if there is one (a reconfig proposed before a restart).
        # oraclePath: the verifier asks the file through this edge reader (QuorumOracleMaj).
        self.oracle = ((config.oracle_path, read_oracle(config.oracle_path))
                       if config.oracle_path else None)
        self.quorum = make_quorum(config.servers, config.config_version, config.quorum_groups,
                                  config.quorum_weights, self.oracle)
        # lastSeenQuorumVerifier: the last proposed config (== quorum unless one is pending)
        self.last_seen = self.quorum
        self.reconfig_enabled: bool = config.reconfig_enabled
        # QuorumPeer.reconfigFlag: after this role, skip the election (updateServerState).
        self.reconfig_flag = False
        nxt = config.next_config
        if self.reconfig_enabled and nxt is not None and nxt.version != self.quorum.version:
            self.last_seen = make_quorum(nxt.servers, nxt.version, nxt.groups, nxt.weights,
                                         self.oracle)
        self.observer = self.me.is_observer
        self.learner_masters = LearnerMasters(config.observer_master_port)
        self._storage: TxnSnapLog | None = None  # opened by start()
        self.server: ZkServer | None = None
        self.role: LeaderHost | LearnerHost | None = None
        self.state = ServerState.LOOKING
        self.leader_id = -1
        self.accepted_epoch = 0
        self.current_epoch = 0
        # The committed window, unsaved SNAP trees, full resyncs (pyzk/zab/database.py).
        self.db = ReplicaDatabase(config.commit_log_count)
        self.disk: GroupCommit = None  # type: ignore[assignment]
        self.election: ElectionService | None = None
        self.fle: FLE | None = None
        self.per_ip: dict[str, int] = {}
        self.metrics = ServerMetrics()
        self.net: QuorumNet = PLAIN  # sslQuorum / portUnification, set up at start
        self._cert_watch: asyncio.Future[None] | None = None  # sslQuorumReloadCertFiles
        self.view = QuorumView(self)
        self.ports: ClientPorts | None = None
        # pyzk.workers > 1: worker processes, fed by each role in turn (pyzk/server/workers)
        self.workers: WorkerPool | None = None
        self._extras: list[Stoppable] = []
        self._main: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_election_ms: int | None = None
        self.elections = 0
        self.on_fatal: Callable[[], None] | None = None
        self.exit_code = 1  # the process's status after on_fatal (Java's ExitCode)

    # -- database ---------------------------------------------------------------------------
    @property
    def storage(self) -> TxnSnapLog:
        """The data directory, from start() on (every role runs after it)."""
        assert self._storage is not None, "QuorumPeer.start() opens the storage"
        return self._storage

    def new_tree(self) -> DataTree:
        cfg = self.config
        tree = DataTree(extended_types=cfg.extended_types, skip_acl=cfg.skip_acl,
                        emulate_353=cfg.emulate_353_ttl_nodes,
                        digest_enabled=cfg.digest_enabled)
        tree.set_config_data(self.quorum.config_bytes())
        return tree

    def _install_db(self, tree: DataTree, sessions: dict[int, int]) -> None:
        self.new_server(leading=False, tree=tree, sessions=sessions)

    def reload_from_disk(self) -> tuple[DataTree, dict[int, int]]:
        tree, sessions = self.storage.recover()
        self.init_config_node(tree)
        return tree, sessions

    def init_config_node(self, tree: DataTree) -> list[Event]:
        """ZKDatabase.initConfigInZKDatabase (QuorumPeerMain, Learner.syncWithLeader, reconfig):
        /zookeeper/config = the config, version -1, mzxid its version (standalone keeps 0)."""
        events: list[Event] = []
        tree.set_data(CONFIG_NODE, self.quorum.config_bytes(), -1, self.quorum.version,
                      self.clock.wall_ms(), events)
        return events

    def _load_epochs(self) -> None:
        """QuorumPeer.loadDataBase: missing epoch files start at the last zxid's epoch."""
        assert self.server is not None
        self.current_epoch, self.accepted_epoch = load_epochs(
            self.storage.datadir, self.server.tree.last_processed_zxid)

    def persist_epoch(self, name: str, value: int) -> None:
        """QuorumPeer.setAcceptedEpoch/setCurrentEpoch: durable before anything later."""
        self.storage.datadir.write_epoch(name, value)
        if name == "acceptedEpoch":
            self.accepted_epoch = value
        else:
            self.current_epoch = value

    def new_server(self, leading: bool, tree: DataTree | None = None,
                   sessions: dict[int, int] | None = None) -> ZkServer:
        """A fresh (not yet serving) ZooKeeperServer over the shared database; the previous
        one stops and its clients are disconnected."""
        old = self.server
        if tree is None:
            assert old is not None
            tree = old.tree
        if sessions is None:
            sessions = self._global_sessions(old)
        srv = ZkServer(self.config, tree, self.storage, sessions=sessions,
                       server_id=self.my_id, clock=self.clock)
        if self.config.local_sessions_enabled:
            # LeaderSessionTracker / LearnerSessionTracker with a LocalSessionTracker.
            srv.local = SessionTracker(self.config.tick_time_ms, self.my_id, 0)
            srv.prep.ephemeral_session_error = srv.ephemeral_session_error
        self._install(srv)
        srv.leads = leading
        srv.on_client_port = not leading or self.config.leader_serves
        return srv

    @staticmethod
    def _global_sessions(old: ZkServer | None) -> dict[int, int]:
        """The replicated session table to hand on (a read-only server's local sessions end
        with it)."""
        if old is None:
            return {}
        if isinstance(old, ReadOnlyServer):
            return dict(old.global_sessions)
        return old.sessions.timeouts()

    def start_read_only(self) -> ReadOnlyServer:
        """QuorumPeer.run, LOOKING with readonlymode.enabled: ReadOnlyZooKeeperServer.startup
        over the same database."""
        old = self.server
        assert old is not None
        srv = ReadOnlyServer(self.config, old.tree, self.storage,
                             self._global_sessions(old), self.my_id, self.clock)
        self._install(srv)
        srv.serving = True
        srv.start()
        log.info("Read-only server started", zxid=hex(srv.tree.last_processed_zxid))
        return srv

    def _install(self, srv: ZkServer) -> None:
        """Make `srv` the member's server; the previous one stops and its clients are
        disconnected (ReadOnlyZooKeeperServer.shutdown: closeAllConnections)."""
        old = self.server
        srv.stats = ServerStats(self.metrics)
        srv.metrics = self.metrics
        srv.serving = False
        srv.storage = self.storage
        srv.on_fatal = self._fatal
        self.storage.stats = srv.stats
        if old is not None:
            old.serving = False
            for conn in list(old.conns):
                conn.close()
            asyncio.ensure_future(old.stop())
        self.server = srv

    def _fatal(self, exit_code: int = 1) -> None:
        if exit_code != 1:  # a specific status is kept over failures that follow it
            self.exit_code = exit_code
        if self.on_fatal is not None:
            self.on_fatal()

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        if self.reconfig_enabled and cfg.source is not None \
                and cfg.dynamic_config_file is None:
            # QuorumPeerConfig.backupOldConfig: membership still in zoo.cfg, which the first
            # reconfig will rewrite; keep the operator's file as zoo.cfg.bak.
            self._write_file(Path(f"{cfg.source}.bak"), Path(cfg.source).read_bytes())
        self._storage = open_storage(cfg, self.rng)
        tree, sessions = self.storage.recover()
        self.init_config_node(tree)
        self.server = None
        self.new_server(leading=False, tree=tree, sessions=sessions)
        self._load_epochs()
        self.db.loaded(tree.last_processed_zxid, self.storage.replayed_txns())
        self.disk = GroupCommit(self.storage, cfg.force_sync, self._flushed, log_failure=True,
                                policy=SyncPolicy.from_config(cfg))
        self.disk.start()
        allow_multi_address_lines(cfg.multi_address.lines)  # QuorumServer's system property
        view = {sid: s.election_addrs for sid, s in cfg.servers.items()}
        self.net = quorum_net(cfg)
        if self.net.reload_cert_files and self.net.contexts is not None:
            self._cert_watch = asyncio.ensure_future(self.net.contexts.watch())
        multi = MultiAddress(cfg.multi_address.enabled,
                             cfg.multi_address.check_enabled,
                             cfg.multi_address.check_timeout_ms / 1000,
                             reachable_or_one, is_reachable)
        manager = QuorumCnxManager(self.my_id, self.me.election_addrs, view,
                                   net=self.net, connect_timeout_s=cfg.cnx_timeout_ms / 1000,
                                   read_timeout_s=quorum_cnxn_timeout_ms(cfg) / 1000,
                                   multi=multi, listen_all_ips=cfg.quorum_listen_on_all_ips,
                                   keepalive=cfg.tcp_keep_alive,
                                   bind_retry=cfg.election_port_bind_retry)
        manager.on_bind_failed = lambda: self._fatal(UNABLE_TO_BIND_QUORUM_PORT)
        manager.voting = lambda sid: sid in self.quorum.voting_members
        manager.addresses = self._election_addrs
        self.fle = FLE(self.my_id, self.quorum, participant=not self.observer,
                       reconfig_enabled=self.reconfig_enabled,
                       min_interval_ms=cfg.fle_min_notification_interval_ms,
                       max_interval_ms=cfg.fle_max_notification_interval_ms)
        self.election = ElectionService(self.fle, manager)
        self.election.on_config = lambda qv: self.process_reconfig(qv, None, None)
        try:
            await self.election.start()
        except OSError as e:
            raise StartupError(listen_error("election port", self.me.host,
                                            self.me.election_port, e)) from None
        # The client port's words see no server on a leader that does not serve clients;
        # the AdminServer's commands see it (Leader.lead sets only the adminServer's).
        words = FourLetterWords(cfg, QuorumView(self, client_port=True, twin=self.view))
        enable_auth_providers(cfg)
        await self._open_client_ports(words)
        self._extras = await start_front_ends(cfg, self.view)
        self._main = asyncio.ensure_future(self._run())
        self._main.add_done_callback(self._main_done)
        log.info("quorum peer started", myid=self.my_id, client_port=cfg.client_port,
                 address=cfg.client_port_address or "0.0.0.0", quorum_port=self.me.quorum_port,
                 election_port=self.me.election_port, zxid=hex(tree.last_processed_zxid),
                 current_epoch=self.current_epoch, accepted_epoch=self.accepted_epoch,
                 data_dir=str(cfg.data_dir), version=__version__,
                 config=str(cfg.source or "<embedded default>"))

    async def _open_client_ports(self, words: FourLetterWords) -> None:
        cfg = self.config
        if cfg.workers > 1:
            self.workers = WorkerPool(cfg, cfg.workers - 1, self.ports_released)
            await self.workers.start()
        self.ports = ClientPorts(cfg, lambda: self.server, lambda: words, self.per_ip,
                                 self.workers.dispatch if self.workers else None)
        await self.ports.open(start_serving=True)  # sessions wait for a leader (ZkServer.serving)
        if self.workers is not None:
            self.workers.serve_words(words, [self.view, words.view])

    def ports_released(self, kind: str, ip: str) -> None:
        """A worker process's client connection ended."""
        if self.ports is not None:
            self.ports.released(kind, ip)

    def _main_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping:
            return
        exc = task.exception()
        if exc is not None:
            log.critical("quorum peer failed", error=repr(exc), exc_info=exc)
            self._fatal()

    async def stop(self, quiet: bool = False) -> None:
        """Stop whatever start() got to (quiet: after a failed start, no "stopped" line)."""
        self._stopping = True
        if self.role is not None:
            self.role.stop("shutdown")
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._main
        if self._cert_watch is not None:
            self._cert_watch.cancel()
        if self.ports is not None:
            self.ports.close()
        if self.workers is not None:
            await self.workers.stop()
        for extra in self._extras:
            await extra.stop()
        if self.server is not None:
            await self.server.stop()
        if self.election is not None:
            await self.election.close()
        if self.disk is not None:
            await self.disk.stop()
        if self._storage is not None:
            self._storage.close()
        if not quiet:
            log.info("stopped")

    # -- QuorumPeer.run ---------------------------------------------------------------------
    async def _run(self) -> None:
        assert self.election is not None and self.server is not None
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self.state = ServerState.LOOKING
            self.leader_id = -1
            await carry_out(self, self.db.before_election(), self._install_db)
            last = self.server.tree.last_processed_zxid
            t0 = loop.time()
            if self.reconfig_flag and self.fle is not None and self.fle.current_vote is not None:
                # updateServerState: a reconfig named the leader; take it without an election.
                self.reconfig_flag = False
                decided = self.fle.assume()
                log.info("following the reconfig's designated leader", leader=decided.vote.id)
            else:
                self.reconfig_flag = False  # reconfigFlagClear before lookForLeader
                log.info("LOOKING", zxid=hex(last), current_epoch=self.current_epoch)
                read_only = (asyncio.ensure_future(self._read_only_after_grace())
                             if self.config.read_only_mode else None)
                try:
                    decided = await self.election.elect(last, self.current_epoch)
                finally:
                    if read_only is not None:
                        read_only.cancel()
            # The read-only server (if it started) stops when the next role's server is
            # installed, before that server syncs with the leader.
            self.elections += 1
            self.last_election_ms = int((loop.time() - t0) * 1000)
            self.state = decided.state
            self.leader_id = decided.vote.id
            log.info("election done", state=decided.state.name, leader=decided.vote.id,
                     ms=self.last_election_ms)
            observing = decided.state == ServerState.OBSERVING
            master, wrapped = self.learner_masters.find(self.quorum, observing)
            if observing and wrapped:
                # findLearnerMaster: jitter so that a fleet of observers does not reconnect
                # at once
                await self._observer_wait(self.config.observer_reconnect_delay_ms)
            if decided.state == ServerState.LEADING:
                self.role = LeaderHost(self)
            else:
                self.role = LearnerHost(self, decided.vote.id, observing, master)
            try:
                reason = await self.role.run()
            finally:
                role, self.role = self.role, None
            log.warning("left the role; looking for a leader", role=decided.state.name,
                        reason=reason)
            if isinstance(role, LearnerHost) and role.serving_since is None \
                    and not reason.startswith("cannot connect"):
                await asyncio.sleep(0.05)  # a failed sync: let the leader settle (Java: 1s)
            await self.disk.wait_idle()
            self.new_server(leading=False)
            if decided.state == ServerState.OBSERVING:
                # ... and before it looks for a leader again (waitForObserverElectionDelay)
                await self._observer_wait(self.config.observer_election_delay_ms)

    def _flushed(self, seconds: float, txns: int) -> None:
        """fsynctime, sync_processor_batch_size, ...: recorded as a standalone server does."""
        if txns and self.server is not None:
            self.server.stats.record_fsync(seconds, txns)

    async def _observer_wait(self, bound_ms: int) -> None:
        if bound_ms <= 0 or self._stopping:
            return
        delay = observer_delay_ms(bound_ms, self.rng)
        log.info(WAIT_LINE % delay)
        await asyncio.sleep(delay / 1000)

    async def _read_only_after_grace(self) -> None:
        """Wait out the grace period before deciding we are partitioned (QuorumPeer.run)."""
        await asyncio.sleep(grace_ms(self.config.tick_time_ms) / 1000)
        if self.state == ServerState.LOOKING and self.role is None and not self._stopping:
            self.start_read_only()

    def leader_established(self, epoch: int) -> None:
        """QuorumPeer.updateElectionVote once the leader's epoch is in force."""
        if self.fle is not None:
            self.fle.update_election_vote(epoch)

    # -- dynamic reconfiguration (QuorumPeer.java) ------------------------------------------
    def _election_addrs(self, sid: int) -> list[tuple[str, int]] | None:
        """QuorumCnxManager.connectOne(sid): the last committed config's addresses for sid,
        else the last proposed one's, else none (a sid no config names)."""
        for qv in (self.quorum, self.last_seen):
            s = qv.all_members.get(sid)
            if s is not None:
                return list(s.election_addrs)
        return None

    def set_last_seen(self, qv: QuorumMaj, write: bool = True) -> None:
        """setLastSeenQuorumVerifier: remember a proposed config, dial its new members and
        write `<zoo.cfg>.dynamic.next`."""
        if not self.reconfig_enabled or self.last_seen.version == qv.version:
            return
        if qv.version < self.last_seen.version:
            log.error("setLastSeenQuorumVerifier called with stale config",
                      version=hex(qv.version), current=hex(self.quorum.version))
        self.last_seen = qv  # connectNewPeers: the election manager's lookup now finds them
        if write and self.config.source is not None:
            dyn = reconfig.dynamic_file_text(qv, True)
            self._write_file(Path(f"{self.config.source}.dynamic.next"), dyn)

    def set_quorum_verifier(self, qv: QuorumMaj, write: bool = True) -> QuorumMaj:
        """setQuorumVerifier: activate `qv` (if newer), write `<zoo.cfg>.dynamic.<version>` and
        point zoo.cfg at it; returns the previous config (the current one if `qv` is not newer)."""
        if self.quorum.version >= qv.version:
            return self.quorum
        prev = self.quorum
        self.quorum = qv
        if qv.version > self.last_seen.version:
            self.last_seen = qv
        src = self.config.source
        if write and src is not None:
            dyn_path = Path(f"{src}.dynamic.{qv.version:x}")
            self._write_file(dyn_path, reconfig.dynamic_file_text(qv, False))
            # needEraseClientInfoFromStaticConfig reads the config just activated: my entry
            # there names a client address of its own, so clientPort* must go from zoo.cfg.
            mine = qv.all_members.get(self.my_id)
            erase = mine is not None and mine.client_port is not None \
                and not mine.client_from_static
            text = Path(src).read_text()
            self._write_file(Path(src), reconfig.edited_static_config(
                text, str(dyn_path.resolve()), erase))
        if qv.version == self.last_seen.version and src is not None:
            with contextlib.suppress(OSError):
                Path(f"{src}.dynamic.next").unlink()
        me = qv.all_members.get(self.my_id)
        if me is not None:
            self.me = me
        if self.fle is not None:
            self.fle.quorum = qv
        return prev

    def process_reconfig(self, qv: QuorumMaj, suggested_leader: int | None,
                         zxid: int | None) -> bool:
        """processReconfig: activate, refresh /zookeeper/config, and report whether this
        server's role or leader changes (then it must leave its current role)."""
        if not self.reconfig_enabled:
            return False
        prev = self.set_quorum_verifier(qv, True)
        self.init_config_in_db()
        if not (prev.version < qv.version and prev != qv):
            return False
        log.info("reconfig activated", version=hex(qv.version),
                 voters=sorted(qv.voting_members), observers=sorted(qv.observing_members))
        role_change = self._update_learner_type(qv)
        if role_change:
            self.reconfig_flag = True  # updateLearnerType: reconfigFlagSet
        if suggested_leader is not None:
            cv = self.fle.current_vote if self.fle is not None else None
            leader_change = cv is not None and cv.id != suggested_leader
            if leader_change and self.fle is not None:
                # updateVote: the designated leader, taken after this role ends
                self.fle.current_vote = Vote(suggested_leader, zxid or 0)
                self.reconfig_flag = True
                log.warning("Suggested leader", leader=suggested_leader)
        else:
            self.reconfig_flag = False  # no designated leader: an election decides
            # getCurrentVote().getId(): an observer's leader_id names its learner master.
            cv = self.fle.current_vote if self.fle is not None else None
            lid = cv.id if cv is not None else self.leader_id
            old = prev.voting_members.get(lid)
            new = qv.voting_members.get(lid)
            leader_change = old is None or new is None or \
                set(old.quorum_addrs) != set(new.quorum_addrs)
        return role_change or leader_change

    def _update_learner_type(self, qv: QuorumMaj) -> bool:
        """updateLearnerType: observer if listed as one, else a (possibly non-voting)
        participant."""
        observer = self.my_id in qv.observing_members
        if observer == self.observer:
            return False
        self.observer = observer
        if self.fle is not None:
            self.fle.participant = not observer
        log.info("Becoming an observer" if observer else "Becoming a voting participant"
                 if self.my_id in qv.voting_members else "Becoming a non-voting participant")
        return True

    def init_config_in_db(self) -> None:
        if self.server is not None:  # initConfigInZKDatabase after a reconfig: tell watchers
            for watcher, ev in self.init_config_node(self.server.tree):
                watcher.send_event(ev)

    @staticmethod
    def _write_file(path: Path, text: str | bytes) -> None:
        """AtomicFileWritingIdiom: write a sibling temp file, fsync, rename over."""
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    # -- views ------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        if isinstance(self.server, ReadOnlyServer) and self.server.serving:
            return "read-only"  # ReadOnlyZooKeeperServer.getState
        if self.role is None or self.server is None or not self.server.serving:
            return "looking"
        return {ServerState.LEADING: "leader", ServerState.FOLLOWING: "follower",
                ServerState.OBSERVING: "observer"}.get(self.state, "looking")
