"""pyzk configuration: zoo.cfg parsing (Java properties syntax, QuorumPeerConfig semantics),
the key table, environment overrides, and the frozen Config the server runs from.
"""

from pyzk.config.env import config_from_env, env_myid
from pyzk.config.keys import KEYS, Key, Status, lookup
from pyzk.config.load import Entry, build_config, load_config, read_entries
from pyzk.config.model import (
    ALL_FOUR_LETTER_WORDS,
    EMBEDDED_FOUR_LETTER_WORDS,
    Config,
    ConfigError,
    LearnerType,
    QuorumServer,
)
from pyzk.config.properties import Prop, parse_properties
from pyzk.config.servers import parse_server

__all__ = [
    "ALL_FOUR_LETTER_WORDS", "EMBEDDED_FOUR_LETTER_WORDS", "KEYS", "Config", "ConfigError",
    "Entry", "Key", "LearnerType", "Prop", "QuorumServer", "Status", "build_config",
    "config_from_env", "env_myid", "load_config", "lookup", "parse_properties", "parse_server",
    "read_entries",
]
