"""dynamicConfigFile at boot (QuorumPeerConfig.parse): server lines and the version come from
the dynamic file and its name, `.dynamic.next` is the last seen config, and editStaticConfig
writes zoo.cfg back in java.util.Properties' iteration order."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.config import ConfigError, load_config
from pyzk.config.dynamic import version_from_filename
from pyzk.config.properties import java_properties_order
from pyzk.zab import reconfig

STATIC = """tickTime=200
initLimit=5
syncLimit=5
dataDir={d}/data
clientPort=2181
clientPortAddress=127.0.6.1
4lw.commands.whitelist=*
admin.enableServer=false
maxClientCnxns=0
minSessionTimeout=1000
server.1=127.0.6.1:2888:3888
server.2=127.0.6.2:2888:3888
server.3=127.0.6.3:2888:3888
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
reconfigEnabled=true
"""


def test_edited_static_config_is_byte_identical_to_what_java_wrote() -> None:
    # Java 17 (Debian's 3.8.0) rewrote this zoo.cfg so after removing server.1 (observed run).
    out = reconfig.edited_static_config(STATIC.format(d="/w/s1"), "/w/s1/zoo.cfg.dynamic.100000002",
                                        False)
    assert out == (
        "dataDir=/w/s1/data\n4lw.commands.whitelist=*\nsyncLimit=5\n"
        "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"
        "reconfigEnabled=true\nclientPortAddress=127.0.6.1\nadmin.enableServer=false\n"
        "clientPort=2181\ninitLimit=5\ntickTime=200\nminSessionTimeout=1000\nmaxClientCnxns=0\n"
        "dynamicConfigFile=/w/s1/zoo.cfg.dynamic.100000002\n")
    # Editing the edited file again (the next reconfig) keeps the order, new pointer last.
    again = reconfig.edited_static_config(out, "/w/s1/zoo.cfg.dynamic.100000005", False)
    assert again == out.replace("100000002", "100000005")


def test_properties_order_resizes_like_concurrent_hash_map() -> None:
    keys = [f"k{i}" for i in range(40)]
    order = java_properties_order(keys)
    assert sorted(order) == sorted(keys) and len(order) == 40
    assert java_properties_order(["a", "b", "a"]) == java_properties_order(["a", "b"])


@pytest.mark.parametrize("name, version", [
    ("zoo.cfg.dynamic.100000002", 0x100000002), ("zoo.cfg.dynamic.0", 0),
    ("zoo.cfg.dynamic", None), ("/x/zoo.cfg.dynamic.next", None)])
def test_version_from_filename(name: str, version: int | None) -> None:
    assert version_from_filename(name) == version


def _write(tmp_path: Path, static: str, dynamic: str, name: str = "zoo.cfg.dynamic.100000002",
           ) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "myid").write_text("2\n")
    (tmp_path / name).write_text(dynamic)
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(static + f"dynamicConfigFile={tmp_path / name}\n")
    return cfg


def _static(tmp_path: Path) -> str:
    return "".join(ln + "\n" for ln in STATIC.format(d=tmp_path).splitlines()
                   if not ln.startswith("server."))


DYN = "server.2=127.0.6.2:2888:3888:participant\nserver.3=127.0.6.3:2888:3888:participant"


def test_dynamic_file_gives_members_and_version(tmp_path: Path) -> None:
    c = load_config(_write(tmp_path, _static(tmp_path), DYN))
    assert sorted(c.servers) == [2, 3] and c.config_version == 0x100000002
    # the dynamic lines carry no client address: clientPort* of zoo.cfg stay in force
    assert c.my_id == 2 and c.client_port == 2181 and c.client_port_address == "127.0.6.1"
    assert c.servers[2].client_from_static
    assert c.dynamic_config_file == tmp_path / "zoo.cfg.dynamic.100000002"
    assert c.next_config is None and c.is_distributed


def test_next_file_is_the_last_seen_config(tmp_path: Path) -> None:
    cfg = _write(tmp_path, _static(tmp_path), DYN)
    (tmp_path / "zoo.cfg.dynamic.next").write_text(
        DYN + "\nserver.4=127.0.6.4:2888:3888:observer;2181\nversion=100000007")
    c = load_config(cfg)
    assert c.next_config is not None
    servers, version = c.next_config.servers, c.next_config.version
    assert sorted(servers) == [2, 3, 4] and version == 0x100000007


@pytest.mark.parametrize("static_extra, dynamic, message", [
    ("server.2=127.0.6.2:2888:3888\n", DYN,
     "parameter: server.2 must be in a separate dynamic config file"),
    ("", DYN + "\nversion=100000002", "dynamic file shouldn't have version inside"),
    ("", DYN + "\nclientPort=2181", "Unrecognised parameter: clientPort"),
    ("", "server.2=127.0.6.2:2888", "does not have the form"),
])
def test_dynamic_file_errors(tmp_path: Path, static_extra: str, dynamic: str,
                             message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, _static(tmp_path) + static_extra, dynamic))


def test_missing_dynamic_file_is_an_error(tmp_path: Path) -> None:
    cfg = _write(tmp_path, _static(tmp_path), DYN)
    (tmp_path / "zoo.cfg.dynamic.100000002").unlink()
    with pytest.raises(ConfigError, match="Error processing"):
        load_config(cfg)
