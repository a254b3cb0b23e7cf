"""Session tracker: live sessions, their timeouts and tick-bucket expiry (pure; time is passed in).

Mirrors SessionTrackerImpl + ExpiryQueue: a touch moves a session to the bucket
roundToNextInterval(now + timeout); a tick expires every session whose bucket time has passed.
Session ids follow SessionTrackerImpl.initializeNextSessionId so they embed the server id.
"""

from __future__ import annotations

from dataclasses import dataclass

from .javarandom import session_password

_LONG_MIN = -(1 << 63)


def _to_signed64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def initial_session_id(server_id: int, now_ms: int) -> int:
    """((now << 24) >>> 8) | (sid << 56), skipping the container marker Long.MIN_VALUE."""
    base = ((now_ms << 24) & ((1 << 64) - 1)) >> 8
    sid = _to_signed64(base | ((server_id & 0xFF) << 56))
    return sid + 1 if sid == _LONG_MIN else sid


@dataclass(slots=True)
class Session:
    session_id: int
    timeout_ms: int
    expire_at: int = 0
    closing: bool = False


class SessionTracker:
    def __init__(self, tick_ms: int, server_id: int, now_ms: int) -> None:
        self.tick_ms = tick_ms
        self.sessions: dict[int, Session] = {}
        self._buckets: dict[int, set[int]] = {}
        self._next_id = initial_session_id(server_id, now_ms)

    def timeouts(self) -> dict[int, int]:
        """session id -> timeout (ms) of every live session: what a snapshot stores and what
        a new server over the same database starts from."""
        return {sid: s.timeout_ms for sid, s in self.sessions.items()}

    def _round(self, t: int) -> int:
        return (t // self.tick_ms + 1) * self.tick_ms

    def new_session_id(self) -> int:
        sid = self._next_id
        self._next_id = _to_signed64(self._next_id + 1)
        return sid

    @staticmethod
    def password(session_id: int) -> bytes:
        return session_password(session_id)

    def check_password(self, session_id: int, passwd: bytes | None) -> bool:
        return session_id != 0 and passwd == session_password(session_id)

    def add(self, session_id: int, timeout_ms: int, now_ms: int) -> Session:
        s = self.sessions.get(session_id)
        if s is None:
            s = Session(session_id, timeout_ms)
            self.sessions[session_id] = s
        s.timeout_ms = timeout_ms
        self._move(s, self._round(now_ms + timeout_ms))
        return s

    def _move(self, s: Session, expire_at: int) -> None:
        if s.expire_at == expire_at:
            return
        old = self._buckets.get(s.expire_at)
        if old is not None:
            old.discard(s.session_id)
            if not old:
                del self._buckets[s.expire_at]
        s.expire_at = expire_at
        self._buckets.setdefault(expire_at, set()).add(s.session_id)

    def touch(self, session_id: int, now_ms: int, timeout_ms: int | None = None) -> bool:
        """Renew a session; False if it is unknown or already closing (touchSession).

        `timeout_ms`: the toucher's (its connection's) timeout, which sets this expiry only,
        as SessionTrackerImpl.updateSessionExpiry: the session keeps the timeout it was
        created with (snapshots, `dump`); None uses that one."""
        s = self.sessions.get(session_id)
        if s is None or s.closing:
            return False
        tick = self.tick_ms
        expire_at = ((now_ms + (s.timeout_ms if timeout_ms is None else timeout_ms))
                     // tick + 1) * tick  # _round, inline
        if expire_at != s.expire_at:
            self._move(s, expire_at)
        return True

    def set_closing(self, session_id: int) -> None:
        s = self.sessions.get(session_id)
        if s is not None:
            s.closing = True

    def remove(self, session_id: int) -> None:
        s = self.sessions.pop(session_id, None)
        if s is not None:
            bucket = self._buckets.get(s.expire_at)
            if bucket is not None:
                bucket.discard(session_id)
                if not bucket:
                    del self._buckets[s.expire_at]

    def expire(self, now_ms: int) -> list[int]:
        """Sessions whose deadline has passed; they are marked closing (not removed)."""
        due = sorted(t for t in self._buckets if t <= now_ms)
        out: list[int] = []
        for t in due:
            for sid in sorted(self._buckets.pop(t)):
                s = self.sessions[sid]
                s.expire_at = 0
                if not s.closing:
                    s.closing = True
                    out.append(sid)
        return out

    def buckets(self) -> list[tuple[int, list[int]]]:
        """(expiry time, session ids) oldest first, for the `dump` command."""
        return [(t, sorted(self._buckets[t])) for t in sorted(self._buckets)]

    def next_deadline_ms(self) -> int | None:
        return min(self._buckets) if self._buckets else None
