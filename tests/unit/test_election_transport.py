"""The asyncio QuorumCnxManager speaks Java's election-port handshake and framing, keeps only
the larger sid's connection, and three pyzk ElectionServices elect one leader over loopback
(127.0.0.105-107)."""

from __future__ import annotations

import asyncio
import socket
import struct

from pyzk.config.model import QuorumServer
from pyzk.zab.election import FLE
from pyzk.zab.election_service import ElectionService
from pyzk.zab.election_transport import QuorumCnxManager
from pyzk.zab.packets_election import InitialMessage, Notification
from pyzk.zab.quorum import QuorumMaj
from pyzk.zab.vote import ServerState

HOSTS = {1: "127.0.0.105", 2: "127.0.0.106", 3: "127.0.0.107"}


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ensemble() -> dict[int, tuple[str, int]]:
    return {sid: (h, free_port(h)) for sid, h in HOSTS.items()}


def test_three_services_elect_the_highest_sid() -> None:
    addrs = ensemble()
    q = QuorumMaj({sid: QuorumServer(sid, h, 2888, p) for sid, (h, p) in addrs.items()})

    async def main() -> list[tuple[int, ServerState]]:
        svcs = [ElectionService(FLE(sid, q), QuorumCnxManager(sid, addrs[sid], addrs))
                for sid in addrs]
        for s in svcs:
            await s.start()
        try:
            ds = await asyncio.wait_for(asyncio.gather(*(s.elect(0, 0) for s in svcs)), 20)
            # Each pair ends with one live connection, the one the larger sid dialed.
            for s in svcs:
                for other in addrs:
                    if other != s.fle.my_id:
                        for _ in range(100):
                            if s.manager.connected(other):
                                break
                            await asyncio.sleep(0.02)
                        assert s.manager.connected(other)
            return [(d.vote.id, d.state) for d in ds]
        finally:
            for s in svcs:
                await s.close()

    got = asyncio.run(main())
    assert got == [(3, ServerState.FOLLOWING), (3, ServerState.FOLLOWING),
                   (3, ServerState.LEADING)]


def test_smaller_sid_is_hung_up_on_and_dialed_back_with_the_initial_message() -> None:
    me = (HOSTS[2], free_port(HOSTS[2]))
    lst = socket.socket()
    lst.bind((HOSTS[1], 0))
    lst.listen(1)
    lst.settimeout(10)
    peer1 = (HOSTS[1], lst.getsockname()[1])

    async def main() -> bytes:
        m = QuorumCnxManager(2, me, {1: peer1})
        await m.start()
        try:
            loop = asyncio.get_running_loop()
            c = socket.create_connection(me, timeout=5)
            c.sendall(InitialMessage(1, f"{peer1[0]}:{peer1[1]}").encode())
            got = await loop.run_in_executor(None, c.recv, 10)
            assert got == b""                         # we (sid 1) lost: they hang up...
            c.close()
            d, _ = await loop.run_in_executor(None, lst.accept)   # ...and dial us back
            d.settimeout(5)
            head = await loop.run_in_executor(None, d.recv, 20)
            (n,) = struct.unpack_from(">i", head, 16)
            while len(head) < 20 + n:
                head += await loop.run_in_executor(None, d.recv, 20 + n - len(head))
            # A framed notification sent as sid 1 arrives at the manager.
            note = Notification(0, 1, 0, 1, 0).encode()
            d.sendall(struct.pack(">i", len(note)) + note)
            sid, payload = await asyncio.wait_for(m.recv(), 5)
            assert sid == 1 and payload == note
            d.close()
            return head
        finally:
            await m.close()

    head = asyncio.run(main())
    lst.close()
    assert InitialMessage.decode(head) == InitialMessage(2, f"{me[0]}:{me[1]}")


def test_oversized_frame_drops_the_connection() -> None:
    me = (HOSTS[3], free_port(HOSTS[3]))

    async def main() -> bytes:
        m = QuorumCnxManager(1, me, {})
        await m.start()
        try:
            r, w = await asyncio.open_connection(*me)
            w.write(InitialMessage(5, "127.0.0.1:1").encode() + struct.pack(">i", 512 * 1024 + 1))
            await w.drain()
            return await asyncio.wait_for(r.read(), 5)
        finally:
            await m.close()

    assert asyncio.run(main()) == b""


def test_unreachable_peer_is_logged_at_once_then_rate_limited(monkeypatch, caplog) -> None:
    """A lone member says whom it cannot reach and why (Java: "Cannot open channel to N at
    election address ..."), then once per interval, and when the peer comes up."""
    import logging

    from pyzk.zab import election_peer
    from pyzk.zab import election_transport as et

    monkeypatch.setattr(et, "BACKOFF_MIN_S", 0.01)
    monkeypatch.setattr(et, "BACKOFF_MAX_S", 0.02)
    monkeypatch.setattr(election_peer, "UNREACHABLE_LOG_INTERVAL_S", 0.3)
    addrs = ensemble()
    caplog.set_level(logging.INFO, logger="pyzk.zab.election_transport")

    async def main() -> None:
        me = QuorumCnxManager(2, addrs[2], addrs)
        await me.start()
        try:
            me.to_send(1, b"vote")  # nobody listens on server 1's address yet
            await asyncio.sleep(0.45)
            peer = QuorumCnxManager(1, addrs[1], addrs)
            await peer.start()
            try:
                for _ in range(100):
                    if me.connected(1):
                        break
                    await asyncio.sleep(0.02)
                assert me.connected(1)
            finally:
                await peer.close()
        finally:
            await me.close()

    asyncio.run(main())
    host, port = addrs[1]
    lines = [r.getMessage() for r in caplog.records]
    cannot = [m for m in lines if m.startswith("Cannot open channel to 1")]
    assert cannot[0] == (f"Cannot open channel to 1 at election address {host}:{port}: "
                         "Connection refused; still trying")
    assert 2 <= len(cannot) <= 3, lines  # ~20 failed dials in 0.45 s, reported every 0.3 s
    assert "attempts since the last report" in cannot[1]
    assert any(m.startswith("Connected to 1 at election address") for m in lines), lines


