"""A learner serves a session the leader revalidated before its createSession is applied here.

Java's LearnerSessionTracker.touchSession (no local sessions) is always true and puts (session,
the connection's timeout) into the touch table the next PING reports, so a client that
re-attaches to a lagging follower or observer is answered at once. With local sessions on it
refuses a session that is neither local nor global nor upgrading here. The real ZkServer runs
here behind the real forwarding write path, without a leader: its REVALIDATE is answered by hand.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from pyzk.config.load import build_config
from pyzk.protocol import records as r
from pyzk.protocol.framing import frame
from pyzk.protocol.opcodes import Op
from pyzk.server import forwarding as forwarding_module
from pyzk.server.connection import ClientConn
from pyzk.server.forwarding import ForwardingWrites
from pyzk.server.persistence import open_storage
from pyzk.server.zkserver import ZkServer
from pyzk.session.javarandom import session_password
from pyzk.session.tracker import SessionTracker
from pyzk.zab import learner as N
from tests.unit.test_zkserver_clock import RecordingTransport, _NoWords

if not str(forwarding_module.__file__).endswith(".py"):
    pytest.skip("subclasses ForwardingWrites, which compiled (pyzk.tools.compiled) does not "
                "allow; the ensemble tests cover the compiled learners", allow_module_level=True)

# A session another member created (its id embeds server id 2); not in this server's table.
OTHERS = (2 << 56) | 0x1234
TIMEOUT = 6000


class Learner(ForwardingWrites):
    """The forwarding write path with no leader connection (what it sends is dropped)."""

    def __init__(self, server: ZkServer) -> None:
        self.server = server
        self.writer = None
        self.done = asyncio.Event()
        self.core = N.LearnerCore(1, False, 1, 1, 0, touches=self._touches)
        self._init_forwarding()


async def _learner(tmp: Path, local_sessions: bool) -> tuple[ZkServer, Learner]:
    cfg = build_config({"dataDir": str(tmp), "clientPort": "2181", "tickTime": "1000",
                        "forceSync": "no", "admin.enableServer": "false"})
    storage = open_storage(cfg)
    tree, sessions = storage.recover()
    srv = ZkServer(cfg, tree, storage, sessions=sessions, server_id=1)
    if local_sessions:
        srv.local = SessionTracker(cfg.tick_time_ms, 1, 0)
    srv.leads = False
    srv.writes = writes = Learner(srv)
    srv.start()
    return srv, writes


async def _frames(tr: RecordingTransport, n: int) -> list[bytes]:
    """The frames once there are `n` (or what came within a second)."""
    for _ in range(20):  # bounded: 20 waits of 50 ms
        if len(tr.frames) >= n:
            break
        await asyncio.sleep(0.05)
    return tr.frames


async def _reattached(srv: ZkServer, writes: Learner) -> tuple[ClientConn, RecordingTransport]:
    """A client re-attaches to OTHERS here and the leader says the session is valid."""
    tr = RecordingTransport()
    conn = ClientConn(srv, _NoWords(), 0, {})  # type: ignore[arg-type]
    conn.connection_made(tr)  # type: ignore[arg-type]
    conn.data_received(frame(r.ConnectRequest.to_bytes(
        r.ConnectRequest(0, 0, TIMEOUT, OTHERS, session_password(OTHERS))) + b"\0"))
    assert list(writes.revalidating) == [OTHERS]
    writes._revalidated_here(N.Revalidated(OTHERS, True))
    (first,) = await _frames(tr, 1)
    resp, _ = r.ConnectResponse.decode(first, 0)
    assert (resp.sessionId, resp.timeOut) == (OTHERS, TIMEOUT)
    assert OTHERS not in srv.sessions.sessions  # its createSession is not applied here
    return conn, tr


def _forwarded(writes: Learner) -> list[tuple[int, int]]:
    """(session, cxid) of every forwarded request still waiting for its txn, in order."""
    return [(sid, cxid) for sid, q in writes.origins.items() for cxid, _ in q]


def _exists(conn: ClientConn, xid: int) -> None:
    conn.data_received(frame(struct.pack(">ii", xid, Op.EXISTS)
                             + r.ExistsRequest.to_bytes(r.ExistsRequest("/", False))))


@pytest.mark.asyncio
async def test_revalidated_session_is_served_and_reported_before_its_create_applies(
        tmp_path: Path) -> None:
    srv, writes = await _learner(tmp_path, local_sessions=False)
    try:
        conn, tr = await _reattached(srv, writes)
        writes._touches()  # whatever the re-attach itself reported
        _exists(conn, 1)
        frames = await _frames(tr, 2)
        assert len(frames) == 2, "the request of the revalidated session was dropped"
        assert struct.unpack(">iqi", frames[1][:16])[::2] == (1, 0)  # xid 1, no error
        # The next PING tells the leader the session is alive, with the connection's timeout.
        assert writes._touches() == [(OTHERS, TIMEOUT)]
        conn.data_received(frame(struct.pack(">ii", -2, Op.PING)))
        frames = await _frames(tr, 3)
        assert len(frames) == 3 and struct.unpack(">i", frames[2][:4])[0] == -2
        assert writes._touches() == [(OTHERS, TIMEOUT)]
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_with_local_sessions_an_unknown_global_session_is_still_refused(
        tmp_path: Path) -> None:
    srv, writes = await _learner(tmp_path, local_sessions=True)
    try:
        conn, tr = await _reattached(srv, writes)
        writes._touches()
        _exists(conn, 1)
        assert len(await _frames(tr, 2)) == 1  # dropped, as Java's touchSession refuses it
        assert writes._touches() == []
    finally:
        await srv.stop()


class WorkerLike(Learner):
    """A worker's forwarding path: one server with its member, which refuses these."""

    forwards_closing = False


