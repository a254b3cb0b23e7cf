"""Fast leader election as a pure state machine (FastLeaderElection.java lookForLeader and its
WorkerReceiver, release-3.8.4). Inputs are messages and timer firings with the caller's clock;
outputs are action dataclasses. No I/O, no clock, no randomness.

Loopback: a voter's broadcast includes its own sid, and the driver must hand that copy back
through on_message (QuorumCnxManager.toSend puts self-addressed messages on the receive queue);
that is how a voter's own vote enters its recvset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyzk.zab.packets_election import CURRENT_VERSION, Notification
from pyzk.zab.quorum import QuorumMaj, QuorumOracleMaj
from pyzk.zab.reconfig import config_from_string
from pyzk.zab.vote import LONG_MIN, ServerState, Vote, total_order

FINALIZE_WAIT_MS = 200                # FastLeaderElection.finalizeWait
MIN_NOTIFICATION_INTERVAL_MS = 200    # zookeeper.fastleader.minNotificationInterval default
MAX_NOTIFICATION_INTERVAL_MS = 60000  # zookeeper.fastleader.maxNotificationInterval default


@dataclass(frozen=True)
class SendNotification:
    """Send one notification to one peer (a reply)."""
    to_sid: int
    notification: Notification


@dataclass(frozen=True)
class Broadcast:
    """sendNotifications: the same notification to each sid (may include my own: loop it back)."""
    to_sids: tuple[int, ...]
    notification: Notification


@dataclass(frozen=True)
class Decided:
    """lookForLeader returned: the end vote and the state this server moves to."""
    vote: Vote
    state: ServerState


@dataclass(frozen=True)
class SetTimer:
    """Call on_timer at (or after) at_ms; replaces any earlier timer. None cancels."""
    at_ms: int | None


@dataclass(frozen=True)
class ConnectAll:
    """Notification timeout while some send queue is still full: retry connections instead of
    resending (lookForLeader: `manager.haveDelivered() ? sendNotifications() : connectAll()`)."""


@dataclass(frozen=True)
class LookingPeer:
    """A LOOKING voter contacted this non-LOOKING server (Leader.reportLookingSid)."""
    sid: int


@dataclass(frozen=True)
class RivalLeader:
    """A LEADING server heard another voter claim leadership (the seed's "multiple leaders")."""
    sid: int
    peer_epoch: int
    my_epoch: int


@dataclass(frozen=True)
class AdoptConfig:
    """A notification carried a newer config while LOOKING (WorkerReceiver): the host must
    QuorumPeer.processReconfig(quorum, null, null, false) it. `restarted`: the membership
    differs, so the election began again under it (Java shuts the election down and
    QuorumPeer.run starts a new one)."""
    quorum: QuorumMaj
    previous_version: int
    restarted: bool


Action = (SendNotification | Broadcast | Decided | SetTimer | ConnectAll | LookingPeer
          | RivalLeader | AdoptConfig)


@dataclass
class ElectionStats:
    rounds_started: int = 0
    messages_in: int = 0
    messages_out: int = 0
    timeouts: int = 0


@dataclass
class FLE:
    """One server's election. `participant` is Java's LearnerType (observers run the same loop
    with Long.MIN_VALUE proposals and decide OBSERVING)."""

    my_id: int
    quorum: QuorumMaj
    participant: bool | None = None
    reconfig_enabled: bool = False  # QuorumPeer.isReconfigEnabled: gossiped configs are adopted
    min_interval_ms: int = MIN_NOTIFICATION_INTERVAL_MS
    max_interval_ms: int = MAX_NOTIFICATION_INTERVAL_MS
    state: ServerState = ServerState.LOOKING
    logical_clock: int = 0
    current_vote: Vote | None = None       # QuorumPeer.currentVote
    proposed_leader: int = -1
    proposed_zxid: int = -1
    proposed_epoch: int = -1
    stats: ElectionStats = field(default_factory=ElectionStats)
    _last_zxid: int = 0
    _current_epoch: int = 0
    _recvset: dict[int, Vote] = field(default_factory=dict)
    _outofelection: dict[int, Vote] = field(default_factory=dict)
    _not_timeout: int = 0
    _finalizing: bool = False
    # Peers whose election connection was up and broke, as the transport last reported
    # (None: it does not report, and every decision waits out finalizeWait as Java's does).
    _gone: frozenset[int] | None = None
    _deadline: int | None = None
    _running: bool = False

    def __post_init__(self) -> None:
        if self.participant is None:
            self.participant = self.quorum.is_voter(self.my_id)

    # -- proposals (getInitId / getInitLastLoggedZxid / getPeerEpoch) -------------------------
    def _init_id(self) -> int:
        return self.my_id if self.quorum.is_voter(self.my_id) else LONG_MIN

    def _init_zxid(self) -> int:
        return self._last_zxid if self.participant else LONG_MIN

    def _init_epoch(self) -> int:
        return self._current_epoch if self.participant else LONG_MIN

    def _update_proposal(self, leader: int, zxid: int, epoch: int) -> None:
        self.proposed_leader, self.proposed_zxid, self.proposed_epoch = leader, zxid, epoch

    def proposal(self) -> Vote:
        """getVote()."""
        return Vote(self.proposed_leader, self.proposed_zxid, -1, self.proposed_epoch)

    def _note(self, state: ServerState, v_id: int, zxid: int, round_: int, epoch: int) -> Notification:
        return Notification(int(state), v_id, zxid, round_, epoch, CURRENT_VERSION,
                            self.quorum.config_bytes())

    def _send_notifications(self) -> list[Action]:
        voters = tuple(sorted(self.quorum.voting_members))
        self.stats.messages_out += len(voters)
        return [Broadcast(voters, self._note(ServerState.LOOKING, self.proposed_leader,
                                             self.proposed_zxid, self.logical_clock,
                                             self.proposed_epoch))]

    def _better(self, leader: int, zxid: int, epoch: int, cur_id: int, cur_zxid: int,
                cur_epoch: int) -> bool:
        return total_order(leader, zxid, epoch, cur_id, cur_zxid, cur_epoch,
                           self.quorum.weight(leader))

    # -- lookForLeader -----------------------------------------------------------------------
    def start(self, last_zxid: int, current_epoch: int, now_ms: int) -> list[Action]:
        """Begin a round (QuorumPeer.startLeaderElection on first use, then lookForLeader)."""
        self._last_zxid, self._current_epoch = last_zxid, current_epoch
        if self.current_vote is None:
            self.current_vote = Vote(self.my_id, last_zxid, -1, current_epoch)
        self.state = ServerState.LOOKING
        self._running = True
        self._recvset.clear()
        self._outofelection.clear()
        self._finalizing = False
        self._not_timeout = self.min_interval_ms
        self.logical_clock += 1
        self.stats.rounds_started += 1
        self._update_proposal(self._init_id(), self._init_zxid(), self._init_epoch())
        return [*self._send_notifications(), *self._arm(now_ms, self._not_timeout)]

    @property
    def notification_timeout_ms(self) -> int:
        """lookForLeader's notTimeout: the current wait before resending the vote."""
        return self._not_timeout

    def _arm(self, now_ms: int, delay: int) -> list[Action]:
        self._deadline = now_ms + delay
        return [SetTimer(self._deadline)]

    def on_timer(self, now_ms: int, have_delivered: bool = True) -> list[Action]:
        if not self._running or self._deadline is None or now_ms < self._deadline:
            return []
        if self._finalizing:
            # No better vote within finalizeWait: the proposal stands.
            return self._decide(self.proposed_leader, self.proposed_zxid, self.logical_clock,
                                self.proposed_epoch)
        self.stats.timeouts += 1
        out: list[Action] = self._send_notifications() if have_delivered else [ConnectAll()]
        self._not_timeout = min(self._not_timeout * 2, self.max_interval_ms)
        if isinstance(self.quorum, QuorumOracleMaj) and self._recvset and \
                self._not_timeout != self.min_interval_ms:
            # revalidateVoteset: after a timeout, the votes for my proposal (with the oracle's
            # word for a lone member) settle the election.
            mine = Vote(self.proposed_leader, self.proposed_zxid, self.logical_clock,
                        self.proposed_epoch)
            if self._tracker_has_quorum(self._recvset, mine):
                return out + self._decide(self.proposed_leader, self.proposed_zxid,
                                          self.logical_clock, self.proposed_epoch)
        return out + self._arm(now_ms, self._not_timeout)

    def _decide(self, leader: int, zxid: int, round_: int, epoch: int) -> list[Action]:
        if leader == self.my_id:
            self.state = ServerState.LEADING
        else:
            self.state = ServerState.FOLLOWING if self.participant else ServerState.OBSERVING
        vote = Vote(leader, zxid, round_, epoch)
        self.current_vote = vote
        self._running = False
        self._finalizing = False
        self._deadline = None
        self._recvset.clear()
        self._outofelection.clear()
        return [SetTimer(None), Decided(vote, self.state)]

    def assume(self) -> Decided:
        """QuorumPeer.updateServerState with the reconfig flag set: no election; the current
        vote (the designated leader a reconfig named) decides the state."""
        vote = self.current_vote
        assert vote is not None
        if vote.id == self.my_id:
            self.state = ServerState.LEADING
        else:
            self.state = ServerState.FOLLOWING if self.participant else ServerState.OBSERVING
        return Decided(vote, self.state)

    def update_election_vote(self, new_epoch: int) -> None:
        """QuorumPeer.updateElectionVote: after a leader is established its epoch is the one
        peers are told about (ZOOKEEPER-1732)."""
        v = self.current_vote
        if v is not None:
            self.current_vote = Vote(v.id, v.zxid, v.election_epoch, new_epoch, v.state, v.version)

    def stop(self) -> list[Action]:
        """Leave the election without a decision (shutdown)."""
        self._running = False
        self._deadline = None
        return [SetTimer(None)]

    # -- WorkerReceiver + one lookForLeader iteration -----------------------------------------
    def on_message(self, from_sid: int, n: Notification, now_ms: int) -> list[Action]:
        self.stats.messages_in += 1
        out: list[Action] = []
        if self.reconfig_enabled and n.version > 1 and n.config:
            out = self._newer_config(n.config, now_ms)
            if out and isinstance(out[0], AdoptConfig) and out[0].restarted:
                return out  # Java's WorkerReceiver breaks off: this message is not counted
        if not self.quorum.is_voter(from_sid):
            # Non-voters (observers) get our current vote straight back.
            cv = self.current_vote or self.proposal()
            out.append(SendNotification(from_sid, self._note(
                self.state, cv.id, cv.zxid, self.logical_clock, cv.peer_epoch)))
            self.stats.messages_out += 1
            return out
        if n.state not in (0, 1, 2, 3):
            return out
        nstate = ServerState(n.state)
        if self.state == ServerState.LOOKING:
            if nstate == ServerState.LOOKING and n.election_epoch < self.logical_clock:
                # A lagging LOOKING peer is told our proposal and round.
                out.append(SendNotification(from_sid, self._note(
                    ServerState.LOOKING, self.proposed_leader, self.proposed_zxid,
                    self.logical_clock, self.proposed_epoch)))
                self.stats.messages_out += 1
            if self._running:
                out += self._loop_step(from_sid, nstate, n, now_ms)
            return out
        if (self.state == ServerState.LEADING and from_sid != self.my_id
                and ((nstate == ServerState.LEADING and n.leader == from_sid)
                     or (nstate == ServerState.FOLLOWING and n.leader != self.my_id))):
            cv = self.current_vote or self.proposal()
            out.append(RivalLeader(n.leader, n.peer_epoch, cv.peer_epoch))
        if nstate == ServerState.LOOKING:
            cv = self.current_vote or self.proposal()
            if self.state == ServerState.LEADING:
                out.append(LookingPeer(from_sid))
            out.append(SendNotification(from_sid, self._note(
                self.state, cv.id, cv.zxid, cv.election_epoch, cv.peer_epoch)))
            self.stats.messages_out += 1
        return out

    def _newer_config(self, data: bytes, now_ms: int) -> list[Action]:
        """WorkerReceiver: `if (rqv.getVersion() > curQV.getVersion())` and we are LOOKING,
        processReconfig it; when the membership changed, restart the election under it
        (QuorumPeer.startLeaderElection: a fresh FastLeaderElection, logical clock 0, current
        vote = my own). updateLearnerType: an observer in the new config observes."""
        try:
            rqv = config_from_string(data.decode("utf-8", "replace"))
        except ValueError:
            return []  # Java: "Something went wrong while processing config received from"
        cur = self.quorum
        if rqv.version <= cur.version or self.state != ServerState.LOOKING:
            return []
        self.quorum = rqv
        self.participant = self.my_id not in rqv.observing_members
        restart = rqv != cur and self._running
        out: list[Action] = [AdoptConfig(rqv, cur.version, restart)]
        if restart:
            self.logical_clock = 0
            self.current_vote = None
            out += self.start(self._last_zxid, self._current_epoch, now_ms)
        return out

    def _loop_step(self, sid: int, nstate: ServerState, n: Notification,
                   now_ms: int) -> list[Action]:
        if self._finalizing:
            # finalizeWait: a better vote ends the wait and is processed; others are dropped.
            if not self._better(n.leader, n.zxid, n.peer_epoch, self.proposed_leader,
                                self.proposed_zxid, self.proposed_epoch):
                return self._arm(now_ms, FINALIZE_WAIT_MS)
            self._finalizing = False
        out: list[Action] = []
        if not (self.quorum.is_voter(sid) and self.quorum.is_voter(n.leader)):
            return self._arm(now_ms, self._not_timeout)
        if nstate == ServerState.LOOKING:
            out += self._on_looking(sid, n, now_ms)
        elif nstate in (ServerState.FOLLOWING, ServerState.LEADING):
            decided = self._on_following(sid, nstate, n)
            oracle = self.quorum
            if (not decided and nstate == ServerState.LEADING
                    and isinstance(oracle, QuorumOracleMaj) and oracle.need_oracle
                    and not oracle.ask()):
                # receivedLeadingNotification: a recovered member of a two-voter ensemble
                # never sees a majority follow the leader; an oracle that does not grant it
                # the lead means the leader is the one it granted: "Oracle indicates to follow".
                decided = self._decide(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
            out += decided
        if self._running and not self._finalizing:
            out += self._arm(now_ms, self._not_timeout)
        return out

    def _tracker_has_quorum(self, votes: dict[int, Vote], vote: Vote) -> bool:
        return self.quorum.contains_quorum(s for s, v in votes.items() if vote.same_as(v))

    def _on_looking(self, sid: int, n: Notification, now_ms: int) -> list[Action]:
        out: list[Action] = []
        if self._init_zxid() == -1 or n.zxid == -1:
            return out
        if n.election_epoch > self.logical_clock:
            self.logical_clock = n.election_epoch
            self._recvset.clear()
            if self._better(n.leader, n.zxid, n.peer_epoch, self._init_id(), self._init_zxid(),
                            self._init_epoch()):
                self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            else:
                self._update_proposal(self._init_id(), self._init_zxid(), self._init_epoch())
            out += self._send_notifications()
        elif n.election_epoch < self.logical_clock:
            return out
        elif self._better(n.leader, n.zxid, n.peer_epoch, self.proposed_leader,
                          self.proposed_zxid, self.proposed_epoch):
            self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            out += self._send_notifications()
        self._recvset[sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        mine = Vote(self.proposed_leader, self.proposed_zxid, self.logical_clock,
                    self.proposed_epoch)
        if self._tracker_has_quorum(self._recvset, mine):
            if self._all_reachable_agree(mine):
                return out + self._decide(self.proposed_leader, self.proposed_zxid,
                                          self.logical_clock, self.proposed_epoch)
            self._finalizing = True
            out += self._arm(now_ms, FINALIZE_WAIT_MS)
        return out

    def peers_changed(self, gone: frozenset[int], now_ms: int) -> list[Action]:
        """The transport's report of the peers it was connected to and lost. A finalizeWait
        that only waits for such peers ends at once."""
        self._gone = gone
        if self._running and self._finalizing:
            mine = Vote(self.proposed_leader, self.proposed_zxid, self.logical_clock,
                        self.proposed_epoch)
            if self._all_reachable_agree(mine):
                return self._decide(self.proposed_leader, self.proposed_zxid,
                                    self.logical_clock, self.proposed_epoch)
        return []

    def _all_reachable_agree(self, mine: Vote) -> bool:
        """Java waits finalizeWait (200 ms) after a quorum agrees, for a better vote that may
        still be on its way. When every other voter has already voted the same or is a peer
        this server was connected to and lost (its process died: kill -9 closes its sockets),
        no better vote can come, so pyzk decides now: after a leader's kill -9 the survivors
        elect without the 200 ms. A quorum still makes the choice, so it is as safe as Java's.
        A peer never reached (not started yet) or silently partitioned (its connection looks
        up) still gets Java's wait, so elections at start-up pick the same leader as Java's."""
        if self._gone is None:
            return False
        for sid in self.quorum.voting_members:
            if sid == self.my_id or sid in self._gone:
                continue
            v = self._recvset.get(sid)
            if v is None or not mine.same_as(v):
                return False
        v = self._recvset.get(self.my_id)
        return v is not None and mine.same_as(v)

    def _check_leader(self, votes: dict[int, Vote], leader: int, round_: int) -> bool:
        """checkLeader: a leader other than me must itself have said LEADING."""
        if leader != self.my_id:
            v = votes.get(leader)
            return v is not None and v.state == ServerState.LEADING
        return self.logical_clock == round_

    def _on_following(self, sid: int, nstate: ServerState, n: Notification) -> list[Action]:
        theirs = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, nstate, n.version)
        if n.election_epoch == self.logical_clock:
            self._recvset[sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, nstate)
            if (self._tracker_has_quorum(self._recvset, theirs)
                    and self._check_leader(self._recvset, n.leader, n.election_epoch)):
                return self._decide(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        # Joining an established ensemble: a quorum must follow the same leader (ZOOKEEPER-1732).
        self._outofelection[sid] = theirs
        if (self._tracker_has_quorum(self._outofelection, theirs)
                and self._check_leader(self._outofelection, n.leader, n.election_epoch)):
            self.logical_clock = n.election_epoch
            return self._decide(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        return []
