"""The simulated network behind SimLoop.create_connection / create_server: in-memory TCP.

Each connection is FIFO in each direction with a seeded delay per write; writes on different
connections interleave freely. A listener belongs to the member that opened it (its
incarnation, from the context); the dialler is whoever's task dials. Partitions refuse new
connections across the cut and reset those that cross it; a crash resets its member's
connections (the peers see ECONNRESET, as after a killed process's kernel sends RST).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

from tests.simulation.simloop import MEMBER, Incarnation, SimLoop

# Addresses are "10.22.0.<sid>" in the simulated configs; nothing binds them.


def sid_of_host(host: str) -> int:
    return int(host.rsplit(".", 1)[1])


class _End(asyncio.Transport):
    """One side of a connection, the transport its protocol writes to."""

    def __init__(self, conn: Connection, side: int, protocol: asyncio.BaseProtocol,
                 peername: tuple[str, int], sockname: tuple[str, int]) -> None:
        super().__init__()
        self.conn = conn
        self.side = side
        self.protocol = protocol
        self._extra = {"peername": peername, "sockname": sockname, "socket": None}
        self.closing = False
        self.lost = False
        self.paused = False
        self.held: list[bytes] = []
        self.eof_held = False
        self.last_at = 0.0  # FIFO: nothing sent later may arrive earlier

    # -- asyncio.Transport -----------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closing or not data:
            return
        self.conn.send(self, bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.conn.fin(self)

    def abort(self) -> None:
        self.conn.reset()

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        if not self.paused:
            return
        self.paused = False
        held, self.held = self.held, []
        for data in held:
            self.deliver(data)
        if self.eof_held:
            self.eof_held = False
            self.deliver_fin()

    def is_reading(self) -> bool:
        return not self.paused

    # -- arrivals ---------------------------------------------------------------------------
    def deliver(self, data: bytes) -> None:
        if self.lost:
            return
        if self.paused:
            self.held.append(data)
            return
        self.protocol.data_received(data)  # type: ignore[attr-defined]

    def deliver_fin(self) -> None:
        if self.lost:
            return
        if self.paused:
            self.eof_held = True
            return
        keep_open = self.protocol.eof_received()  # type: ignore[attr-defined]
        if not keep_open or self.closing:
            self.connection_lost(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost:
            return
        self.lost = True
        self.closing = True
        if all(e.lost for e in self.conn.ends):
            self.conn.fabric.connections.discard(self.conn)
        self.protocol.connection_lost(exc)


class Connection:
    def __init__(self, fabric: Fabric, owners: tuple[Incarnation | None, Incarnation | None],
                 contexts: tuple[contextvars.Context, contextvars.Context]) -> None:
        self.fabric = fabric
        self.owners = owners
        self.contexts = contexts
        self.ends: list[_End] = []
        self.broken = False
        fabric.serial += 1
        self.serial = fabric.serial
        # Sees every write (side, bytes); may return a length: the write is cut there, that
        # much of it arrives, and the connection resets right after (an RST mid-stream).
        self.watch: Callable[[int, bytes], int | None] | None = None

    def other(self, end: _End) -> _End:
        return self.ends[1 - end.side]

    def _at(self, end: _End) -> float:
        loop = self.fabric.loop
        at = max(loop.time() + self.fabric.delay_s(), end.last_at + 1e-6)  # no ties: FIFO
        end.last_at = at
        return at

    def send(self, end: _End, data: bytes) -> None:
        if self.broken:
            return
        cut = self.watch(end.side, data) if self.watch is not None else None
        dst = self.other(end)
        at = self._at(end)
        if cut is not None:
            data = data[:cut]
            # After the prefix arrives, before anything written later could (FIFO spacing is
            # 1 us); in no member's context, so a crash of the writer does not cancel it.
            self.fabric.loop.call_at(at + 1e-7, self.reset, context=contextvars.Context())
        if data:
            self.fabric.loop.call_at(at, self._arrive, dst, data,
                                     context=self.contexts[dst.side])

    def _arrive(self, dst: _End, data: bytes) -> None:
        if not self.broken:
            self.fabric.bytes_delivered += len(data)
            dst.deliver(data)

    def fin(self, end: _End) -> None:
        """An orderly close: the FIN follows the data already written."""
        if self.broken:
            return
        dst = self.other(end)
        loop = self.fabric.loop
        loop.call_at(self._at(end), self._arrive_fin, dst, context=self.contexts[dst.side])
        loop.call_soon(end.connection_lost, None, context=self.contexts[end.side])

    def _arrive_fin(self, dst: _End) -> None:
        if not self.broken:
            dst.deliver_fin()

    def reset(self) -> None:
        """RST: in-flight data is lost and both sides see the connection fail."""
        if self.broken:
            return
        self.broken = True
        # Still held until both ends have seen the reset, as a selector holds its sockets:
        # the tasks reading them must not be collected while they wait.
        loop = self.fabric.loop
        for end in self.ends:
            if not end.lost:
                loop.call_soon(end.connection_lost, ConnectionResetError("simulated reset"),
                               context=self.contexts[end.side])


class Listener:
    """What create_server returns (the parts of asyncio.Server the hosts use)."""

    def __init__(self, fabric: Fabric, factory: Callable[[], asyncio.BaseProtocol],
                 addr: tuple[str, int], serving: bool) -> None:
        self.fabric = fabric
        self.factory = factory
        self.addr = addr
        self.owner = MEMBER.get()
        self.context = contextvars.copy_context()
        self.serving = serving
        self.closed = False
        self.sockets: list[Any] = []

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.fabric.listeners.get(self.addr) is self:
                del self.fabric.listeners[self.addr]

    async def wait_closed(self) -> None:
        pass

    async def start_serving(self) -> None:
        self.serving = True

    def is_serving(self) -> bool:
        return self.serving and not self.closed

    async def __aenter__(self) -> Listener:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Fabric:
    def __init__(self, loop: SimLoop, max_delay_ms: float = 4.0) -> None:
        self.loop = loop
        loop.network = self
        self.rng = loop.rng
        self.max_delay_ms = max_delay_ms
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.connections: set[Connection] = set()
        self.cut: set[frozenset[int]] = set()  # pairs of member ids that cannot talk
        self.bytes_delivered = 0
        self.resets = 0
        self.serial = 0
        # Called with each new connection and its listener port: may return its watch.
        self.on_connect: Callable[[Connection, int],
                                  Callable[[int, bytes], int | None] | None] | None = None

    def delay_s(self) -> float:
        return self.rng.uniform(0.05, self.max_delay_ms) / 1000

    # -- the loop's network API ---------------------------------------------------------------
    def listen(self, factory: Callable[[], asyncio.BaseProtocol], host: Any, port: int,
               serving: bool) -> Listener:
        if not isinstance(host, str):
            raise OSError(22, f"simulated listeners need one address, not {host!r}")
        if (host, port) in self.listeners:
            raise OSError(98, "Address already in use")
        ln = self.listeners[(host, port)] = Listener(self, factory, (host, port), serving)
        return ln

    async def connect(self, factory: Callable[[], asyncio.BaseProtocol], host: str,
                      port: int) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        me = MEMBER.get()
        await asyncio.sleep(self.delay_s())
        ln = self.listeners.get((host, port))
        src = me.sid if me is not None else 0
        dst = sid_of_host(host)
        if ln is None or not ln.is_serving() or (ln.owner is not None and not ln.owner.alive) \
                or frozenset((src, dst)) in self.cut:
            raise ConnectionRefusedError(111, f"simulated: {host}:{port} refused")
        conn = Connection(self, (me, ln.owner), (contextvars.copy_context(), ln.context))
        here = (f"10.22.0.{src}", 40000 + len(self.connections))
        protocol = factory()
        client = _End(conn, 0, protocol, (host, port), here)
        ln_ctx = ln.context.copy()
        server_protocol = ln_ctx.run(ln.factory)
        server = _End(conn, 1, server_protocol, here, (host, port))
        conn.ends = [client, server]
        self.connections.add(conn)
        if self.on_connect is not None:
            conn.watch = self.on_connect(conn, port)
        ln_ctx.run(server_protocol.connection_made, server)
        protocol.connection_made(client)
        return client, protocol

    # -- faults ----------------------------------------------------------------------------
    def partition(self, side: set[int], everyone: set[int]) -> None:
        for a in side:
            for b in everyone - side:
                self.cut.add(frozenset((a, b)))
        for conn in sorted(self.connections, key=lambda c: c.serial):
            sids = conn_sids(conn)
            if any(frozenset((a, b)) in self.cut for a in sids for b in sids if a != b):
                self.resets += 1
                conn.reset()

    def heal(self) -> None:
        self.cut.clear()

    def crashed(self, inc: Incarnation) -> None:
        for conn in sorted(self.connections, key=lambda c: c.serial):
            if inc in conn.owners:
                self.resets += 1
                conn.reset()
        for addr, ln in list(self.listeners.items()):
            if ln.owner is inc:
                del self.listeners[addr]

    def reset_random(self) -> bool:
        live = sorted((c for c in self.connections if not c.broken), key=lambda c: c.serial)
        if not live:
            return False
        conn = self.rng.choice(live)
        self.resets += 1
        conn.reset()
        return True


def conn_sids(conn: Connection) -> set[int]:
    out = set()
    for o in conn.owners:
        if o is not None:
            out.add(o.sid)
    return out
