"""Four-letter words on the client port: the sniff of the first four bytes and the reply text.

The words, their text and the whitelist live in pyzk.fourlw (one table shared with the
AdminServer); this adapter binds them to a running server's LiveView.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from ..config.model import Config
from ..fourlw.commands import Whitelist, four_letter_reply, word_for_length

if TYPE_CHECKING:
    from .view import LiveView
    from .zkserver import ZkServer

log = structlog.get_logger("pyzk.fourlw")
_LEN = struct.Struct(">i")


class FourLetterWords:
    def __init__(self, config: Config, view: LiveView) -> None:
        self.whitelist = Whitelist(",".join(sorted(config.four_letter_whitelist)),
                                   config.read_only_mode)
        self.view = view
        # pyzk.workers: words are answered for the whole server, which takes a round trip to
        # the other processes; set, the connection awaits this instead of calling run().
        self.answer: Callable[[str, bytes], Awaitable[str]] | None = None

    async def answer_here(self, word: str, extra: bytes) -> str:
        """The member's answer: its own state plus every worker's report."""
        await self.view.gather()
        try:
            return self.run(word, self.view.server, extra)
        finally:
            self.view.remote = ()

    def is_command(self, first4: bytes) -> bool:
        word = word_for_length(_LEN.unpack(first4)[0])
        return word is not None and word != "telnet close"

    def run(self, word: str, server: ZkServer, extra: bytes = b"") -> str:
        if word not in self.whitelist:
            log.warning("four-letter word refused: not in the whitelist", word=word)
        text = four_letter_reply(word, self.view, self.whitelist, extra)
        return text or ""
