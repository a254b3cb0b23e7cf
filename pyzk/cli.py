"""The `pyzk` command: `pyzk [serve] [--config zoo.cfg | zoo.cfg] [--myid N]` runs a server,
`pyzk check` validates a config, `pyzk keys` lists every zoo.cfg key, `pyzk tools ...` runs
the offline data-directory tools (pyzk.tools).

Configuration errors print one line (`pyzk: error: zoo.cfg:7: unknown key 'tickTme'`) and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyzk import __version__

if TYPE_CHECKING:
    from pyzk.config import Config

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("config_path", nargs="*", metavar="zoo.cfg",
                   help="config file (like QuorumPeerMain zoo.cfg), or ZooKeeperServerMain's"
                        " 'port dataDir [tickTime [maxClientCnxns]]'")
    p.add_argument("--config", "-c", dest="config", help="zoo.cfg to read (default: embedded"
                   " standalone config: port 2181, dataDir ./data)")
    p.add_argument("--myid", type=int, help="this server's id (default: dataDir/myid)")
    p.add_argument("--log-format", choices=("console", "json", "auto"),
                   help="log format (default: pyzk.log.format, else auto)")
    p.add_argument("--log-level", help="log level (default: pyzk.log.level, else INFO)")
    p.add_argument("--no-env", action="store_true",
                   help="ignore ZOO_* / ZOOKEEPER_* / PYZK_* environment overrides")


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--version", action="version", version=f"pyzk {__version__}")
    return p


def _error(err: Exception, fmt: str | None) -> None:
    """Exactly one line on stderr: plain text, or a JSON log line (with source, line and key
    fields) when JSON logs were asked for."""
    if fmt == "json":
        from pyzk import logs

        logs.configure("json", "INFO", sys.stderr)
        logs.log_config_error(err)
    else:
        print(f"pyzk: error: {err}", file=sys.stderr)


def _load(args: argparse.Namespace) -> Config:
    """Config from the arguments; raises ConfigError."""
    from pyzk.config import ConfigError, build_config, load_config

    env = None if args.no_env else os.environ
    positional: list[str] = list(args.config_path)
    if args.config and positional:
        raise ConfigError("give the config file either with --config or as an argument, not both")
    if len(positional) >= 2:
        # ZooKeeperServerMain / ServerConfig.parse(String[]): port dataDir [tickTime [maxCnxns]]
        if len(positional) > 4:
            raise ConfigError(f"Invalid number of arguments:{positional}")
        keys = ("clientPort", "dataDir", "tickTime", "maxClientCnxns")
        entries = dict(zip(keys, positional, strict=False))
        return build_config(entries, source_name="<command line>", myid=args.myid)
    path = args.config or (positional[0] if positional else None)
    return load_config(Path(path) if path else None, myid=args.myid, env=env)


def _install_uvloop() -> bool:
    if os.environ.get("PYZK_NO_UVLOOP"):
        return False
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def cmd_serve(argv: Sequence[str], prog: str = "pyzk") -> int:
    p = _parser(prog, "Run a ZooKeeper-compatible server.")
    _common(p)
    args = p.parse_args(list(argv))
    from pyzk import logs
    from pyzk.config import ConfigError

    try:
        config = _load(args)
    except ConfigError as e:
        _error(e, args.log_format or os.environ.get("PYZK_LOG_FORMAT"))
        return EXIT_CONFIG
    logs.configure(args.log_format or config.log_format, args.log_level or config.log_level)
    # Every line carries the server id (0 on a standalone server, as `conf` shows serverId).
    logs.bind_process(server_id=config.my_id if config.my_id is not None else 0)
    log = logs.get_logger("pyzk.cli")
    for warning in config.warnings:
        log.warning("config_warning", message=warning)
    uv = _install_uvloop()
    # debug: a start that fails says only why, in one line ("startup failed"); a good start
    # says "serving" / "quorum peer started" with the version and config.
    log.debug("starting", version=__version__, config=str(config.source or "<embedded default>"),
             client_port=config.client_port, data_dir=str(config.data_dir),
             my_id=config.my_id, distributed=config.is_distributed, uvloop=uv)
    try:
        from pyzk.server import runtime
    except ModuleNotFoundError as e:
        if e.name not in ("pyzk.server.runtime", "pyzk.server"):
            raise
        print("pyzk: error: the server runtime (pyzk.server.runtime) is not available",
              file=sys.stderr)
        return EXIT_FAILURE
    run: Callable[[Any], object] = runtime.run  # may return an exit code or a coroutine
    try:
        result = run(config)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else EXIT_OK


def cmd_check(argv: Sequence[str], prog: str = "pyzk check") -> int:
    """Validate a config and print the effective values; exit 2 when it is invalid."""
    p = _parser(prog, "Validate a zoo.cfg and print the effective configuration.")
    _common(p)
    args = p.parse_args(list(argv))
    from pyzk.config import ConfigError

    try:
        config = _load(args)
    except ConfigError as e:
        _error(e, args.log_format)
        return EXIT_CONFIG
    for warning in config.warnings:
        print(f"warning: {warning}")
    print(f"source={config.source or '<embedded default>'}")
    print(f"mode={'quorum' if config.is_distributed else 'standalone'}")
    shown = {"my_id": config.my_id, "client_port": config.client_port,
             "client_port_address": config.client_port_address, "data_dir": config.data_dir,
             "data_log_dir": config.data_log_dir, "tick_time_ms": config.tick_time_ms,
             "init_limit": config.init_limit, "sync_limit": config.sync_limit,
             "min_session_timeout_ms": config.min_session_timeout_ms,
             "max_session_timeout_ms": config.max_session_timeout_ms,
             "max_client_cnxns": config.max_client_cnxns,
             "jute_max_buffer": config.jute_max_buffer}
    for name, value in shown.items():
        print(f"{name}={value}")
    print(f"four_letter_whitelist={','.join(sorted(config.four_letter_whitelist))}")
    for sid, server in config.servers.items():
        print(f"server.{sid}={server.config_string()}")
    return EXIT_OK


def cmd_keys(argv: Sequence[str], prog: str = "pyzk keys") -> int:
    """Print the key table: name, pyzk status, default, doc."""
    p = _parser(prog, "List every zoo.cfg key Apache ZooKeeper documents and pyzk's stance.")
    p.add_argument("--status", choices=("honoured", "refused", "inert"))
    args = p.parse_args(list(argv))
    from pyzk.config.keys import KEYS, PATTERNS

    for key in [*KEYS, *(k for _, k in PATTERNS)]:
        if args.status and key.status.value != args.status:
            continue
        default = "" if key.default is None else key.default
        print(f"{key.name:<52} {key.status.value:<9} {default!s:<12} {key.doc}")
    return EXIT_OK


def cmd_tools(argv: Sequence[str], prog: str = "pyzk tools") -> int:
    """Offline tools for data directories (pyzk.tools): dump-log, dump-snapshot, check, purge."""
    from pyzk import tools

    return tools.main(list(argv), prog=prog)


def cmd_backup(argv: Sequence[str], prog: str = "pyzk backup") -> int:
    """Online copy of a server's data directory (pyzk.backup)."""
    from pyzk import backup

    return backup.main(argv, prog)


