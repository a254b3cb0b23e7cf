"""The audit log (audit.enable), as Java 3.8.0's ZKAuditProvider, AuditHelper and
Slf4jAuditLogger write it.

One line per audited operation: tab-separated key=value fields in AuditEvent's order (session,
user, ip, operation, znode, znode_type, acl; absent values are left out) and always a last
`result=success|failure|invoked`. Audited: create/create2/createContainer, delete,
setData, setAcl (with the ACL text), reconfig and multi (one line per create/delete/setData it
applied, or one multiOperation failure line), the deletion of a closed or expired session's
ephemerals, and serverStart/serverStop. Reads, createTTL outside a multi, check and session
requests are not audited, as in Java.

`request_events` and `AuditEvent.line` are pure; `AuditLog` is the edge that writes the file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from .protocol.opcodes import (
    OP_CREATE,
    OP_CREATE2,
    OP_CREATE_CONTAINER,
    OP_CREATE_TTL,
    OP_DELETE,
    OP_DELETE_CONTAINER,
    OP_ERROR,
    OP_MULTI,
    OP_RECONFIG,
    OP_SET_ACL,
    OP_SET_DATA,
)
from .server.auth import java_set_order
from .tree.acl import user_name

if TYPE_CHECKING:
    from .tree.datatree import DataTree

log = structlog.get_logger("pyzk.audit")

# Java's logger name (Slf4jAuditLogger's class) and the file conf/logback.xml sends it to.
LOGGER_NAME = "org.apache.zookeeper.audit.Slf4jAuditLogger"
FILE_NAME = "zookeeper_audit.log"
# logback's RFAAUDIT appender: 10 MB files, zookeeper_audit.log.1 .. .10
MAX_BYTES, BACKUPS = 10 * 1024 * 1024, 10

# %d{ISO8601} %p %c{2}: %m -- logback shortens the logger name to o.a.z.a.Slf4jAuditLogger
PATTERN = "%(asctime)s %(levelname)s o.a.z.a.Slf4jAuditLogger: %(message)s"

SUCCESS, FAILURE, INVOKED = "success", "failure", "invoked"

OP_START, OP_STOP = "serverStart", "serverStop"
OP_DEL_EPHEMERAL = "ephemeralZNodeDeletionOnSessionCloseOrExpire"

# CreateMode.fromFlag(flags).toString().toLowerCase()
CREATE_MODES = {
    0: "persistent", 1: "ephemeral", 2: "persistent_sequential", 3: "ephemeral_sequential",
    4: "container", 5: "persistent_with_ttl", 6: "persistent_sequential_with_ttl",
}
_CREATES = (OP_CREATE, OP_CREATE2, OP_CREATE_CONTAINER)
_DELETES = (OP_DELETE, OP_DELETE_CONTAINER)


@dataclass(frozen=True)
class AuditEvent:
    """One line: the fields in AuditEvent.FieldName order; None means left out."""

    result: str
    operation: str
    session: str | None = None
    user: str | None = None
    ip: str | None = None
    znode: str | None = None
    znode_type: str | None = None
    acl: str | None = None

    def line(self) -> str:
        fields = (("session", self.session), ("user", self.user), ("ip", self.ip),
                  ("operation", self.operation), ("znode", self.znode),
                  ("znode_type", self.znode_type), ("acl", self.acl), ("result", self.result))
        return "\t".join(f"{k}={v}" for k, v in fields if v is not None)


def users_for_audit(auth: Sequence[Any]) -> str | None:
    """AuthUtil.getUsers: the user of each auth id (ip, digest user, sasl id...), blank ones
    dropped, comma-joined in the order Java's authInfo set iterates; None when there is
    none."""
    names = [u for u in (user_name(i) for i in java_set_order(list(auth))) if u and u.strip()]
    return ",".join(names) if names else None


def _perm_string(perms: int) -> str:
    # ZKUtil.getPermString: c d r w a, in that order
    return "".join(ch for bit, ch in ((4, "c"), (8, "d"), (1, "r"), (2, "w"), (16, "a"))
                   if perms & bit)


def acl_text(acl: Sequence[Any]) -> str:
    """ZKUtil.aclToString: scheme:id:perms per entry, with no separator between entries."""
    return "".join(f"{a.id.scheme}:{a.id.id}:{_perm_string(a.perms)}" for a in acl)


def session_hex(session_id: int) -> str:
    return f"0x{session_id & 0xFFFFFFFFFFFFFFFF:x}"


class _NotAudited(Exception):
    """The request cannot be described (Java's AuditHelper fails and logs no line)."""


def _create_mode(rec: Any) -> str:
    mode = CREATE_MODES.get(getattr(rec, "flags", None))  # type: ignore[arg-type]
    if mode is None:
        raise _NotAudited
    return mode


def request_events(op: int, record: Any, hdr_type: int, result: Any, session_id: int,
                   auth: Sequence[Any], ip: str) -> list[AuditEvent]:
    """AuditHelper.addAuditLog for one applied request of a connected client.

    hdr_type OP_ERROR is Java's failedTxn: the znode comes from the request (the txn has
    none); otherwise from the applied txn's result (a sequential create's actual name)."""
    try:
        return _request_events(op, record, hdr_type == OP_ERROR, result, session_id, auth, ip)
    except (_NotAudited, AttributeError, TypeError, ValueError):
        # AuditHelper catches what describing the request throws (CreateMode.fromFlag on
        # unknown flags, ...) and logs this instead of an audit line
        log.error("Failed to audit log request", type=op, exc_info=True)
        return []


def _request_events(op: int, record: Any, failed: bool, result: Any, session_id: int,
                    auth: Sequence[Any], ip: str) -> list[AuditEvent]:
    path: str | None = result.path
    acls = mode = None
    if op in _CREATES:
        name = "create"
        mode = _create_mode(record)
        if failed:
            path = record.path
    elif op in _DELETES:
        name = "delete"
        if failed:
            path = record.path if record is not None else None
    elif op == OP_SET_DATA:
        name = "setData"
        if failed:
            path = record.path
    elif op == OP_SET_ACL:
        name = "setAcl"
        acls = acl_text(record.acl)
        if failed:
            path = record.path
    elif op == OP_MULTI:
        name = "multiOperation"
        if not failed:
            return _multi_events(record, result, session_id, auth, ip)
    elif op == OP_RECONFIG:
        name = "reconfig"
    else:
        return []
    ok = not failed and result.err == 0
    return [AuditEvent(SUCCESS if ok else FAILURE, name, session_hex(session_id),
                       users_for_audit(auth), ip, path, mode, acls)]


def _multi_events(ops: Any, result: Any, session_id: int, auth: Sequence[Any],
                  ip: str) -> list[AuditEvent]:
    """logMultiOperation: a line per applied create/delete/setData; one failure line when
    any sub-txn is an error. The create mode is found by the *requested* path, so a
    sequential create's line has none (Java's map lookup by the actual name misses)."""
    modes = {rec.path: _create_mode(rec) for op, rec in ops or () if op in _CREATES}
    session, user = session_hex(session_id), users_for_audit(auth)
    out: list[AuditEvent] = []
    failed = False
    for sub in result.multi or ():
        if sub.op in (*_CREATES, OP_CREATE_TTL):
            out.append(AuditEvent(SUCCESS, "create", session, user, ip, sub.path,
                                  modes.get(sub.path)))
        elif sub.op in _DELETES:
            out.append(AuditEvent(SUCCESS, "delete", session, user, ip, sub.path))
        elif sub.op == OP_SET_DATA:
            out.append(AuditEvent(SUCCESS, "setData", session, user, ip, sub.path))
        elif sub.op == OP_ERROR:
            failed = True
    if failed:
        out.append(AuditEvent(FAILURE, "multiOperation", session, user, ip, result.path))
    return out


def server_user() -> str:
    """Login.SYSTEM_USER: the account the server runs as (Java's user.name)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return "<NA>"


def log_dir(env: dict[str, str] | None = None) -> Path:
    """zookeeper.log.dir as zkEnv.sh sets it: $ZOO_LOG_DIR, else the working directory."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("ZOO_LOG_DIR") or ".")


class AuditLog:
    """Writes audit lines to `zookeeper_audit.log` in the log directory, in logback's
    RFAAUDIT pattern: INFO for success/invoked, ERROR for failure, under Java's logger name.
    Its own handler, not a logger: the lines are not copied to the server's log."""

    def __init__(self, directory: Path, user: str | None = None) -> None:
        self.user = user if user is not None else server_user()
        self.path = directory / FILE_NAME
        directory.mkdir(parents=True, exist_ok=True)
        self._handler = logging.handlers.RotatingFileHandler(
            self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter(PATTERN))

    def emit(self, event: AuditEvent) -> None:
        level = logging.ERROR if event.result == FAILURE else logging.INFO
        self._handler.handle(logging.LogRecord(LOGGER_NAME, level, __file__, 0, event.line(),
                                               None, None))

    def request(self, op: int, record: Any, hdr_type: int, result: Any, session_id: int,
                auth: Sequence[Any], ip: str) -> None:
        for event in request_events(op, record, hdr_type, result, session_id, auth, ip):
            self.emit(event)

    def ephemeral_deleted(self, session_id: int, path: str, deleted: bool) -> None:
        """DataTree.deleteNodes: each ephemeral of a closed/expired session, as the server."""
        self.emit(AuditEvent(SUCCESS if deleted else FAILURE, OP_DEL_EPHEMERAL,
                             session_hex(session_id), self.user, None, path))

    def server_start(self) -> None:
        self.emit(AuditEvent(SUCCESS, OP_START, user=self.user))

    def server_start_failed(self) -> None:
        self.emit(AuditEvent(FAILURE, OP_START, user=self.user))

    def server_stop(self) -> None:
        self.emit(AuditEvent(INVOKED, OP_STOP, user=self.user))

    def close(self) -> None:
        self._handler.close()


# One audit log per process and directory, as Java's ZKAuditProvider is static per JVM.
_PROVIDERS: dict[Path, AuditLog] = {}


def provider(config: Any) -> AuditLog | None:
    """The process's audit log when config.audit_enable, else None."""
    if not config.audit_enable:
        return None
    directory = log_dir().resolve()
    found = _PROVIDERS.get(directory)
    if found is None:
        found = _PROVIDERS[directory] = AuditLog(directory)
    return found


def watch_tree(config: Any, tree: DataTree) -> DataTree:
    """Have `tree` report the ephemerals it deletes for ended sessions (also while the txn
    log is replayed at start-up, as Java's DataTree.deleteNodes does)."""
    found = provider(config)
    if found is not None:
        tree.on_ephemeral_deleted = found.ephemeral_deleted
    return tree
