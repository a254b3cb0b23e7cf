"""One client connection on the client port: bytes in, frames to the server, replies out.

Before the handshake the first four bytes may be a four-letter word (answered, then closed).
Frames that arrive before the session is established are held, as Java disables receive until
finishSessionInit. Output is coalesced into one write per event-loop iteration.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from ..pipeline.request import Request
from ..protocol import records as r
from ..protocol.connect import decode_connect
from ..protocol.framing import FrameBuffer, FrameError
from ..protocol.jute import JuteError
from ..protocol.opcodes import OP_AUTH, OP_ERROR, OP_MULTI, OP_SASL
from .pending import Pending, ReplyQueue
from .stats import LAST_OP

if TYPE_CHECKING:
    from .fourlw_port import FourLetterWords
    from .zkserver import ZkServer

log = structlog.get_logger("pyzk.connection")

_REQ_HDR = r.RequestHeader
_REPLY_HDR = r.ReplyHeader
_REPLY_FRAME = struct.Struct(">iiqi")  # frame length + ReplyHeader
# Pause reading from a client that has this many requests outstanding (backpressure).
MAX_OUTSTANDING_PER_CONN = 1000


class ClientConn(asyncio.Protocol):
    # The client's certificate (DER): set by TlsClientConn when the TLS handshake gave one.
    peer_cert_der: bytes | None = None

    # Java's secure port and client.portUnification use the Netty factory, which neither sets
    # SO_KEEPALIVE nor logs a refusal by maxCnxns; the plain port's NIO factory does both.
    netty = False

    # A worker process's connection (pyzk.workers): its member counts the connections per
    # address, so it hears of each one that ends.
    on_lost: Callable[[str], object] | None = None

    def __init__(self, server: ZkServer, four_letter: FourLetterWords, max_per_ip: int,
                 per_ip: dict[str, int], max_total: int = 0, keepalive: bool = False) -> None:
        self.server = server
        self.four_letter = four_letter
        self.max_per_ip = max_per_ip
        # per_ip counts this port's connections by address; their sum is the port's total,
        # which maxCnxns limits (each of Java's factories counts only its own connections).
        self.per_ip = per_ip
        self.max_total = max_total
        self.keepalive = keepalive  # clientTcpKeepAlive (NIOServerCnxn)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.peer_ip = ""
        self.fb = FrameBuffer(server.config.jute_max_buffer)
        self.session_id = 0
        self.timeout_ms = 0
        self.old_client = False
        self.got_connect = False
        self.established = False
        self.closing_session = False
        self.auth: list[r.Record] = []  # Id records
        self.queue = ReplyQueue()
        self._held: list[bytes] = []
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._close_after_flush = False
        self._draining = False  # close_when_answered: no more input, close once answered
        self.close_answered = False  # its closeSession was answered: nothing more leaves
        self._closed = False
        self._paused = False
        self.established_at = time.time()
        self.packets_received = 0
        self.packets_sent = 0
        self.last_op = "NA"
        self.last_cxid = 0
        self.last_zxid = 0
        self.last_latency_ms = 0.0
        self.min_latency_ms = 0.0
        self.max_latency_ms = 0.0
        self.total_latency_ms = 0.0
        self.last_response = 0.0
        self.reply_count = 0  # responses to requests: cons avglat divides by this (ops helper)

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.peer_ip = str(peer[0])
        self.peer = f"{peer[0]}:{peer[1]}"
        self.auth = [r.Id("ip", self.peer_ip)]
        alive = sum(self.per_ip.values()) if self.max_total > 0 else 0
        count = self.per_ip.get(self.peer_ip, 0) + 1
        self.per_ip[self.peer_ip] = count  # counted even when refused: connection_lost undoes it
        self.server.conns.add(self)
        if self.max_total > 0 and alive >= self.max_total:
            # ServerCnxnFactory.limitTotalNumberOfCnxns, checked before the per-address limit.
            log.error(f"Too many connections {alive} - max is {self.max_total}")
            if not self.netty:  # NIOServerCnxnFactory.doAccept's rate-limited accept error
                log.warning("Error accepting new connection: Too many connections max allowed "
                            f"is {self.max_total}")
            self.server.stats.connection_rejected.value += 1
            self.close()
            return
        if self.keepalive and not self.netty:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if self.max_per_ip and count > self.max_per_ip:
            log.warning("Too many connections", client=self.peer_ip, max=self.max_per_ip)
            self.server.stats.connection_rejected.value += 1  # connection_rejected (ops helper)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed and not self._close_after_flush:
            # The client went away first: Java's handleFailedRead (ops helper).
            self.server.stats.connection_drops.value += 1
        self._closed = True
        n = self.per_ip.get(self.peer_ip, 1) - 1
        if n <= 0:
            self.per_ip.pop(self.peer_ip, None)
        else:
            self.per_ip[self.peer_ip] = n
        if len(self.queue):
            self.server.request_done(len(self.queue))
            for p in self.queue:
                self.server.large_bytes -= p.large
        self.queue.clear()
        self.server.on_close(self)
        if self.on_lost is not None:
            self.on_lost(self.peer_ip)

    def data_received(self, data: bytes) -> None:
        if self._closed or self._close_after_flush or self._draining:
            return
        try:
            self._received(data)
        except Exception:
            # Whatever a handler let escape costs this connection only (asyncio would log a
            # fatal transport error and drop it without a word from us).
            log.error("closing connection: failed to handle input", client=self.peer,
                      session=hex(self.session_id), exc_info=True)
            self.close()

    def _received(self, data: bytes) -> None:
        fb = self.fb
        fb.feed(data)
        if not self.got_connect and fb.pending >= 4:
            word = fb.peek4()
            if word is not None and self.four_letter.is_command(word):
                self._answer_four_letter(word)
                return
        bad: FrameError | None = None
        try:
            frames = fb.frames()
        except FrameError as e:
            frames, bad = e.frames, e
        for f in frames:
            self._frame(f)
            if self._closed or self._close_after_flush or self._draining:
                return
        if bad is not None:
            log.warning("closing connection: bad frame length", client=self.peer, error=str(bad))
            self.close_when_answered()

    def _answer_four_letter(self, word: bytes) -> None:
        extra = b""
        if word == b"stmk":
            if self.fb.pending < 12:
                return  # wait for the 8-byte mask
            extra = self.fb.take(12)[4:]
        self.packets_received += 1  # Java counts the word as one packet (recved=1 in cons)
        if self.four_letter.answer is not None:
            self._draining = True  # nothing more is read from this connection
            task = asyncio.ensure_future(self._answer_later(word.decode("ascii"), extra))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            return
        text = self.four_letter.run(word.decode("ascii"), self.server, extra)
        self.send(text.encode("utf-8"))
        self.close_after_flush()

    async def _answer_later(self, word: str, extra: bytes) -> None:
        assert self.four_letter.answer is not None
        try:
            text = await self.four_letter.answer(word, extra)
        except Exception:
            log.error("four-letter word failed", word=word, exc_info=True)
            text = ""
        self.send(text.encode("utf-8"))
        self.close_after_flush()

    def _frame(self, f: bytes) -> None:
        self.packets_received += 1
        self.server.stats.bytes_received.value += 4 + len(f)  # bytes_received_count (ops helper)
        if self.server.large_threshold != -1 and len(f) > self.server.large_threshold and \
                self.server.large_bytes + len(f) > self.server.large_max:
            self._reject_large()
            return
        if not self.got_connect:
            self.got_connect = True
            self.server.stats.connection_requests.value += 1  # connection_request_count
            try:
                c = decode_connect(f)
            except JuteError as e:
                log.warning("closing connection: malformed connect request", client=self.peer,
                            error=str(e))
                self.close()
                return
            try:
                self.server.on_connect(self, c.request, c.read_only, c.old_client)
            except Exception:
                log.error("closing connection: failed to handle connect request",
                          client=self.peer, exc_info=True)
                self.close()
            return
        if not self.established:
            self._held.append(f)
            return
        self._request(f)

    def _request(self, f: bytes) -> None:
        try:
            (xid, op), off = _REQ_HDR.decode(f, 0)
        except JuteError:
            log.warning("closing connection: malformed request header", client=self.peer)
            self.close_when_answered()
            return
        self.last_cxid = xid
        tail = self.queue.last()
        try:
            self.server.on_request(self, xid, op, memoryview(f)[off:])
            if self.server.large_threshold != -1 and len(f) > self.server.large_threshold:
                self._count_large(tail, len(f))
        except Exception:
            # Last line of containment: the server's own handlers turn failures into error
            # replies; whatever still escapes costs this connection, never the server.
            log.error("closing connection: failed to handle request", client=self.peer,
                      session=hex(self.session_id), opcode=op, xid=xid, exc_info=True)
            self.close()
            return
        server = self.server
        if self._paused or self.transport is None:
            return
        if len(self.queue) >= MAX_OUTSTANDING_PER_CONN:
            self._paused = True
            self.transport.pause_reading()
        elif server.outstanding > server.global_limit:
            self._paused = True
            self.transport.pause_reading()
            server.throttled.add(self)

    def _reject_large(self) -> None:
        """checkRequestSizeWhenReceivingMessage's IOException: NIOServerCnxn.doIO logs it and
        closes the connection; the client gets no reply."""
        self.server.stats.metrics.counter("large_requests_rejected").add(1)
        log.warning(f"Close of session 0x{self.session_id:x}",
                    error="java.io.IOException: Rejecting large request", client=self.peer)
        self.close()

    def _count_large(self, tail: Pending | None, n: int) -> None:
        """processPacket's setLargeRequestSize: a request it queued (not auth or sasl) counts
        its frame length until it is answered (FinalRequestProcessor.requestFinished)."""
        last = self.queue.last()
        if last is not None and last is not tail and last.req.op not in (OP_AUTH, OP_SASL,
                                                                         OP_ERROR):
            last.large = n
            self.server.large_bytes += n

    def resume(self) -> None:
        if self._paused and not self._closed and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def mark_established(self) -> None:
        self.established = True
        self.last_op = "SESS"  # FinalRequestProcessor's name for createSession (ops helper)
        held, self._held = self._held, []
        for f in held:
            if self._closed or self._close_after_flush or self._draining:
                return
            self._request(f)

    def reset_stats(self) -> None:
        """ServerCnxn.resetStats (crst)."""
        self.packets_received = self.packets_sent = 0
        self.min_latency_ms = self.max_latency_ms = 0.0
        self.total_latency_ms = self.last_latency_ms = 0.0
        self.last_op, self.last_cxid, self.last_zxid, self.last_response = "NA", -1, -1, 0.0

    # -- output ---------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self._closed:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.server.output.add(self)

    def flush(self) -> None:
        """Write what send() gathered (OutputFlusher calls it once per loop turn)."""
        self._flush_scheduled = False
        if self._closed or self.transport is None:
            self._out.clear()
            return
        if self._out:
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out.clear()
            self.transport.write(data)
        if self._close_after_flush:
            self.close()
        elif (self._paused and len(self.queue) < MAX_OUTSTANDING_PER_CONN // 2
              and self not in self.server.throttled):
            self._paused = False
            self.transport.resume_reading()

    def send_reply(self, xid: int, zxid: int, err: int, body: bytes) -> None:
        out = bytearray(b"\0\0\0\0")
        _REPLY_HDR.encode((xid, zxid, err), out)
        out += body
        out[0:4] = (len(out) - 4).to_bytes(4, "big")
        self.packets_sent += 1
        self.server.stats.packets_sent += 1
        self.send(bytes(out))

    def send_event(self, ev: r.Record) -> None:
        self.packets_sent += 1
        self.server.stats.packets_sent += 1
        self.send(self.server.event_frame(ev))

    def emit_pending(self, p: Pending, reply: bytes) -> None:
        server = self.server
        server.outstanding -= 1
        if p.large:
            server.large_bytes -= p.large
            p.large = 0
        self.emit_answer(p.req.op, p.is_write, p.started, reply)

    def emit_answer(self, op: int, is_write: bool, started: float, reply: bytes) -> None:
        """Send the reply to a request of this connection, counted in every statistic."""
        server = self.server
        if server.throttled:
            server.request_done(0)  # resume throttled connections
        if self.close_answered:
            # Its closeSession was answered: Java closes the connection there, and an answer
            # that comes later (a write the session sent after its closeSession, which a
            # learner forwards and the leader logs as an error txn) goes nowhere.
            return
        ms = (time.monotonic() - started) * 1000
        self.packets_sent += 1
        stats = server.stats
        stats.packets_sent += 1
        # metrics hooks (ops helper): read/update latency, response size, lop= in cons
        stats.record_latency(ms, is_write)
        stats.record_response(len(reply) - 4)
        self.reply_count += 1
        # A failed write (an error txn) leaves "NA": Java throws before naming the op.
        failed = is_write and op != OP_MULTI and reply[16:20] != b"\0\0\0\0"
        self.last_op = "NA" if failed else LAST_OP.get(op, "NA")
        self.last_latency_ms = ms
        if self.min_latency_ms == 0 or ms < self.min_latency_ms:
            self.min_latency_ms = ms
        if ms > self.max_latency_ms:
            self.max_latency_ms = ms
        self.total_latency_ms += ms
        self.last_response = time.time()
        self.last_zxid = server.tree.last_processed_zxid
        self.send(reply)
        if self._draining and not self.queue:
            self.close_after_flush()

    def reply_in_turn(self, xid: int, zxid: int, err: int) -> None:
        """An answer made outside the pipeline (auth, UNIMPLEMENTED) that still leaves after
        the replies to this connection's earlier requests, as Java's, which reads one frame
        at a time, has almost always sent them by then."""
        if not self.queue:
            self.send_reply(xid, zxid, err, b"")
            return
        p = Pending(Request(self.session_id, xid, OP_ERROR, None, self.auth, self), False,
                    time.monotonic())
        p.reply = _REPLY_FRAME.pack(16, xid, zxid, err)
        self.queue.push(p)
        self.server.outstanding += 1

    def close_when_answered(self) -> None:
        """Read nothing more; close once every request already taken has been answered (Java
        disables receive and closes; what its pipeline had finished is sent first)."""
        if self._closed or self._close_after_flush:
            return
        self._draining = True
        if self.transport is not None:
            self.transport.pause_reading()
        if not self.queue:
            self.close_after_flush()

    def close_after_flush(self) -> None:
        self._close_after_flush = True
        self.closing_session = True
        if not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            self.server.output.add(self)

    def close(self) -> None:
        if self._closed:
            return
        if self.transport is not None:
            if self._out:
                self.transport.write(b"".join(self._out))
                self._out.clear()
            self.transport.close()
        self._closed = True
