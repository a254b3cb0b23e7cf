"""asyncio QuorumCnxManager for the election port (QuorumCnxManager.java, release-3.8.4), and
ElectionService, which drives the pure FLE state machine (pyzk.zab.election) over it.

The only asyncio module of the election: handshake (initial message), only the larger sid's
connection survives, int-length framing bounded by PACKETMAXSIZE, a send queue of one per peer
(newest notification wins) plus resend of the last message on a new connection, receive queue
of 100 dropping the oldest, dial retries with backoff while a message waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyzk.sasl.quorum import QuorumAuthError
from pyzk.zab.election_addresses import (
    VALIDATE_TIMEOUT_S,
    Addr,
    Addrs,
    MultiAddress,
    addr_list,
    listen_addrs,
)
from pyzk.zab.election_peer import Peer, dial_failed, dial_worked, open_election_connection
from pyzk.zab.packets_election import (
    OBSERVER_ID_SID,
    PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
    ElectionWireError,
    InitialMessage,
    check_addr_len,
    check_frame_len,
    format_addr,
    frame,
    parse_addresses,
)

if TYPE_CHECKING:
    from pyzk.server.quorum_net import QuorumListener, QuorumNet

log = logging.getLogger(__name__)

RECV_CAPACITY = 100        # QuorumCnxManager.RECV_CAPACITY
CONNECT_TIMEOUT_S = 5.0    # QuorumCnxManager cnxTO default (zookeeper.cnxTimeout, ms)
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 5.0
BIND_RETRY_WAIT_S = 1.0    # Listener.ListenerHandler sleeps 1 s after each failed bind
UNABLE_TO_BIND_QUORUM_PORT = 14  # ExitCode: the process's status once on_bind_failed is called


class QuorumCnxManager:
    def __init__(self, my_id: int, election_addr: Addrs,
                 view: dict[int, Addr] | dict[int, list[Addr]],
                 on_receive: Callable[[], None] | None = None,
                 net: QuorumNet | None = None,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 read_timeout_s: float = CONNECT_TIMEOUT_S,
                 multi: MultiAddress | None = None, listen_all_ips: bool = False,
                 keepalive: bool = False, bind_retry: int = 3) -> None:
        self.my_id = my_id
        self.keepalive = keepalive  # tcpKeepAlive: setSockOpts on both ends of each connection
        # electionPortBindRetry: binds tried per address, 0 = for ever (Listener).
        self.bind_retry = bind_retry
        # Called once every election address has run out of bind retries: Java exits with
        # UNABLE_TO_BIND_QUORUM_PORT (14). None: keep running without a listener.
        self.on_bind_failed: Callable[[], None] | None = None
        self._binding: list[asyncio.Task[None]] = []
        self.listen_all_ips = listen_all_ips  # quorumListenOnAllIPs
        self.net = net  # pyzk.server.quorum_net: TLS, port unification, SASL; None = plaintext
        # Java authenticates only when dialling a member of the voting view.
        self.voting: Callable[[int], bool] = lambda sid: True
        # cnxTimeout: how long a dial may take (Java's cnxTO). The socket timeout
        # (quorumCnxnTimeoutMs, else tickTime * syncLimit: QuorumPeer.createCnxnManager) bounds
        # each read of a peer's initial message; then the connection is dropped.
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.election_addrs = addr_list(election_addr)  # every address we listen on
        self.election_addr = self.election_addrs[0]
        self.multi = multi or MultiAddress()
        # sid -> election addresses (voters and observers) of the configuration we started
        # with; once `addresses` is set (QuorumPeer), the live one is asked instead.
        self.view: dict[int, list[Addr]] = {sid: addr_list(a) for sid, a in view.items()}
        # connectOne(sid)'s lookup: the last committed config, then the last proposed one.
        self.addresses: Callable[[int], list[Addr] | None] | None = None
        self.peers: dict[int, Peer] = {}
        self.recv_queue: deque[tuple[int, bytes]] = deque(maxlen=RECV_CAPACITY)
        self.recv_event = asyncio.Event()
        self._on_receive = on_receive
        # Called when a peer connection comes or goes (the election's peers_changed).
        self.on_peers: Callable[[], None] | None = None
        self._servers: list[asyncio.Server | QuorumListener] = []
        self._validating: set[int] = set()
        self._observer_counter = -1
        self._closed = False

    async def start(self) -> None:
        """Listener: one ListenerHandler per election address. The first bind of each is
        awaited; one that fails is retried in the background (Java's Listener is a thread and
        the peer starts regardless)."""
        addrs = listen_addrs(self.election_addrs, self.listen_all_ips)
        failed: list[tuple[str | None, int]] = []
        for host, port in addrs:
            if not await self._bind(host, port):
                failed.append((host, port))
        if failed:
            left = [len(failed)]
            for addr in failed:
                self._binding.append(asyncio.ensure_future(self._rebind(addr, left)))

    async def _bind(self, host: str | None, port: int) -> bool:
        try:
            if self.net is not None and self.net.listens_tls:
                self._servers.append(await self.net.listen(self._accept, host, port))
            else:
                server = await asyncio.start_server(self._accept, host, port)
                if self.keepalive:
                    # Linux hands SO_KEEPALIVE down to accepted sockets: every connection
                    # has it from its first moment, as Java's accept thread sets it at once
                    # (_accept, a task, may run later; _sock_opts there covers other kernels).
                    for sock in server.sockets:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                self._servers.append(server)
        except OSError as e:
            log.error("Exception while listening to address %s: %s",
                      format_addr(host or "0.0.0.0", port),
                      os.strerror(e.errno) if e.errno else e)
            return False
        log.info("%d is accepting connections now, my election bind port: %s", self.my_id,
                 format_addr(host or "0.0.0.0", port))
        return True

    async def _rebind(self, addr: tuple[str | None, int], left: list[int]) -> None:
        """ListenerHandler.acceptConnections after a failed first bind: sleep 1 s, try again,
        until electionPortBindRetry binds have failed; left counts the addresses still trying,
        as Java's Listener exits only once every handler has given up."""
        tries = 1
        while not self._closed and (self.bind_retry == 0 or tries < self.bind_retry):
            await asyncio.sleep(BIND_RETRY_WAIT_S)
            if self._closed:
                return
            if await self._bind(*addr):
                return
            tries += 1
        await asyncio.sleep(BIND_RETRY_WAIT_S)  # Java sleeps after the last failure too
        if self._closed:
            return
        log.error("Leaving listener thread for address %s after %d errors. Use "
                  "zookeeper.electionPortBindRetry property to increase retry count.",
                  format_addr(addr[0] or "0.0.0.0", addr[1]), tries)
        left[0] -= 1
        if left[0] > 0 or self._servers:
            return  # another address still listens: Java's Listener waits for its handler
        log.info("Leaving listener")
        log.error("As I'm leaving the listener thread, I won't be able to participate in "
                  "leader election any longer: %s",
                  "|".join(format_addr(*a) for a in self.election_addrs))
        if self.on_bind_failed is not None:
            self.on_bind_failed()

    async def _open(self, host: str, port: int) -> tuple[asyncio.StreamReader,
                                                          asyncio.StreamWriter]:
        """A plain connection to a member's election port (keepalive as tcpKeepAlive says)."""
        return await open_election_connection(host, port, self.keepalive)

    def _sock_opts(self, writer: asyncio.StreamWriter) -> None:
        """QuorumCnxManager.setSockOpts: SO_KEEPALIVE as tcpKeepAlive says (asyncio already
        sets TCP_NODELAY)."""
        if self.keepalive:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def initial_message(self) -> InitialMessage:
        """V2 with every election address when multiAddress.enabled, else V1 with one (what
        a 3.5 member understands: ZOOKEEPER-3720)."""
        if self.multi.enabled:
            return InitialMessage(self.my_id, "|".join(format_addr(*a) for a in
                                                       self.election_addrs), PROTOCOL_VERSION_V2)
        return InitialMessage(self.my_id, format_addr(*self.election_addr), PROTOCOL_VERSION_V1)

    async def close(self) -> None:
        self._closed = True
        for task in self._binding:
            task.cancel()
        for server in self._servers:
            server.close()
        for sid in list(self.peers):
            self._finish(sid)
            p = self.peers.get(sid)
            if p is not None and p.dialing is not None:
                p.dialing.cancel()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    # -- queues ---------------------------------------------------------------------------------
    def _peer(self, sid: int) -> Peer:
        return self.peers.setdefault(sid, Peer())

    def known(self, sid: int) -> list[Addr] | None:
        """The election addresses a configuration gives `sid`, or None: a sid no config names
        (a hostile one, a dynamic observer, a joiner not yet proposed) is only ever answered
        on its own connection or dialled back once at the address it sent."""
        if self.addresses is not None:
            return self.addresses(sid)
        return self.view.get(sid)

    def _forget(self, sid: int) -> None:
        """Drop what we hold for a sid no config names once nothing is left to do for it, so
        that a stream of made-up sids cannot grow the table (Java's queueSendMap keeps one
        entry per sid for ever)."""
        p = self.peers.get(sid)
        if p is None or p.writer is not None or sid == self.my_id or self.known(sid):
            return
        if p.dialing is not None and not p.dialing.done() and \
                p.dialing is not asyncio.current_task():
            return
        del self.peers[sid]

    def to_send(self, sid: int, payload: bytes) -> None:
        """QuorumCnxManager.toSend: loop back to myself, else replace the peer's pending message
        (SEND_CAPACITY 1) and make sure a connection is being made."""
        if sid == self.my_id:
            self._deliver(sid, payload)
            return
        p = self._peer(sid)
        p.slot = payload
        p.wake.set()
        self.connect_one(sid)

    def _deliver(self, sid: int, payload: bytes) -> None:
        self.recv_queue.append((sid, payload))   # deque(maxlen) drops the oldest, as Java does
        self.recv_event.set()
        if self._on_receive is not None:
            self._on_receive()

    async def recv(self) -> tuple[int, bytes]:
        while not self.recv_queue:
            self.recv_event.clear()
            await self.recv_event.wait()
        return self.recv_queue.popleft()

    def have_delivered(self) -> bool:
        # Java's haveDelivered answers true as soon as any one queue is empty.
        return any(p.slot is None for p in self.peers.values()) or not self.peers

    def connected(self, sid: int) -> bool:
        p = self.peers.get(sid)
        return p is not None and p.writer is not None

    def gone_sids(self) -> frozenset[int]:
        """Peers this server had a connection with that is now down."""
        return frozenset(sid for sid, p in self.peers.items() if p.was_up and p.writer is None)

    # -- connections ----------------------------------------------------------------------------
    def connect_all(self) -> None:
        for sid in list(self.peers):
            self.connect_one(sid)

    def connect_one(self, sid: int, addr: list[Addr] | None = None) -> None:
        p = self._peer(sid)
        if not self._closed and p.writer is not None:
            self._validate(sid, p.writer)
        if self._closed or p.writer is not None or (p.dialing and not p.dialing.done()):
            return
        known = self.known(sid)
        targets = addr or known
        if not targets:
            log.warning("Invalid server id: %s", sid)
            self._forget(sid)
            return
        # connectOne(sid, electionAddr) for a sid no config names: one attempt, no retries.
        p.dialing = asyncio.ensure_future(self._dial(sid, targets, once=not known))

    def _validate(self, sid: int, writer: asyncio.StreamWriter) -> None:
        """connectOne on a live connection, under multiAddress.enabled with the reachability
        check: drop it if its peer no longer answers a probe, so the next dial picks another."""
        m = self.multi
        if not (m.enabled and m.check_enabled) or m.reachable is None or sid in self._validating:
            return
        peer = writer.get_extra_info("peername")
        if not peer:
            return
        self._validating.add(sid)
        probe = m.reachable

        async def check() -> None:
            try:
                if not await probe(peer[0], VALIDATE_TIMEOUT_S):
                    log.warning("destination address %s not reachable anymore, shutting down"
                                " the SendWorker for sid %s", peer[0], sid)
                    self._finish(sid, writer)
            finally:
                self._validating.discard(sid)
        # Held with the connection's tasks: ended with it, and not collected while it runs.
        self._peer(sid).tasks.append(asyncio.ensure_future(check()))

    async def _target(self, addrs: list[Addr]) -> Addr:
        """getReachableOrOne (Java probes whether or not reachabilityCheckEnabled is set)."""
        pick = self.multi.pick
        return addrs[0] if len(addrs) == 1 or pick is None else await pick(addrs, self.multi.timeout_s)

    async def _dial(self, sid: int, addrs: list[Addr], once: bool = False) -> None:
        backoff = BACKOFF_MIN_S
        while not self._closed:
            p = self.peers.get(sid)
            if p is not None and p.writer is not None:
                # connectOne: "There is a connection already for server": the peer dialled
                # us meanwhile. Dialling anyway would replace a working connection and make
                # both sides resend their last vote, restarting every finalizeWait.
                return
            addr = await self._target(addrs)
            try:
                reader, writer = await asyncio.wait_for(
                    self._open(addr[0], addr[1]) if self.net is None or not self.net.dials_tls
                    else self.net.dial(addr[0], addr[1]), self.connect_timeout_s)
            except (TimeoutError, OSError) as e:  # ssl errors are OSErrors
                dial_failed(self._peer(sid), sid, addr, e, self.connect_timeout_s, not once)
                p = self.peers.get(sid)
                if once:
                    self._forget(sid)
                    return
                if p is None or p.slot is None:
                    return            # nothing waiting: the FLE timeout will call connect_all
                p.retry_now.clear()
                try:
                    await asyncio.wait_for(p.retry_now.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            dial_worked(self._peer(sid), sid, addr)
            self._sock_opts(writer)
            if self.connected(sid):  # the peer's own dial won while ours was connecting
                writer.close()
                return
            try:
                await self._say_hello(writer)
            except OSError:
                writer.close()
                continue
            if self.net is not None and self.net.sasl is not None and self.voting(sid):
                # QuorumCnxManager.startConnection: voters are authenticated before the
                # challenge is decided, also when we are about to drop the connection.
                try:
                    await self.net.authenticate_dialled(reader, writer, election=True,
                                                        host=addr[0])
                except (QuorumAuthError, OSError, TimeoutError,
                        asyncio.IncompleteReadError) as e:
                    writer.close()
                    dial_failed(self._peer(sid), sid, addr, e, self.connect_timeout_s)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                    continue
            if sid > self.my_id:
                # Lost the challenge: the larger sid dials us (QuorumCnxManager.startConnection).
                writer.close()
                return
            self._install(sid, reader, writer)
            return

    async def _say_hello(self, writer: asyncio.StreamWriter) -> None:
        """Send our initial message on a dialled connection. One already reset raises
        ConnectionResetError: uvloop raises RuntimeError on a write to a closed transport."""
        if writer.is_closing():
            raise ConnectionResetError("closed before the initial message")
        writer.write(self.initial_message().encode())
        await writer.drain()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._sock_opts(writer)
        try:
            timeout = self.read_timeout_s
            head = await asyncio.wait_for(reader.readexactly(8), timeout)
            (first,) = struct.unpack(">q", head)
            addr: list[Addr] | None = None
            if first >= 0:
                sid = first          # pre-3.5 peers send their bare sid
            else:
                rest = await asyncio.wait_for(reader.readexactly(12), timeout)
                sid, n = struct.unpack(">qi", rest)
                check_addr_len(n)
                body = await asyncio.wait_for(reader.readexactly(n), timeout)
                msg = InitialMessage.decode(head + rest + body)
                addr = msg.host_ports() or None
        except ElectionWireError as e:
            log.warning("Initial message parsing error: %s", e)
            writer.close()
            return
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            # receiveConnection: the socket timeout ran out, or the peer went away
            peer = writer.get_extra_info("peername")
            log.error("Exception handling connection, addr: %s, closing server connection",
                      f"/{peer[0]}:{peer[1]}" if peer else "null")  # Java's InetSocketAddress
            writer.close()
            return
        if sid == OBSERVER_ID_SID:
            sid = self._observer_counter
            self._observer_counter -= 1
        if self.net is not None and \
                not await self.net.authenticate_accepted(reader, writer, election=True):
            writer.close()
            return
        if sid < self.my_id:
            # We win the challenge: drop theirs, dial back.
            self._finish(sid)
            writer.close()
            # Java dials back at once; a dialer of ours backing off after an earlier refusal
            # (the peer was not listening yet) retries now instead of after its back-off.
            self._peer(sid).retry_now.set()
            self.connect_one(sid, addr)
        elif sid == self.my_id:
            log.warning("We got a connection request from a server with our own ID.")
            writer.close()
        else:
            self._install(sid, reader, writer)

    def _install(self, sid: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self._finish(sid)
        known = self.known(sid)
        dial_worked(self._peer(sid), sid, known[0] if known else None)
        p = self._peer(sid)
        p.writer = writer
        p.was_up = True
        p.tasks = [asyncio.ensure_future(self._send_loop(sid, p, writer)),
                   asyncio.ensure_future(self._recv_loop(sid, reader, writer))]
        if self.on_peers is not None:
            self.on_peers()

    def _finish(self, sid: int, writer: asyncio.StreamWriter | None = None) -> None:
        p = self.peers.get(sid)
        if p is None or (writer is not None and p.writer is not writer):
            return
        was_up = p.writer is not None
        if p.writer is not None:
            p.writer.close()
        p.writer = None
        if was_up and self.on_peers is not None:
            self.on_peers()
        for t in p.tasks:
            if t is not asyncio.current_task():
                t.cancel()
        p.tasks = []
        if writer is not None:  # its connection ended
            self._forget(sid)

    async def _send_loop(self, sid: int, p: Peer, writer: asyncio.StreamWriter) -> None:
        # A connection the peer reset before this task ran (or while it waited) is closed:
        # uvloop raises RuntimeError on a write to a closed transport, so look first.
        try:
            if p.slot is None and p.last_sent is not None:
                # SendWorker.run: resend the last message in case the old connection lost it.
                if writer.is_closing():
                    raise ConnectionResetError("closed before the resend")
                writer.write(frame(p.last_sent))
                await writer.drain()
            while True:
                while p.slot is None:
                    p.wake.clear()
                    await p.wake.wait()
                if writer.is_closing():
                    raise ConnectionResetError("closed")
                b, p.slot = p.slot, None
                p.last_sent = b
                writer.write(frame(b))
                await writer.drain()
        except (OSError, ConnectionError):
            self._finish(sid, writer)

    async def _recv_loop(self, sid: int, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (n,) = struct.unpack(">i", await reader.readexactly(4))
                check_frame_len(n)
                self._deliver(sid, await reader.readexactly(n))
        except (OSError, asyncio.IncompleteReadError, ElectionWireError, ConnectionError) as e:
            log.info("Connection broken for id %s, my id = %s: %s", sid, self.my_id, e)
        self._finish(sid, writer)


__all__ = ["QuorumCnxManager", "parse_addresses"]
