"""Glue between the running server (pyzk.server) and the command table: the client port's 4LW
hook (`FourLetterWords`) and the ServerView lookup the AdminServer and /metrics use.

The server provides its view as `server.fourlw_view() -> ServerView`; until it does, a minimal
snapshot (serving, standalone, version only) keeps ruok/srvr-style answers well formed.
"""

from __future__ import annotations

from typing import Any

from pyzk.fourlw.commands import KNOWN_CODES, Whitelist, four_letter_reply
from pyzk.fourlw.info import ServerSnapshot, ServerView

_WORDS = frozenset(w.encode() for w in KNOWN_CODES.values() if len(w) == 4)
_TELNET_CLOSE = b"\xff\xf4\xff\xfd"


def view_of(server: Any) -> ServerView:
    make = getattr(server, "fourlw_view", None)
    if make is not None:
        view: ServerView = make()
        return view
    return ServerSnapshot()


def whitelist_from_config(cfg: Any) -> Whitelist:
    words = getattr(cfg, "four_letter_whitelist", None) or ()
    spec = ",".join(sorted(words)) if not isinstance(words, str) else words
    read_only = bool(getattr(cfg, "read_only_mode_enabled", False)
                     or getattr(cfg, "readonlymode_enabled", False))
    return Whitelist(spec, read_only)


class FourLetterWords:
    """Used by ClientConn: `is_command(first4)` then `run(word, server, payload) -> text`."""

    def __init__(self, cfg: Any) -> None:
        self.whitelist = whitelist_from_config(cfg)

    def is_command(self, word: bytes) -> bool:
        return word in _WORDS or word == _TELNET_CLOSE

    def run(self, word: str, server: Any, extra: bytes = b"") -> str:
        name = "telnet close" if word.encode("latin-1") == _TELNET_CLOSE else word
        reply = four_letter_reply(name, view_of(server), self.whitelist, extra)
        # None: Java runs no command and then fails the bogus length; closing says the same.
        return "" if reply is None else reply