def cmd_shell(argv: Sequence[str], prog: str = "pyzk shell") -> int:
    """zkCli.sh-compatible client shell (pyzk.shell)."""
    from pyzk import shell

    return shell.main(argv, prog)


def cmd_ctl(argv: Sequence[str], prog: str = "pyzk ctl") -> int:
    """Four-letter-word status table and any 4LW across servers (pyzk.ctl)."""
    from pyzk import ctl

    return ctl.main(argv, prog)


SUBCOMMANDS: dict[str, Callable[..., int]] = {
    "serve": cmd_serve,
    "check": cmd_check,
    "keys": cmd_keys,
    "tools": cmd_tools,
    "backup": cmd_backup,
    "shell": cmd_shell,
    "ctl": cmd_ctl,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `pyzk` and `python -m pyzk`; returns the exit status."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # `pyzk keys | head`: the reader left. Quietly, as cat does; stop Python's own
        # flush at exit from complaining again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE


def _unknown_command(word: str) -> str | None:
    """`pyzk bogus`: an error naming the unknown command, when `word` cannot be a config file
    (it exists, or looks like a path or file name) or ZooKeeperServerMain's port argument."""
    if word.startswith("-") or word.isdigit() or "/" in word or "." in word:
        return None
    if Path(word).exists():
        return None
    import difflib

    close = difflib.get_close_matches(word, list(SUBCOMMANDS), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (f"unknown command '{word}'{hint}; commands: {', '.join(SUBCOMMANDS)}"
            " (a config file: pyzk --config FILE)")


def _main(args: list[str]) -> int:
    if args and args[0] in SUBCOMMANDS:
        return SUBCOMMANDS[args[0]](args[1:], prog=f"pyzk {args[0]}")
    if args and args[0] in ("-h", "--help"):
        print("usage: pyzk [serve|check|keys|tools|backup|shell|ctl] [options]\n\n"
              "  serve  run the server (default): pyzk [--config zoo.cfg | zoo.cfg] [--myid N]\n"
              "  check  validate a config and print the effective values\n"
              "  keys   list every zoo.cfg key and whether pyzk honours it\n"
              "  tools  data-dir tools: dump-log FILE | dump-snapshot FILE | check DIR | purge DIR\n"
              "  backup copy a running server's data: --server HOST:PORT|--data-dir DIR --to DEST\n"
              "  shell  zkCli.sh-style client shell: [-server HOST:PORT[,...]] [cmd args...]\n"
              "  ctl    4LW across servers: status HOST:PORT[,...] | WORD HOST:PORT[,...]\n\n"
              "Run 'pyzk serve --help' for the server options.")
        return EXIT_OK
    if args and (problem := _unknown_command(args[0])) is not None:
        print(f"pyzk: error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return cmd_serve(args)
