"""The Docker image and compose files: the Dockerfile's key properties, both compose files (and
the seed's own compose file with only the image changed) validated by docker-compose, and their
environments turned into the expected pyzk Config through the same code the container runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyzk.config import load_config
from pyzk.config.env import config_from_env

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
SEED_DIR = Path("/work/shared/seed")
HOST = "127.0.0.151"
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose binary missing (Debian package docker-compose)")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = (DOCKER / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_runs_as_non_root_user_1000() -> None:
    ins = dockerfile_instructions()
    assert ("FROM", "python:3.11-slim") in ins
    users = [a for i, a in ins if i == "USER"]
    assert users and users[-1].split(":")[0] == "zookeeper"
    run = " ".join(a for i, a in ins if i == "RUN")
    assert "--uid 1000" in run and "--gid 1000" in run


def test_dockerfile_healthcheck_exposes_volumes_and_entrypoint() -> None:
    ins = dict((i, a) for i, a in dockerfile_instructions())
    assert "ruok" in ins["HEALTHCHECK"] and "imok" in ins["HEALTHCHECK"]
    assert set(ins["EXPOSE"].split()) == {"2181", "2888", "3888", "8080", "7000"}
    assert set(json.loads(ins["VOLUME"])) == {"/data", "/datalog"}
    assert json.loads(ins["ENTRYPOINT"]) == ["pyzk"]
    assert json.loads(ins["CMD"]) == ["serve", "--config", "/conf/zoo.cfg"]
    assert "uvloop" in " ".join(a for i, a in dockerfile_instructions() if i == "RUN")


def compose(name: str) -> dict[str, Any]:
    return yaml.safe_load((DOCKER / name).read_text())


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


def test_compose_reproduces_the_seed_ensemble() -> None:
    doc = compose("docker-compose.yml")
    assert sorted(doc["services"]) == ["zk1", "zk2", "zk3"]
    for i in (1, 2, 3):
        svc = doc["services"][f"zk{i}"]
        assert svc["hostname"] == f"zk{i}"
        assert svc["ports"] == [f"218{i}:2181"]
        env = env_of(svc)
        assert env["ZOOKEEPER_SERVER_ID"] == str(i)
        assert env["ZOOKEEPER_SERVERS"] == "zk1:2888:3888;zk2:2888:3888;zk3:2888:3888"
        assert all(":/data" in v or ":/datalog" in v for v in svc["volumes"])
        assert all(v.split(":")[0] in doc["volumes"] for v in svc["volumes"])


@pytest.mark.parametrize("name,prefix", [("docker-compose.yml", "zk"),
                                         ("docker-compose.official-env.yml", "zoo")])
def test_compose_environment_gives_the_expected_config(name: str, prefix: str) -> None:
    doc = compose(name)
    for i in (1, 2, 3):
        env = env_of(doc["services"][f"{prefix}{i}"])
        config = load_config(DOCKER / "zoo.cfg", env=env)
        assert config.my_id == i
        assert config.is_distributed
        assert config.client_port == 2181
        assert (config.tick_time_ms, config.init_limit, config.sync_limit) == (2000, 5, 2)
        assert config.quorum_listen_on_all_ips  # image default, see docs/deployment.md
        assert str(config.data_dir) == "/data" and str(config.data_log_dir) == "/datalog"
        assert {s: (q.host, q.quorum_port, q.election_port)
                for s, q in config.servers.items()} == {
            n: (f"{prefix}{n}", 2888, 3888) for n in (1, 2, 3)}


def test_confluent_env_maps_to_zoo_cfg_keys() -> None:
    env = env_of(compose("docker-compose.yml")["services"]["zk1"])
    assert config_from_env(env) == {
        "clientPort": "2181", "tickTime": "2000", "initLimit": "5", "syncLimit": "2",
        "server.1": "zk1:2888:3888", "server.2": "zk2:2888:3888", "server.3": "zk3:2888:3888"}
    off = config_from_env({"ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS": "false"})
    assert off == {"quorumListenOnAllIPs": "false"}
    assert not load_config(DOCKER / "zoo.cfg", env={**env, **{
        "ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS": "false"}}).quorum_listen_on_all_ips


def seed_compose_text() -> str | None:
    for path in sorted(SEED_DIR.glob("*.txt")) if SEED_DIR.is_dir() else []:
        m = re.search(r"```yaml\n(version:.*?services:.*?)```", path.read_text(), re.S)
        if m and "ZOOKEEPER_SERVERS" in m.group(1):
            return m.group(1)
    return None


def test_seed_compose_file_with_only_the_image_changed(tmp_path: Path) -> None:
    text = seed_compose_text()
    if text is None:
        pytest.skip(f"no seed compose file under {SEED_DIR}")
    changed = text.replace("confluentinc/cp-zookeeper:7.4.0", "pyzk:latest")
    assert changed != text
    doc = yaml.safe_load(changed)
    env1 = env_of(doc["services"]["zk1"])
    c1 = load_config(DOCKER / "zoo.cfg", env=env1)
    assert c1.my_id == 1 and sorted(c1.servers) == [1, 2, 3]
    # The seed elides zk2/zk3's other keys ("... mesmas configurações"): taken literally they
    # carry only ZOOKEEPER_SERVER_ID and start as standalone servers on 2181.
    for i in (2, 3):
        c = load_config(DOCKER / "zoo.cfg", env=env_of(doc["services"][f"zk{i}"]))
        assert c.my_id == i and not c.is_distributed and c.client_port == 2181
    if COMPOSE is not None:
        path = tmp_path / "docker-compose.yml"
        path.write_text(changed)
        res = subprocess.run([COMPOSE, "-f", str(path), "config"], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr


@needs_compose
@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.official-env.yml"])
def test_docker_compose_config_validates(name: str) -> None:
    assert COMPOSE is not None
    res = subprocess.run([COMPOSE, "-f", str(DOCKER / name), "config"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    rendered = yaml.safe_load(res.stdout)
    assert len(rendered["services"]) == 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def test_image_config_serves_and_healthcheck_reports_imok(tmp_path: Path) -> None:
    """The baked /conf/zoo.cfg, with env overrides for paths and ports (what a container run
    with -e does), starts a server; the HEALTHCHECK command exits 0 against it, 1 elsewhere."""
    port = free_port()
    env = dict(os.environ, ZOOKEEPER_DATA_DIR=str(tmp_path / "data"),
               ZOOKEEPER_DATA_LOG_DIR=str(tmp_path / "datalog"),
               ZOOKEEPER_CLIENT_PORT=str(port), ZOOKEEPER_CLIENT_PORT_ADDRESS=HOST,
               ZOOKEEPER_ADMIN_ENABLE_SERVER="false", ZOOKEEPER_METRICS_PROVIDER_HTTP_HOST=HOST,
               ZOOKEEPER_METRICS_PROVIDER_HTTP_PORT=str(free_port()),
               PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "pyzk", "serve", "--config",
                             str(DOCKER / "zoo.cfg")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    hc = json.loads(dict(dockerfile_instructions())["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert hc[0] == "python"
    script = hc[2].replace("127.0.0.1", HOST)
    try:
        deadline = time.monotonic() + 30
        code = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            code = subprocess.run([sys.executable, "-c", script], env=env,
                                  capture_output=True).returncode
            if code == 0:
                break
            time.sleep(0.1)
        assert code == 0
        down = dict(env, ZOOKEEPER_CLIENT_PORT=str(free_port()))
        assert subprocess.run([sys.executable, "-c", script], env=down,
                              capture_output=True).returncode != 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
