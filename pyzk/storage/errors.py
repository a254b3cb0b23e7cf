"""The storage layer's exceptions, in a module of their own: txnlog.py is compiled in the
compiled build (pyzk.tools.compiled) and recovery.py is not, and an interpreted class cannot
subclass a compiled one (CorruptLogError subclasses LogFormatError)."""

from __future__ import annotations


class LogFormatError(ValueError):
    """A log file that cannot be trusted; names the file and byte offset of the bad entry."""

    def __init__(self, name: str, offset: int, reason: str) -> None:
        super().__init__(f"{name}: offset {offset}: {reason}")
        self.name = name
        self.offset = offset
        self.reason = reason
