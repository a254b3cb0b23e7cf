"""Prep -> apply -> reply in one synchronous call: the standalone write path without I/O.

Used by unit tests and benchmarks, and usable by a server whose log append is synchronous.
The zxid counter here is the standalone one (ZooKeeperServer.getNextZxid, epoch 0).
"""

from __future__ import annotations

from typing import Any

from ..tree.datatree import DataTree, Event
from .final import read_request, write_reply
from .prep import Prep, PrepSettings
from .request import Request


class LocalPipeline:
    def __init__(self, tree: DataTree | None = None, settings: PrepSettings | None = None) -> None:
        self.settings = settings or PrepSettings()
        self.tree = tree or DataTree(extended_types=self.settings.extended_types,
                                     skip_acl=self.settings.skip_acl)
        self.prep = Prep(self.tree, self.settings)
        self.zxid = self.tree.last_processed_zxid
        self.log: list[tuple[Any, Any]] = []  # (hdr, txn) in zxid order, for inspection
        self.digests: dict[int, Any] = {}  # zxid -> the TxnDigest prep gave its txn

    def next_zxid(self) -> int:
        self.zxid += 1
        return self.zxid

    def propose(self, req: Request, now_ms: int) -> tuple[Any, Any]:
        """Prep only (pipelined writes: several may be prepped before any is applied)."""
        hdr, txn = self.prep.prep(req, self.next_zxid(), now_ms)
        self.log.append((hdr, txn))
        self.digests[hdr.zxid] = self.prep.txn_digest(hdr)
        return hdr, txn

    def apply(self, req: Request, hdr: Any, txn: Any) -> tuple[int, bytes, list[Event]]:
        rc = self.tree.process_txn(hdr, txn, self.digests.pop(hdr.zxid, None))
        self.prep.committed(hdr.zxid)
        err, body = write_reply(self.tree, req, hdr, rc)
        return err, body, rc.events

    def write(self, req: Request, now_ms: int = 0) -> tuple[int, bytes, list[Event]]:
        hdr, txn = self.propose(req, now_ms)
        return self.apply(req, hdr, txn)

    def read(self, req: Request) -> tuple[int, bytes, list[Event]]:
        return read_request(self.tree, req)
