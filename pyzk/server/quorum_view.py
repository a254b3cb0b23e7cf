"""The view of a quorum member for the four-letter words, AdminServer and metrics: the
current role's ZooKeeperServer plus Mode, the leader's learner gauges and the quorum `conf`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..fourlw.info import DEFAULT_TRACE_MASK, ConfInfo, QuorumConf, QuorumInfo, ServerStatsInfo
from .leader_host import LeaderHost
from .learner_host import LearnerHost
from .view import LiveView

if TYPE_CHECKING:
    from ..metrics import ServerMetrics
    from .observer_master_host import ObserverMasterHost
    from .quorum_peer import QuorumPeer
    from .zkserver import ZkServer


class QuorumView(LiveView):
    """The view of a quorum member (pyzk.server.quorum_peer): whichever ZooKeeperServer the
    current role runs, plus Mode, the leader's learner gauges and the quorum `conf` lines."""

    def __init__(self, peer: QuorumPeer, client_port: bool = False,
                 twin: QuorumView | None = None) -> None:
        self.peer = peer
        self.client_port = client_port  # the view of the client port's four-letter words
        # The client port's view shares the trace mask (ZooTrace's one static) and start time
        # of the member's view.
        self._masks: list[int] = twin._masks if twin is not None else [DEFAULT_TRACE_MASK]
        self.started_wall_ms = twin.started_wall_ms if twin is not None \
            else int(time.time() * 1000)

    @property  # type: ignore[override]
    def trace_mask(self) -> int:
        return self._masks[0]

    @trace_mask.setter
    def trace_mask(self, mask: int) -> None:
        self._masks[0] = mask

    @property
    def server(self) -> ZkServer:  # type: ignore[override]
        return self.peer.server  # type: ignore[return-value]

    def _own_metrics(self) -> ServerMetrics:
        return self.peer.metrics  # one ServerMetrics for the process, as Java's singleton

    @property
    def is_serving(self) -> bool:
        srv = self.peer.server
        return srv is not None and srv.serving and (srv.on_client_port or not self.client_port)

    @property
    def is_read_only(self) -> bool:
        """isro answers "ro" while the member serves as ReadOnlyZooKeeperServer."""
        srv = self.peer.server
        return srv is not None and srv.serving and srv.read_only

    @property
    def stats(self) -> ServerStatsInfo:
        info = super().stats
        info.server_state = self.peer.mode
        return info

    @property
    def peer_state(self) -> str | None:
        """QuorumPeer.getDetailedPeerState: "following - broadcast" and the like."""
        state = {"leader": "leading", "follower": "following", "observer": "observing"}.get(
            self.peer.mode, "looking")
        return f"{state} - {'broadcast' if state != 'looking' else 'election'}"

    def _leader(self) -> LeaderHost | None:
        role = self.peer.role
        return role if isinstance(role, LeaderHost) else None

    def _observer_master(self) -> ObserverMasterHost | None:
        """A follower's ObserverMaster, while it serves observers (observerMasterPort)."""
        role = self.peer.role
        return role.om if isinstance(role, LearnerHost) else None

    @property
    def quorum(self) -> QuorumInfo:
        p = self.peer
        me = p.me
        leader = p.quorum.all_members.get(p.leader_id)  # the active (possibly reconfigured) view
        voting = {sid: {"address": "|".join(f"{h}:{q}:{e}" for h, q, e in s.addresses),
                        "learner_type": s.learner_type.value}
                  for sid, s in p.quorum.all_members.items() if not s.is_observer}
        lh = self._leader()
        om = self._observer_master()
        obs = [] if lh is None else [
            {"learner_master_id": p.my_id, "sid": sid, "address": addr}
            for sid, addr, synced in lh.learner_info() if synced and lh.is_observer(sid)]
        if om is not None:  # Follower.getSyncedObserversInfo
            obs = [{"learner_master_id": p.my_id, "sid": sid, "address": addr}
                   for sid, addr in om.observer_info()]
        return QuorumInfo(
            is_leader=p.mode == "leader", leader_id=p.leader_id,
            # setLeaderAddressAndId: the leader's distinct hosts joined by '|'; a
            # MultipleAddresses prints its addresses joined by '|' as well.
            leader_ip="|".join(dict.fromkeys(h for h, _, _ in leader.addresses))
            if leader is not None else "", myid=p.my_id,
            quorum_address="|".join(f"{h}:{q}" for h, q in me.quorum_addrs),
            election_address="|".join(f"{h}:{e}" for h, e in me.election_addrs),
            client_address=f"{me.client_host or '0.0.0.0'}:{p.config.client_port}",
            voting=not me.is_observer,
            zabstate="broadcast" if p.mode != "looking" else "election",
            voting_view=voting, synced_observers=len(obs), observers=obs)

    @property
    def conf(self) -> ConfInfo:
        c = super().conf
        p = self.peer
        cfg = p.config
        c.quorum = QuorumConf(
            init_limit=cfg.init_limit, sync_limit=cfg.sync_limit, election_alg=cfg.election_alg,
            # MultipleAddresses.getAllPorts: each distinct port once
            election_ports=tuple(dict.fromkeys(e for _, e in p.me.election_addrs)),
            quorum_ports=tuple(dict.fromkeys(q for _, q in p.me.quorum_addrs)),
            peer_type=1 if p.me.is_observer else 0, membership=p.quorum.to_string())
        return c

    @property
    def proposal_sizes(self) -> tuple[int, int, int] | None:
        lh = self._leader()
        return None if lh is None else (lh.proposal_last, lh.proposal_min, lh.proposal_max)

    @property
    def monitor_gauges(self) -> Mapping[str, int | float | str | None]:
        g = dict(super().monitor_gauges)
        lh = self._leader()
        if lh is not None and self.is_serving:
            # LeaderZooKeeperServer's gauges (Leader.getLearners / getForwardingFollowers).
            info = lh.learner_info()
            followers = [x for x in info if not lh.is_observer(x[0])]
            g["learners"] = len(info)
            g["synced_followers"] = sum(1 for x in followers if x[2])
            g["synced_non_voting_followers"] = 0
            g["synced_observers"] = sum(1 for x in info if x[2] and lh.is_observer(x[0]))
            g["pending_syncs"] = sum(len(v) for v in lh.core.pending_syncs.values())
            up = lh.established_at
            g["leader_uptime"] = 0 if up is None else self._uptime_ms(up)
            g["last_proposal_size"] = lh.proposal_last
            g["max_proposal_size"] = lh.proposal_max
            g["min_proposal_size"] = lh.proposal_min
        om = self._observer_master()
        if om is not None and self.is_serving:
            # FollowerZooKeeperServer's gauge: null (not shown) without an ObserverMaster.
            g["synced_observers"] = len(om.core.synced())
        return g

    @staticmethod
    def _uptime_ms(since_loop_time: float) -> int:
        return int((asyncio.get_running_loop().time() - since_loop_time) * 1000)
