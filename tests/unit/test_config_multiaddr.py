"""multiAddress.enabled: parsing and printing `|`-joined server lines by the rules of
QuorumPeer.QuorumServer (initializeWithAddressString, toString, equals) and QuorumPeerConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.config import load_config
from pyzk.config.model import ConfigError, LearnerType
from pyzk.config.servers import ServerLineError, allow_multi_address_lines, parse_server
from pyzk.zab import reconfig

JVM = {"SERVER_JVMFLAGS": "-Dzookeeper.multiAddress.enabled=true"}


@pytest.mark.parametrize("value, addresses, kind, printed", [
    # toString sorts the quorum and the election addresses by host (each list on its own)
    ("zk2:2889:3889|zk1:2888:3888", (("zk2", 2889, 3889), ("zk1", 2888, 3888)),
     LearnerType.PARTICIPANT, "zk1:2888:3888|zk2:2889:3889:participant"),
    ("10.0.1.1:2888:3888|10.0.2.1:2888:3888;2181",
     (("10.0.1.1", 2888, 3888), ("10.0.2.1", 2888, 3888)),
     LearnerType.PARTICIPANT, "10.0.1.1:2888:3888|10.0.2.1:2888:3888:participant;0.0.0.0:2181"),
    # the type may be on any address; one with it makes the whole server that type
    ("a:1:2|b:3:4:observer", (("a", 1, 2), ("b", 3, 4)), LearnerType.OBSERVER,
     "a:1:2|b:3:4:observer"),
    ("[::1]:1:2|127.0.0.1:3:4:participant;127.0.0.1:2181",
     (("::1", 1, 2), ("127.0.0.1", 3, 4)), LearnerType.PARTICIPANT,
     "127.0.0.1:3:4|[::1]:1:2:participant;127.0.0.1:2181"),
    ("a:1:2", (("a", 1, 2),), LearnerType.PARTICIPANT, "a:1:2:participant"),
])
def test_multi_address_lines_parse_and_print(value: str, addresses: tuple[tuple[str, int, int], ...],
                                             kind: LearnerType, printed: str) -> None:
    qs = parse_server(1, value, multi_address_enabled=True)
    assert qs.addresses == addresses
    assert qs.learner_type is kind
    assert qs.config_string() == printed
    # what it prints parses back to the same server (MultipleAddresses.equals: sets)
    again = parse_server(1, printed, multi_address_enabled=True)
    assert again.same_addresses(qs) and again.learner_type is kind


@pytest.mark.parametrize("value, enabled, message", [
    ("a:1:2|b:3:4", False, "Multiple address feature is disabled, but multiple addresses were"
                           " specified for sid 1"),
    # checked before the ;-count: a 3-part line with '|' still gets the multi-address error
    ("a:1:2|b:3:4;5;6", False, "Multiple address feature is disabled"),
    ("a:1:2|b:3:4;5;6", True, "does not have the form server_config"),
    ("a:1:2|b:3", True, "a:1:2|b:3 does not have the form server_config"),
    ("a:1:2|b:3:4:5:6", True, "does not have the form server_config"),
    ("a:1:2|b:x:4", True, "Address unresolved: b:x"),
    ("a:1:2|b:3:3", True, "Client and election port must be different! Please update the"
                          " configuration file on server.1"),
    ("a:1:2|b:3:4:voter", True, "Unrecognised peertype: voter"),
    # Java prints its type field, still the default, whichever type came first
    ("a:1:2:observer|b:3:4:participant", True,
     "Multiple addresses should have similar roles: PARTICIPANT vs PARTICIPANT"),
    ("a:1:2:participant|b:3:4:observer", True,
     "Multiple addresses should have similar roles: PARTICIPANT vs OBSERVER"),
])
def test_multi_address_line_errors(value: str, enabled: bool, message: str) -> None:
    with pytest.raises(ServerLineError) as info:
        parse_server(1, value, multi_address_enabled=enabled)
    assert message in str(info.value)


def _cfg(tmp_path: Path, lines: str) -> Path:
    p = tmp_path / "zoo.cfg"
    p.write_text(f"dataDir={tmp_path}\nclientPort=2181\ntickTime=2000\ninitLimit=5\n"
                 f"syncLimit=2\n{lines}")
    return p


SERVERS = ("server.1=10.0.1.1:2888:3888|10.0.2.1:2888:3888\n"
           "server.2=10.0.1.2:2888:3888|10.0.2.2:2888:3888\n"
           "server.3=10.0.1.3:2888:3888|10.0.2.3:2888:3888\n")


def test_zoo_cfg_key_alone_does_not_allow_pipe_lines(tmp_path: Path) -> None:
    """QuorumServer reads the system property, never the zoo.cfg key: Java refuses this."""
    with pytest.raises(ConfigError) as info:
        load_config(_cfg(tmp_path, "multiAddress.enabled=true\n" + SERVERS), myid=1, env={})
    e = info.value
    assert (e.line, e.key) == (7, "server.1")
    assert "Multiple address feature is disabled" in str(e) and "zoo.cfg:7:" in str(e)


def test_system_property_allows_lines_and_sets_the_key_default(tmp_path: Path) -> None:
    cfg = load_config(_cfg(tmp_path, SERVERS), myid=1, env=JVM)
    assert cfg.multi_address.lines and cfg.multi_address.enabled
    assert cfg.servers[2].quorum_addrs == [("10.0.1.2", 2888), ("10.0.2.2", 2888)]
    # zoo.cfg wins over the property for the key (V2 handshake off), the lines still parse
    cfg = load_config(_cfg(tmp_path, "multiAddress.enabled=false\n"
                           "multiAddress.reachabilityCheckEnabled=false\n"
                           "multiAddress.reachabilityCheckTimeoutMs=250\n" + SERVERS),
                      myid=1, env=JVM)
    assert cfg.multi_address.lines and not cfg.multi_address.enabled
    assert not cfg.multi_address.check_enabled and cfg.multi_address.check_timeout_ms == 250


def test_dynamic_file_lines_follow_the_property(tmp_path: Path) -> None:
    dyn = tmp_path / "zoo.cfg.dynamic.100000000"
    dyn.write_text(SERVERS)
    with pytest.raises(ConfigError) as info:
        load_config(_cfg(tmp_path, f"dynamicConfigFile={dyn}\n"), myid=1, env={})
    assert info.value.source == str(dyn) and info.value.line == 1
    cfg = load_config(_cfg(tmp_path, f"dynamicConfigFile={dyn}\n"), myid=1, env=JVM)
    assert len(cfg.servers[3].addresses) == 2


def test_reconfig_duplicate_check_covers_every_address() -> None:
    """QuorumServer.checkAddressDuplicate compares all addresses of both servers."""
    old = {1: parse_server(1, "10.0.1.1:2888:3888|10.0.2.1:2888:3888;2181", True)}
    with pytest.raises(reconfig.ReconfigError) as info:
        reconfig.check_address_duplicate(
            parse_server(2, "10.0.1.2:2888:3888|10.0.2.1:2888:3889;2181", True), old[1])
    assert "10.0.2.1:2888 of server.2 conflicts" in info.value.detail


def test_reconfig_joiners_parse_by_the_process_setting() -> None:
    """A reconfig request's server lines go through QuorumServer too, so the same system
    property decides (allow_multi_address_lines, set by the quorum peer at start)."""
    last = {i: parse_server(i, f"10.0.1.{i}:2888:3888;2181") for i in (1, 2, 3)}
    joiner = "server.4=10.0.1.4:2888:3888|10.0.2.4:2888:3888;2181"
    with pytest.raises(reconfig.ReconfigError):
        reconfig.incremental(last, joiner, None)
    allow_multi_address_lines(True)
    try:
        servers = reconfig.incremental(last, joiner, None)
    finally:
        allow_multi_address_lines(False)
    assert servers[4].election_addrs == [("10.0.1.4", 3888), ("10.0.2.4", 3888)]
    assert servers[4].config_string() == \
        "10.0.1.4:2888:3888|10.0.2.4:2888:3888:participant;0.0.0.0:2181"
