"""Container-style environment overrides: the official `zookeeper` image's ZOO_* variables,
Confluent cp-zookeeper's ZOOKEEPER_* variables, and PYZK_LOG_FORMAT / PYZK_LOG_LEVEL.

Unlike the official image (which only writes them into a missing zoo.cfg), pyzk applies them on
top of the file so one image serves both ways; every value is still validated like a zoo.cfg line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pyzk.config.keys import ENV_INDEX, normalised
from pyzk.config.load import Entry
from pyzk.config.model import ConfigError

# Official image (docker-library zookeeper docker-entrypoint.sh, 3.8): variable -> zoo.cfg key.
ZOO_VARS: dict[str, str] = {
    "ZOO_DATA_DIR": "dataDir",
    "ZOO_DATA_LOG_DIR": "dataLogDir",
    "ZOO_TICK_TIME": "tickTime",
    "ZOO_INIT_LIMIT": "initLimit",
    "ZOO_SYNC_LIMIT": "syncLimit",
    "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "autopurge.snapRetainCount",
    "ZOO_AUTOPURGE_PURGEINTERVAL": "autopurge.purgeInterval",
    "ZOO_MAX_CLIENT_CNXNS": "maxClientCnxns",
    "ZOO_STANDALONE_ENABLED": "standaloneEnabled",
    "ZOO_ADMINSERVER_ENABLED": "admin.enableServer",
    "ZOO_4LW_COMMANDS_WHITELIST": "4lw.commands.whitelist",
    "PYZK_LOG_FORMAT": "pyzk.log.format",
    "PYZK_LOG_LEVEL": "pyzk.log.level",
}
# ZOOKEEPER_<X> names that are not zoo.cfg keys even though they normalise to one.
_NOT_KEYS = {"ZOOKEEPER_VERSION", "ZOOKEEPER_SERVER_ID", "ZOOKEEPER_SERVERS"}


def _split_assignment(item: str, var: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"'{item}' is not key=value", f"env {var}")
    return key.strip(), value.strip()


def env_entries(env: Mapping[str, str]) -> dict[str, Entry]:
    """zoo.cfg entries derived from the environment, each remembering its variable."""
    out: dict[str, Entry] = {}

    def put(key: str, value: str, var: str) -> None:
        out.pop(key, None)
        out[key] = Entry(value, f"env {var}")

    for var, key in ZOO_VARS.items():
        if env.get(var, "") != "":
            put(key, env[var], var)
    # ZOO_SERVERS: whitespace-separated full lines, "server.1=zoo1:2888:3888;2181 server.2=...".
    for item in env.get("ZOO_SERVERS", "").split():
        put(*_split_assignment(item, "ZOO_SERVERS"), "ZOO_SERVERS")
    # ZOO_CFG_EXTRA: whitespace-separated key=value pairs appended verbatim to zoo.cfg.
    for item in env.get("ZOO_CFG_EXTRA", "").split():
        put(*_split_assignment(item, "ZOO_CFG_EXTRA"), "ZOO_CFG_EXTRA")
    # Confluent: ZOOKEEPER_<KEY> in UPPER_SNAKE for any key (ZOOKEEPER_TICK_TIME -> tickTime,
    # ZOOKEEPER_AUTOPURGE_PURGE_INTERVAL -> autopurge.purgeInterval). Unmatched names are
    # ignored: images set unrelated ZOOKEEPER_* variables (ZOOKEEPER_HOME, ...).
    for var in sorted(env):
        if not var.startswith("ZOOKEEPER_") or var in _NOT_KEYS or env[var] == "":
            continue
        mapped = ENV_INDEX.get(normalised(var[len("ZOOKEEPER_"):]))
        if mapped is not None and mapped != "version":
            put(mapped, env[var], var)
    # ZOOKEEPER_SERVERS: "host:2888:3888;host:2888:3888", ids 1..n in order.
    servers = env.get("ZOOKEEPER_SERVERS", "")
    if servers.strip():
        for i, item in enumerate(s for s in re.split(r"[;,\s]+", servers) if s):
            put(f"server.{i + 1}", item, "ZOOKEEPER_SERVERS")
    return out


# Variables the official image and Confluent's set for their own scripts, not zoo.cfg keys.
_IMAGE_VARS = {"ZOO_MY_ID", "ZOO_SERVERS", "ZOO_CFG_EXTRA", "ZOO_CONF_DIR", "ZOO_LOG_DIR",
               "ZOO_LOG4J_PROP", "ZOO_USER", "ZOO_DATADIR_AUTOCREATE_DISABLE", "ZOO_ENTRYPOINT"}


def env_warnings(env: Mapping[str, str]) -> list[str]:
    """ZOO_* / ZOOKEEPER_* variables pyzk ignores although they look like a misspelled one it
    reads (ZOOKEEPER_TICK_TME, ZOO_TICK_TME): one warning each, naming the likely intent.
    Unrelated variables images set (ZOOKEEPER_HOME, ZOO_LOG_DIR, ...) are not reported."""
    import difflib

    known_zoo = [*ZOO_VARS, *_IMAGE_VARS]
    out: list[str] = []
    for var in sorted(env):
        if var.startswith("ZOO_") and var not in known_zoo:
            close = difflib.get_close_matches(var, known_zoo, n=1, cutoff=0.85)
            if close:
                out.append(f"environment variable {var} is not used (did you mean {close[0]}?)")
        elif var.startswith("ZOOKEEPER_") and var not in _NOT_KEYS:
            name = normalised(var[len("ZOOKEEPER_"):])
            if name in ENV_INDEX:
                continue
            close = difflib.get_close_matches(name, list(ENV_INDEX), n=1, cutoff=0.85)
            if close:
                key = ENV_INDEX[close[0]]
                out.append(f"environment variable {var} is not used (did you mean the variable"
                           f" for {key}, ZOOKEEPER_{_snake(key)}?)")
    return out


def _snake(key: str) -> str:
    """tickTime -> TICK_TIME, autopurge.purgeInterval -> AUTOPURGE_PURGE_INTERVAL."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).replace(".", "_").upper()


def config_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """The zoo.cfg keys (and values) the environment sets."""
    return {k: e.value for k, e in env_entries(env).items()}


def env_myid(env: Mapping[str, str]) -> int | None:
    """ZOO_MY_ID (official image) or ZOOKEEPER_SERVER_ID (Confluent)."""
    for var in ("ZOO_MY_ID", "ZOOKEEPER_SERVER_ID"):
        value = env.get(var, "").strip()
        if value:
            if not re.fullmatch(r"[0-9]+", value):
                raise ConfigError(f"serverid {value} is not a number", f"env {var}")
            return int(value)
    return None