def test_sids_no_config_names_leave_nothing_behind_and_are_dialled_back_once() -> None:
    """A stream of made-up sids on the election port: those below ours are dialled back once
    at the address they sent (connectOne(sid, electionAddr)), never again (connectOne(sid)
    finds no config naming them: "Invalid server id"), and no entry outlives its connection,
    so the peer table stays bounded. A configured member is still dialled from the live
    config."""
    me = (HOSTS[2], free_port(HOSTS[2]))
    member = (HOSTS[3], free_port(HOSTS[3]))
    dials: list[int] = []

    async def main() -> tuple[int, int, set[int]]:
        async def count(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            dials.append(1)
            w.close()

        trap = await asyncio.start_server(count, HOSTS[1], 0)
        trap_addr = f"{HOSTS[1]}:{trap.sockets[0].getsockname()[1]}"
        m = QuorumCnxManager(1000, me, {})
        m.addresses = lambda sid: [member] if sid == 999 else None
        await m.start()
        try:
            for sid in list(range(1, 41)) + list(range(2000, 2040)):
                r, w = await asyncio.open_connection(*me)
                w.write(InitialMessage(sid, trap_addr).encode())
                await w.drain()
                if sid < 1000:
                    await asyncio.wait_for(r.read(), 5)  # hung up on: we dial back
                w.close()
            for _ in range(200):  # bounded: every dial-back done, every connection gone
                if len(dials) >= 40 and not m.peers:
                    break
                await asyncio.sleep(0.02)
            m.connect_all()
            m.to_send(2001, b"vote")  # a reply to a sid whose connection is gone
            await asyncio.sleep(0.3)
            left = len(m.peers)
            m.to_send(999, b"vote")  # a configured member: dialled at its config address
            return left, len(dials), set(m.peers)
        finally:
            await m.close()
            trap.close()

    left, dialled, peers = asyncio.run(main())
    assert left == 0
    assert dialled == 40
    assert peers == {999}


def test_a_connection_closed_before_its_send_task_runs_ends_quietly_under_uvloop() -> None:
    """uvloop raises RuntimeError on a write to a closed transport (asyncio's loop only warns):
    a peer connection that is closed before its send task resends the last vote (a peer that
    connected and reset at once, a killed member) must end like any broken connection, not as
    a task exception nobody retrieves (seen in test_peer_fuzz's failover under CI)."""
    import uvloop

    from pyzk.zab.election_transport import Peer

    async def main() -> None:
        srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        mgr = QuorumCnxManager(1, ("127.0.0.1", 0), {})
        for resend in (True, False):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            p = Peer()
            p.writer = writer
            mgr.peers[7] = p
            if resend:
                p.last_sent = b"vote"
            writer.close()  # the transport is closed before the task's first write
            task = asyncio.ensure_future(mgr._send_loop(7, p, writer))
            if not resend:
                await asyncio.sleep(0)
                p.slot = b"vote"
                p.wake.set()
            await asyncio.wait_for(task, 5)  # returns: no RuntimeError escapes
            assert task.exception() is None
            assert mgr.peers.get(7) is None or mgr.peers[7].writer is None
        srv.close()

    uvloop.run(main())


def test_with_tcp_keep_alive_every_election_socket_has_it_from_its_first_moment() -> None:
    """tcpKeepAlive: Java sets SO_KEEPALIVE before connect() and right at accept(). A dialled
    socket gets it before it connects, and the listening socket hands it to every accepted one
    (Linux), so no established election connection is ever seen without it (CI caught one
    both of whose ends were still without it)."""

    async def main() -> None:
        mgr = QuorumCnxManager(1, ("127.0.0.1", 0), {}, keepalive=True)
        seen: list[int] = []
        got = asyncio.Event()

        async def before_accept_runs(reader: asyncio.StreamReader,
                                     writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")  # _accept's own _sock_opts has not run
            seen.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
            got.set()
            writer.close()

        mgr._accept = before_accept_runs  # type: ignore[method-assign]
        assert await mgr._bind("127.0.0.1", 0)
        port = mgr._servers[0].sockets[0].getsockname()[1]
        _, writer = await mgr._open("127.0.0.1", port)
        dialled = writer.get_extra_info("socket")
        assert dialled.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        await asyncio.wait_for(got.wait(), 5)
        assert seen == [1]
        writer.close()
        for srv in mgr._servers:
            srv.close()

    asyncio.run(main())
