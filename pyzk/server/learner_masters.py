"""Which server an observer attaches to (QuorumPeer.findLearnerMaster): with
observerMasterPort set, the voters' ObserverMasters in a shuffled order, one after another on
each attempt (the leader is among them and refuses, as it serves none); else the leader.
"""

from __future__ import annotations

import random

from ..zab.quorum import QuorumMaj
from .learner_host import Master


class LearnerMasters:
    def __init__(self, port: int, rng: random.Random | None = None) -> None:
        self.port = port
        self.rng = rng or random.Random()
        self.masters: list[Master] = []
        self.version: int | None = None
        self.next = 0

    def _update(self, qv: QuorumMaj) -> None:
        """updateObserverMasterList: every voter's quorum address with our observerMasterPort,
        shuffled, from the start again whenever the config changes."""
        self.version = qv.version
        self.masters = [Master(sid, s.host, self.port) for sid, s in qv.voting_members.items()]
        self.rng.shuffle(self.masters)
        self.next = 0

    def find(self, qv: QuorumMaj, observer: bool) -> tuple[Master | None, bool]:
        """The next master to try, or None for the leader; and whether the list wrapped
        around (Java waits observer.reconnectDelayMs only then, or always for the leader)."""
        if self.port <= 0 or not observer:
            return None, True
        if qv.version != self.version or not self.masters:
            self._update(qv)
        if not self.masters:
            return None, True
        wrapped = self.next >= len(self.masters)
        if wrapped:
            self.next = 0
        master = self.masters[self.next]
        self.next += 1
        return master, wrapped
