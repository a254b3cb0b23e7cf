"""The interactive line editor of `pyzk shell`: readline with a persistent history file and
completion of command names and znode paths (as zkCli's JLineZNodeCompleter does).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pyzk.shell.client import ZkError
from pyzk.shell.commands import SPECS

if TYPE_CHECKING:
    from pyzk.shell import Shell

HISTORY_LENGTH = 1000


def complete_words(shell: Shell, line: str, text: str) -> list[str]:
    """Candidates for the word `text` being typed at the end of `line`."""
    words = line.split()
    first = not words or (len(words) == 1 and not line.endswith(" "))
    if first:
        return sorted(c for c in [*SPECS, "help"] if c.startswith(text))
    if not text.startswith("/") or shell.client is None:
        return []
    parent, _, prefix = text.rpartition("/")
    try:
        children, _ = shell.client.get_children(parent or "/")
    except (ZkError, OSError):
        return []
    return sorted(f"{parent}/{c}" for c in children if c.startswith(prefix))


def readline_loop(shell: Shell) -> None:
    import readline

    from pyzk.shell import history_file

    path = history_file()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LENGTH)
    # Paths contain no spaces; '/' must stay part of the word so completions replace it whole.
    readline.set_completer_delims(" \t\n")
    matches: list[str] = []

    def completer(text: str, state: int) -> str | None:
        nonlocal matches
        if state == 0:
            matches = complete_words(shell, readline.get_line_buffer()[:readline.get_begidx()]
                                     + text, text)
        return matches[state] if state < len(matches) else None

    readline.set_completer(completer)
    readline.parse_and_bind("tab: complete")
    try:
        while True:
            try:
                line = input(shell.prompt())
            except EOFError:
                break
            shell.execute_line(line.strip("\r"))
    finally:
        with contextlib.suppress(OSError):
            readline.write_history_file(path)
