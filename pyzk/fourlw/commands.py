"""The one table of server commands: 4LW words and AdminServer names/aliases side by side, with
the 4LW whitelist (FourLetterCommands.java), the 4LW dispatch (NIOServerCnxn.checkFourLetterWord,
CommandExecutor) and the AdminServer response (Commands.runCommand, CommandResponse.toMap).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyzk.fourlw import data as d
from pyzk.fourlw import text as t
from pyzk.fourlw.info import ServerView
from pyzk.fourlw.javafmt import jackson_pretty

Runner = Callable[[ServerView, Mapping[str, str]], dict[str, Any]]
Renderer = Callable[[ServerView, str], str]


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]             # AdminServer names, primary first ((), 4LW-only)
    words: tuple[str, ...] = ()        # four-letter words served by `text`
    run: Runner | None = None          # AdminServer data map
    text: Renderer | None = None       # 4LW reply
    server_required: bool = True       # CommandBase.serverRequired (AdminServer only)

    @property
    def primary(self) -> str:
        return self.names[0] if self.names else self.words[0]


def _stmk_text(v: ServerView, word: str) -> str:  # the mask is set before rendering (dispatch)
    return str(v.trace_mask)


COMMANDS: tuple[Command, ...] = (
    Command(("connection_stat_reset", "crst"), ("crst",), d.connection_stat_reset, t.crst_text),
    Command(("configuration", "conf", "config"), ("conf",), d.configuration, t.conf_text),
    Command(("connections", "cons"), ("cons",), d.connections, t.cons_text),
    Command(("hash",), ("hash",), d.digests, t.hash_text),
    Command(("dirs",), ("dirs",), d.dirs, t.dirs_text),
    Command(("dump",), ("dump",), d.dump, t.dump_text),
    Command(("environment", "env", "envi"), ("envi",), d.environment, t.envi_text, False),
    Command(("get_trace_mask", "gtmk"), ("gtmk",), d.get_trace_mask, t.gtmk_text, False),
    Command(("initial_configuration", "icfg"), (), d.initial_configuration),
    Command(("is_read_only", "isro"), ("isro",), d.is_read_only, t.isro_text),
    Command(("last_snapshot", "lsnp"), (), d.last_snapshot),
    Command(("leader", "lead"), (), d.leader),
    Command(("monitor", "mntr"), ("mntr",), d.monitor, t.mntr_text, False),
    Command(("observer_connection_stat_reset", "orst"), (), d.observer_connection_stat_reset),
    Command(("ruok",), ("ruok",), d.ruok, t.ruok_text),
    Command(("set_trace_mask", "stmk"), ("stmk",), d.set_trace_mask, _stmk_text, False),
    Command(("server_stats", "srvr"), ("srvr",), d.server_stats, t.srvr_text),
    Command(("stats", "stat"), ("stat",), d.stats, t.srvr_text),
    Command(("stat_reset", "srst"), ("srst",), d.stat_reset, t.srst_text),
    Command(("observers", "obsr"), (), d.observers),
    Command(("system_properties", "sysp"), (), d.system_properties, None, False),
    Command(("voting_view",), (), d.voting_view),
    Command(("watches", "wchc"), ("wchc",), d.watches, t.watch_text),
    Command(("watches_by_path", "wchp"), ("wchp",), d.watches_by_path, t.watch_text),
    Command(("watch_summary", "wchs"), ("wchs",), d.watch_summary, t.watch_text),
    Command(("zabstate",), (), d.zabstate, None, False),
)

BY_ADMIN_NAME: dict[str, Command] = {n: c for c in COMMANDS for n in c.names}
BY_WORD: dict[str, Command] = {w: c for c in COMMANDS for w in c.words}
PRIMARY_NAMES: tuple[str, ...] = tuple(sorted(c.names[0] for c in COMMANDS if c.names))

TELNET_CLOSE = 0xFFF4FFFD
# FourLetterCommands.cmd2String: the int read as a length prefix -> word.
KNOWN_CODES: dict[int, str] = {struct.unpack(">i", w.encode())[0]: w for w in BY_WORD}
KNOWN_CODES[struct.unpack(">i", struct.pack(">I", TELNET_CLOSE))[0]] = "telnet close"


class Whitelist:
    """FourLetterCommands.isEnabled: comma list from 4lw.commands.whitelist, '*' = all known;
    srvr always; isro too when readonlymode.enabled=true."""

    def __init__(self, spec: str | None, read_only_mode: bool = False) -> None:
        enabled: set[str] = set()
        for item in (spec or "").split(","):
            item = item.strip()
            if item == "*":
                enabled.update(KNOWN_CODES.values())
                break
            if item:
                enabled.add(item)
        if read_only_mode:
            enabled.add("isro")
        enabled.add("srvr")
        self.enabled = frozenset(enabled)

    def __contains__(self, word: str) -> bool:
        return word in self.enabled


def word_for_length(length: int) -> str | None:
    """The 4LW a connection's first 4 bytes (read as a signed length) name, if any."""
    return KNOWN_CODES.get(length)


def four_letter_reply(word: str, view: ServerView, whitelist: Whitelist,
                      payload: bytes = b"") -> str | None:
    """The text to write back before closing, or None when the word must be treated as an
    ordinary length (Java: the enabled telnet-close code runs no command). `payload` is the
    8-byte big-endian mask that follows `stmk`."""
    if word not in whitelist:
        return t.not_in_whitelist(word)
    if word == "stmk":
        (mask,) = struct.unpack(">q", payload[:8].rjust(8, b"\0"))
        view.set_trace_mask(mask)
    cmd = BY_WORD.get(word)
    if cmd is None or cmd.text is None:
        return None
    return cmd.text(view, word)


def admin_response(name: str, view: ServerView | None,
                   kwargs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Commands.runCommand + CommandResponse.toMap. Data keys first, then command and error; a
    data 'error' key keeps its place and its value."""
    cmd = BY_ADMIN_NAME.get(name)
    if cmd is None or cmd.run is None:
        return {"command": name, "error": f"Unknown command: {name}"}
    if cmd.server_required and (view is None or not view.is_serving):
        return {"command": name, "error": t.ZK_NOT_SERVING}
    if view is None or (cmd.names[0] == "monitor" and not view.is_serving):
        # Java dereferences the missing ZooKeeperServer (dumpMonitorValues): HTTP 500.
        raise AdminServerError(name)
    body = cmd.run(view, kwargs or {})
    out = dict(body)
    out["command"] = cmd.names[0]
    out["error"] = None
    out.update(body)
    return out


class AdminServerError(Exception):
    """Java answers HTTP 500 here (e.g. monitor with no ZooKeeperServer: a NullPointerException)."""


def admin_json(response: Mapping[str, Any]) -> str:
    """JsonOutputter: Jackson with INDENT_OUTPUT."""
    return jackson_pretty(response)


def command_links(url: str = "/commands") -> str:
    """JettyAdminServer.commandLinks, one link and one <br/> per line."""
    return "".join(f'<a href="{url}/{n}">{n}</a>\n<br/>\n' for n in PRIMARY_NAMES)
