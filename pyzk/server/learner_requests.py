"""A request another process forwarded (a learner's REQUEST packet, or one of this server's
worker processes), into this server's prep stage: Leader.submitLearnerRequest ->
PrepRequestProcessor with the forwarding server's session. Used by the leader and, for its
workers, by a standalone server; a sync is the caller's (it has its own ordering rules).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ..pipeline.request import Request
from ..protocol import records as r
from ..protocol.codes import Err
from ..protocol.jute import JuteError
from ..protocol.multi import decode_multi
from ..protocol.opcodes import CLIENT_OPS, Op
from ..zab.packets import ForwardedRequest
from .pending import NO_ORIGIN

if TYPE_CHECKING:
    from .zkserver import ZkServer


def submit_forwarded(srv: ZkServer, fr: ForwardedRequest, authinfo: list[r.Record],
                     my_id: int) -> None:
    """Prep `fr` as a txn (an error txn when it fails) and hand it to the write path; the
    forwarding server answers its client when the txn comes back committed."""
    if not srv.serving:
        return
    now = srv.wall_ms()
    if fr.type == Op.CREATE_SESSION:
        s = srv.sessions.sessions.get(fr.session_id)
        if len(fr.body) < 4:  # prep cannot read the timeout
            srv.enqueue_txn((r.TxnHeader(fr.session_id, fr.cxid, srv.next_zxid(), now, Op.ERROR),
                             r.ErrorTxn(int(Err.MARSHALLINGERROR))), NO_ORIGIN)
            return
        timeout = struct.unpack(">i", fr.body[:4])[0]
        if s is None:
            srv.sessions.add(fr.session_id, timeout, srv.mono_ms())
        else:  # createSession again inside a session: trackSession, its own timeout kept
            own = s.timeout_ms
            srv.sessions.touch(fr.session_id, srv.mono_ms(), timeout)
            s.timeout_ms = own
        srv.enqueue_txn(srv.prep.create_session_txn(fr.session_id, timeout,
                                                     srv.next_zxid(), now, fr.cxid),
                        NO_ORIGIN)
        return
    if fr.type == Op.CLOSE_SESSION:
        srv.sessions.set_closing(fr.session_id)
        srv.enqueue_txn(srv.prep.close_session_txn(fr.session_id, fr.cxid,
                                                    srv.next_zxid(), now), NO_ORIGIN)
        return
    spec = CLIENT_OPS.get(fr.type)
    hdr = r.TxnHeader(fr.session_id, fr.cxid, 0, now, Op.ERROR)
    if spec is None or not spec.write:
        srv.enqueue_txn((hdr._replace(zxid=srv.next_zxid()),
                         r.ErrorTxn(int(Err.UNIMPLEMENTED))), NO_ORIGIN)
        return
    s = srv.sessions.sessions.get(fr.session_id)
    if srv.local is not None and s is None and fr.session_id >> 56 != my_id:
        pass  # LeaderSessionTracker.checkSession: another server's local session
    elif s is None or s.closing:
        # PrepRequestProcessor: sessionTracker.checkSession fails -> SESSIONEXPIRED.
        srv.enqueue_txn((hdr._replace(zxid=srv.next_zxid()),
                         r.ErrorTxn(int(Err.SESSIONEXPIRED))), NO_ORIGIN)
        return
    record: r.Record  # the request, a multi's ops, or the JuteError decoding raised
    try:
        if fr.type == Op.MULTI:
            record, _ = decode_multi(memoryview(fr.body))
        elif spec.request is not None:
            record, _ = spec.request.decode(memoryview(fr.body), 0)
        else:
            record = None
    except JuteError:
        srv.enqueue_txn((hdr._replace(zxid=srv.next_zxid()),
                         r.ErrorTxn(int(Err.MARSHALLINGERROR))), NO_ORIGIN)
        return
    req = Request(fr.session_id, fr.cxid, fr.type, record, authinfo, None)
    srv.enqueue_txn(srv.prep.prep(req, srv.next_zxid(), now), NO_ORIGIN)
