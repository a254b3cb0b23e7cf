"""`pyzk shell`: a zkCli.sh-compatible client shell (ZooKeeperMain): interactive with readline
completion of commands and znode paths and a history file, or one-shot for scripts
(`pyzk shell -server h:p get /x`, exit status 0, 1 on a failed command, 127 unknown command).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pyzk import __version__
from pyzk.shell.client import Client, ZkError
from pyzk.shell.commands import (
    EVENTS,
    EXIT_NOT_FOUND,
    EXIT_OK,
    HANDLERS,
    SPECS,
    STATES,
    Context,
    parse_options,
    split_line,
    usage_lines,
)
from pyzk.shell.formats import CliError, keeper_message

__all__ = ["Shell", "main"]


class Shell:
    """ZooKeeperMain's state: connection, history, command counter, printwatches, exit code."""

    def __init__(self, server: str, timeout_ms: int = 30000, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.timeout_ms = timeout_ms
        self.host = server
        self.history: dict[int, str] = {}
        self.count = 0
        self.exit_code = EXIT_OK
        self.print_watches = True
        self._print_lock = threading.Lock()
        self.client: Client | None = None

    # --- connection and events ---------------------------------------------------------------
    def on_event(self, state: int, etype: int, path: str | None) -> None:
        """MyWatcher.process: printMessage("WATCHER::"), printMessage(event.toString())."""
        if not self.print_watches:
            return
        text = (f"WatchedEvent state:{STATES.get(state, state)} type:{EVENTS.get(etype, etype)}"
                f" path:{path if path is not None else 'null'}")
        with self._print_lock:
            self.out.write(f"\nWATCHER::\n\n{text}\n")
            self.out.flush()

    def connect(self, host: str | None = None) -> None:
        if self.client is not None and self.client.state not in ("CLOSED", "AUTH_FAILED"):
            self.client.close()
        self.host = host or self.host
        self.client = Client(self.host, self.timeout_ms, self.on_event)
        # Wait (bounded) for the session so the first prompt shows CONNECTED; commands would
        # wait for it anyway, as the Java client queues requests until connected.
        self.client.start(wait_s=min(self.timeout_ms / 1000, 10.0))

    def prompt(self) -> str:
        state = self.client.state if self.client is not None else "CLOSED"
        return f"[zk: {self.host}({state}) {self.count}] "

    # --- ZooKeeperMain.executeLine / processCmd / processZKCmd --------------------------------
    def execute_line(self, line: str) -> None:
        if line == "":
            return
        words = split_line(line)
        if not words:
            return
        self.history[self.count] = line
        self.process(words)
        self.count += 1

    def process(self, words: list[str]) -> int:
        try:
            self._process(words)
            self.exit_code = EXIT_OK
        except CliError as e:
            self.exit_code = e.code
            self.eprint(str(e))
        return self.exit_code

    def eprint(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def usage(self) -> None:
        for line in usage_lines():
            self.eprint(line)

    def usage_error(self, words: list[str]) -> int | None:
        """Report an unknown command or missing arguments the way process() would, without
        a connection; the exit code, or None when the command can run."""
        cmd = words[0]
        if cmd not in SPECS:
            return self.process(words)
        spec = SPECS[cmd]
        if HANDLERS.get(cmd) is None or not spec.parse_usage_error:
            return None
        try:
            _, pos = parse_options(spec, words)
            if len(pos) < spec.min_args:
                raise CliError(f"{cmd} {spec.usage}")
        except CliError as e:
            self.exit_code = e.code
            self.eprint(str(e))
            return self.exit_code
        return None

    def _process(self, words: list[str]) -> None:
        cmd, args = words[0], words
        if cmd == "help":
            self.usage()
            return
        if cmd not in SPECS:
            self.usage()
            raise CliError(f"Command not found: Command not found {cmd}", EXIT_NOT_FOUND)
        if cmd == "quit":
            if self.client is not None:
                self.client.close()
            raise SystemExit(self.exit_code)
        if cmd == "redo" and len(args) >= 2:
            try:
                i = int(args[1], 0)
            except ValueError:
                raise CliError(f'For input string: "{args[1]}"') from None
            if self.count <= i or i < 0:
                raise CliError("Command index out of range")
            again = split_line(self.history[i])
            if again[0] == "redo":
                raise CliError("No redoing redos")
            self.history[self.count] = self.history[i]
            self.process(again)
            return
        if cmd == "history":
            for i in range(max(self.count - 10, 0), self.count + 1):
                print(f"{i} - {self.history.get(i)}", file=self.out, flush=True)
            return
        if cmd == "printwatches":
            if len(args) == 1:
                print(f"printwatches is {'on' if self.print_watches else 'off'}", file=self.out)
            else:
                self.print_watches = args[1] == "on"
            return
        if cmd == "connect":
            self.connect(args[1] if len(args) >= 2 else None)
        if cmd == "version":
            print(f"ZooKeeper CLI version: pyzk {__version__}", file=self.out, flush=True)
            return
        if self.client is None or self.client.state in ("CLOSED", "AUTH_FAILED"):
            print("Not connected", file=self.out, flush=True)
            return
        handler = HANDLERS.get(cmd)
        if handler is None:
            return
        spec = SPECS[cmd]
        opts, pos = parse_options(spec, args)
        if spec.parse_usage_error and len(pos) < spec.min_args:
            raise CliError(f"{cmd} {spec.usage}")
        ctx = Context(self.client, self.out, self.err, opts, pos, {"notify": self.on_event})
        try:
            handler(ctx)
        except ZkError as e:
            raise CliError(keeper_message(e)) from None

    # --- loops -------------------------------------------------------------------------------
    def banner(self, stdin: TextIO) -> bool:
        """"Welcome to ZooKeeper!" and the JLine line; True when line editing is on."""
        tty = stdin.isatty()
        print("Welcome to ZooKeeper!", file=self.out, flush=True)
        print(f"JLine support is {'enabled' if tty else 'disabled'}", file=self.out, flush=True)
        return tty

    def interactive(self, stdin: TextIO, tty: bool) -> int:
        if tty:
            from pyzk.shell.repl import readline_loop

            readline_loop(self)
        else:  # as zkCli without JLine: no prompt, one command per line
            for line in stdin:
                self.execute_line(line.rstrip("\n"))
        return self.exit_code


def _parse_main(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """MyCommandOptions.parseOptions: options, then the first non-option starts the command."""
    opts = {"server": "localhost:2181", "timeout": "30000"}
    it = iter(argv)
    for opt in it:
        try:
            if opt == "-server":
                opts["server"] = next(it)
            elif opt == "-timeout":
                opts["timeout"] = next(it)
            elif opt in ("-client-configuration",):
                opts["client-configuration"] = next(it)
            elif opt in ("-r", "-waitforconnection"):
                opts[opt[1:]] = "true"
            elif opt in ("-h", "--help"):
                opts["help"] = "true"
        except StopIteration:
            print(f"Error: no argument found for option {opt}", file=sys.stderr)
            return opts, []
        if not opt.startswith("-"):
            return opts, [opt, *it]
    return opts, []


def main(argv: Sequence[str] | None = None, prog: str = "pyzk shell") -> int:
    opts, command = _parse_main(list(sys.argv[1:] if argv is None else argv))
    if "help" in opts:
        print(f"usage: {prog} [-server host:port[,host:port...]] [-timeout ms] [cmd args...]")
        return EXIT_OK
    shell = Shell(opts["server"], int(opts["timeout"]))
    print(f"Connecting to {opts['server']}", file=shell.out, flush=True)
    try:
        if not command:
            # zkCli prints its banner while the session is still being established.
            tty = shell.banner(sys.stdin)
            shell.connect()
            return shell.interactive(sys.stdin, tty)
        if (code := shell.usage_error(command)) is not None:
            return code  # as zkCli: a usage error is reported without connecting
        shell.connect()
        code = shell.process(command)
        # zkCli exits without closing (its Closed event never prints); close the session
        # politely but quietly so ephemerals it made do not linger for the timeout.
        shell.print_watches = False
        if shell.client is not None:
            shell.client.close()
        return code
    except SystemExit as e:
        return int(e.code or 0)
    except KeyboardInterrupt:
        return 130


def history_file() -> Path:
    return Path(os.environ.get("PYZK_SHELL_HISTORY", Path.home() / ".pyzk_shell_history"))
