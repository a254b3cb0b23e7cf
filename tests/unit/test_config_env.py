"""Container environment variables (official image ZOO_*, Confluent ZOOKEEPER_*) become zoo.cfg
keys, override the file, and are validated with the variable named in errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.config import ConfigError, config_from_env, env_myid, load_config


def test_official_image_variables_map_to_keys() -> None:
    env = {
        "ZOO_TICK_TIME": "2000", "ZOO_INIT_LIMIT": "5", "ZOO_SYNC_LIMIT": "2",
        "ZOO_MAX_CLIENT_CNXNS": "0", "ZOO_4LW_COMMANDS_WHITELIST": "*",
        "ZOO_STANDALONE_ENABLED": "true", "ZOO_ADMINSERVER_ENABLED": "false",
        "ZOO_DATA_DIR": "/data", "ZOO_DATA_LOG_DIR": "/datalog",
        "ZOO_AUTOPURGE_PURGEINTERVAL": "1", "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "5",
        "ZOO_SERVERS": "server.1=zoo1:2888:3888;2181 server.2=zoo2:2888:3888;2181",
        "ZOO_CFG_EXTRA": "metricsProvider.httpPort=7001 skipACL=yes",
        "ZOO_LOG_DIR": "/logs", "ZOO_CONF_DIR": "/conf",  # not zoo.cfg keys: ignored
    }
    assert config_from_env(env) == {
        "tickTime": "2000", "initLimit": "5", "syncLimit": "2", "maxClientCnxns": "0",
        "4lw.commands.whitelist": "*", "standaloneEnabled": "true",
        "admin.enableServer": "false", "dataDir": "/data", "dataLogDir": "/datalog",
        "autopurge.purgeInterval": "1", "autopurge.snapRetainCount": "5",
        "server.1": "zoo1:2888:3888;2181", "server.2": "zoo2:2888:3888;2181",
        "metricsProvider.httpPort": "7001", "skipACL": "yes",
    }


def test_confluent_variables_map_to_keys() -> None:
    env = {
        "ZOOKEEPER_CLIENT_PORT": "2181", "ZOOKEEPER_TICK_TIME": "2000",
        "ZOOKEEPER_INIT_LIMIT": "10", "ZOOKEEPER_SYNC_LIMIT": "5",
        "ZOOKEEPER_SERVERS": "zk1:2888:3888;zk2:2888:3888;zk3:2888:3888",
        "ZOOKEEPER_SERVER_ID": "2",
        "ZOOKEEPER_AUTOPURGE_PURGE_INTERVAL": "24",
        "ZOOKEEPER_MAX_CLIENT_CNXNS": "100",
        "ZOOKEEPER_4LW_COMMANDS_WHITELIST": "ruok,mntr",
        "ZOOKEEPER_HOME": "/opt/zk", "ZOOKEEPER_VERSION": "3.8.4",  # ignored
    }
    assert config_from_env(env) == {
        "clientPort": "2181", "tickTime": "2000", "initLimit": "10", "syncLimit": "5",
        "server.1": "zk1:2888:3888", "server.2": "zk2:2888:3888", "server.3": "zk3:2888:3888",
        "autopurge.purgeInterval": "24", "maxClientCnxns": "100",
        "4lw.commands.whitelist": "ruok,mntr",
    }
    assert env_myid(env) == 2


def test_myid_from_official_image() -> None:
    assert env_myid({"ZOO_MY_ID": "3"}) == 3
    assert env_myid({}) is None
    with pytest.raises(ConfigError, match="env ZOO_MY_ID: serverid x is not a number"):
        env_myid({"ZOO_MY_ID": "x"})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "zoo.cfg"
    path.write_text(f"dataDir={tmp_path}\nclientPort=2181\ntickTime=2000\n")
    c = load_config(path, env={"ZOO_TICK_TIME": "500", "PYZK_LOG_FORMAT": "json"})
    assert c.tick_time_ms == 500 and c.log_format == "json"
    assert c.raw["tickTime"] == "500"


def test_environment_builds_a_quorum_member(tmp_path: Path) -> None:
    env = {"ZOOKEEPER_SERVERS": "127.0.0.1:2888:3888;127.0.0.2:2888:3888;127.0.0.3:2888:3888",
           "ZOOKEEPER_SERVER_ID": "3", "ZOOKEEPER_CLIENT_PORT": "2181",
           "ZOOKEEPER_INIT_LIMIT": "10", "ZOOKEEPER_SYNC_LIMIT": "5",
           "ZOOKEEPER_DATA_DIR": str(tmp_path)}
    c = load_config(None, env=env, workdir=tmp_path)
    assert c.is_distributed and c.my_id == 3 and len(c.servers) == 3


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "zoo.cfg"
    path.write_text(f"dataDir={tmp_path}\nclientPort=2181\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"ZOO_TICK_TIME": "fast"})
    assert str(info.value) == "env ZOO_TICK_TIME: invalid value 'fast' for tickTime: expected an integer"


def test_malformed_cfg_extra_is_rejected() -> None:
    with pytest.raises(ConfigError, match="env ZOO_CFG_EXTRA: 'oops' is not key=value"):
        config_from_env({"ZOO_CFG_EXTRA": "oops"})


def test_misspelled_variables_are_warned_about_not_silently_ignored() -> None:
    from pyzk.config import load_config

    cfg = load_config(None, env={"ZOOKEEPER_TICK_TME": "3000", "ZOO_TICK_TME": "3000",
                                 "ZOOKEEPER_HOME": "/opt/zk", "ZOO_LOG_DIR": "/logs",
                                 "ZOOKEEPER_TICK_TIME": "2500"})
    assert cfg.tick_time_ms == 2500
    assert [w for w in cfg.warnings if "environment variable" in w] == [
        "environment variable ZOOKEEPER_TICK_TME is not used (did you mean the variable for"
        " tickTime, ZOOKEEPER_TICK_TIME?)",
        "environment variable ZOO_TICK_TME is not used (did you mean ZOO_TICK_TIME?)",
    ]