@pytest.mark.asyncio
@pytest.mark.parametrize("worker", [False, True])
async def test_a_closing_sessions_writes_go_to_the_leader_from_a_learner(
        tmp_path: Path, worker: bool) -> None:
    """After closeSession, a learner (LearnerSessionTracker: a global session's touch is
    true, closing or not) forwards the session's next write, which the leader logs as an
    error txn; its reads stay unanswered. A worker drops both, as its member would."""
    srv, writes = await _learner(tmp_path, local_sessions=False)
    if worker:
        srv.writes = writes = WorkerLike(srv)
    try:
        conn, tr = await _reattached(srv, writes)
        srv.sessions.add(OTHERS, TIMEOUT, srv.clock.mono_ms())  # its createSession applied
        conn.data_received(frame(struct.pack(">ii", 1, Op.CLOSE_SESSION)))
        assert _forwarded(writes) == [(OTHERS, 1)]  # forwarded; the session is closing here
        _exists(conn, 2)
        conn.data_received(frame(struct.pack(">ii", 3, Op.CREATE) + r.CreateRequest.to_bytes(
            r.CreateRequest("/x", b"", [r.ACL(31, r.Id("world", "anyone"))], 0))))
        # The exists (2) is not forwarded; the create (3) is, by a learner only.
        assert _forwarded(writes) == [(OTHERS, 1)] + ([] if worker else [(OTHERS, 3)])
        assert len(await _frames(tr, 2)) == 1  # only the ConnectResponse: nothing answered
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_an_applied_create_session_is_reported_with_the_txns_timeout(
        tmp_path: Path) -> None:
    """LearnerSessionTracker.commitSession: applying a CreateSessionTxn puts (session, its
    timeOut) in the touch table, after any touch of the session's own requests, so the next
    PING touches it so on the leader. A createSession sent inside a session with a tiny
    timeOut then makes the session expire on a Java follower; a pyzk follower reported only the
    connection's timeout and kept it (follower differential fuzz, seed 11 case 8829)."""
    srv, writes = await _learner(tmp_path, local_sessions=False)
    try:
        conn, _ = await _reattached(srv, writes)
        srv.sessions.add(OTHERS, TIMEOUT, srv.clock.mono_ms())
        writes._touches()
        _exists(conn, 1)  # its own request touches it first, with the connection's timeout
        hdr = r.TxnHeader(OTHERS, 2, 5, 0, Op.CREATE_SESSION)
        writes._applied(N.Entry(5, hdr, r.CreateSessionTxn(2), None))
        assert writes._touches() == [(OTHERS, 2)]
    finally:
        await srv.stop()
