"""docker/docker-compose.yml without Docker: each service becomes a network namespace (pyzkc-zk1..3)
with its own address on a bridge, an /etc/hosts naming zk1..zk3 and its hostname, running the
image's exact command (`pyzk serve --config /conf/zoo.cfg`, /conf, /data, /datalog mapped to temp
directories) with the image's ENV and the service's environment. The three form one quorum,
serve a kazoo client that names them zk1:2181,zk2:2181,zk3:2181, and keep accepting writes when
one "container" is killed.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyzk.testing.netns import BridgeNet, unavailable_reason
from tests.deploy.compose import DOCKER, Container, build_containers, pyzk_executable
from tests.servers import JAVA_CLASSPATH, REPO, compile_java, java_available

HERE = Path(__file__).resolve().parent

PREFIX = "pyzkc-"
SECURE_FILES = (DOCKER / "docker-compose.yml", DOCKER / "docker-compose.secure.yml")
CLIENT = HERE / "compose_client.py"


def srvr_local(word: str = "srvr") -> str:
    """A 4LW to 127.0.0.1:2181 of the namespace this runs in (as the image's HEALTHCHECK)."""
    try:
        with socket.create_connection(("127.0.0.1", 2181), timeout=2) as s:
            s.sendall(word.encode())
            chunks = []
            while b := s.recv(65536):
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def wait_for(cond: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return value


class Cluster:
    def __init__(self, net: BridgeNet, containers: list[Container]) -> None:
        self.net = net
        self.containers = {c.hostname: c for c in containers}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def up(self) -> None:
        for h, c in self.containers.items():
            with open(c.root / "container.log", "wb") as log:
                self.procs[h] = subprocess.Popen(
                    self.net.exec_prefix(h) + c.argv, env=c.env, cwd=c.workdir,
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)

    def kill(self, hostname: str) -> None:
        p = self.procs[hostname]
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)  # `docker kill`
            p.wait(10)

    def down(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for h, p in self.procs.items():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                self.kill(h)

    def mode(self, hostname: str) -> str | None:
        if self.procs[hostname].poll() is not None:
            return None
        for line in self.net.run(hostname, srvr_local).splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return None

    def modes(self) -> dict[str, str | None]:
        return {h: self.mode(h) for h in self.containers}

    def logs(self) -> str:
        return "\n".join(
            f"--- {h}:\n" + "\n".join((c.root / "container.log").read_text(
                errors="replace").splitlines()[-20:]) for h, c in self.containers.items())

    def client(self, inside: str, hosts: str, *args: str) -> dict[str, object]:
        """compose_client.py run inside `inside`'s namespace (names resolve as there)."""
        r = subprocess.run(["ip", "netns", "exec", self.net.ns[inside], sys.executable,
                            str(CLIENT), hosts, *args], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, f"client in {inside} failed:\n{r.stderr[-3000:]}"
        return json.loads(r.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    yield from _running(build_containers(tmp_path, pyzk_executable()))


@pytest.fixture
def secure_cluster(tmp_path: Path) -> Iterator[Cluster]:
    yield from _running(build_containers(tmp_path, pyzk_executable(), *SECURE_FILES))


def _running(containers: list[Container]) -> Iterator[Cluster]:
    hostnames = [c.hostname for c in containers]
    reason = unavailable_reason(PREFIX + hostnames[0])
    if reason:
        pytest.skip(f"network namespaces unavailable: {reason}")
    net = BridgeNet(hostnames, PREFIX, "10.78.0")
    cl = Cluster(net, containers)
    try:
        net.create()
        cl.up()
        yield cl
    finally:
        cl.down()
        net.destroy()


def test_compose_ensemble_forms_serves_and_survives_a_killed_container(
        cluster: Cluster) -> None:
    t0 = time.monotonic()
    names = list(cluster.containers)
    assert names == ["zk1", "zk2", "zk3"]
    # Every container got the image's command line, unchanged but for the mapped /conf.
    for c in cluster.containers.values():
        assert c.argv[1:3] == ["serve", "--config"] and c.argv[3].endswith("/conf/zoo.cfg")

    def formed() -> dict[str, str | None] | None:
        modes = cluster.modes()
        ok = sorted(str(m) for m in modes.values()) == ["follower", "follower", "leader"]
        return modes if ok else None

    try:
        modes = wait_for(formed, 40, "one leader and two followers")
    except AssertionError as e:
        raise AssertionError(f"{e}: {cluster.modes()}\n{cluster.logs()}") from None
    formed_s = time.monotonic() - t0
    assert isinstance(modes, dict)
    leader = next(h for h, m in modes.items() if m == "leader")
    # The environment reached the server: conf inside zk2's namespace shows the compose values.
    conf = cluster.net.run("zk2", srvr_local, "conf")
    assert "serverId=2" in conf and "tickTime=2000" in conf and "initLimit=5" in conf, conf
    assert "server.1=zk1:2888:3888" in conf.replace(" ", ""), conf
    envi = cluster.net.run("zk1", srvr_local, "envi")  # hostname: as `hostname: zk1` sets it
    assert "host.name=zk1\n" in envi, envi

    every = "zk1:2181,zk2:2181,zk3:2181"
    survivor = next(h for h in names if h != leader)
    wrote = cluster.client(leader, every, "write", "before", "10")
    assert wrote["created"] == 10

    cluster.kill(leader)  # `docker kill` the leader's container
    remaining = [h for h in names if h != leader]
    after = wait_for(lambda: sorted(str(cluster.mode(h)) for h in remaining) ==
                     ["follower", "leader"], 30, "a new leader among the two left")
    assert after
    wrote = cluster.client(survivor, every, "write", "after", "10")
    assert wrote["created"] == 10 and wrote["server"] != cluster.net.addr[leader]
    for h in remaining:  # each surviving member, asked alone, has all twenty
        seen = cluster.client(h, f"{h}:2181", "count")
        assert seen == {"children": 20, "server": cluster.net.addr[h]}, seen
    total_s = time.monotonic() - t0
    print(f"compose topology: formed in {formed_s:.2f}s, whole test {total_s:.2f}s; "
          f"killed leader {leader}")


def test_secure_compose_ensemble_lets_in_only_sasl_logins(secure_cluster: Cluster,
                                                          tmp_path: Path) -> None:
    """docker-compose.secure.yml on top of the seed's file, with the JAAS files of
    docker/secure/: the members log in to each other (quorum SASL) to form the quorum; a Java
    client logging in as a Kafka broker does (the Client section of kafka_client_jaas.conf)
    works and owns what it creates; an anonymous client gets nothing."""
    cluster = secure_cluster
    modes = wait_for(lambda: sorted(str(m) for m in cluster.modes().values()) ==
                     ["follower", "follower", "leader"], 40, "one leader and two followers")
    assert modes, cluster.logs()
    for h, c in cluster.containers.items():  # every member was let in by its leader
        log = (c.root / "container.log").read_text(errors="replace")
        if cluster.mode(h) == "leader":
            assert log.count("Successfully completed the authentication using SASL") >= 2, log
    if not java_available():
        pytest.skip("the Java client needs Debian's zookeeper and a JDK")
    classes = compile_java(REPO / "tests" / "java" / "SaslClient.java", "SaslClient", "sasl")
    jaas = DOCKER / "secure" / "kafka_client_jaas.conf"
    r = subprocess.run(
        cluster.net.exec_prefix("zk1") + [
            "java", "-cp", f"{JAVA_CLASSPATH}:/usr/share/java/slf4j-api.jar:{classes}",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
            f"-Djava.security.auth.login.config={jaas}", "SaslClient",
            "zk1:2181,zk2:2181,zk3:2181", "/brokers", "kafka"],
        capture_output=True, text=True, timeout=90)
    lines = r.stdout.splitlines()
    assert "STATE SaslAuthenticated" in lines and "CREATE /brokers" in lines, \
        (lines, r.stderr[-2000:])
    assert "ACL 31 sasl:kafka" in lines and "GET 0" in lines, lines
    assert any(x.startswith("WHOAMI") and "sasl:kafka" in x for x in lines), lines
    anon = cluster.client("zk2", "zk1:2181,zk2:2181,zk3:2181", "anonymous")
    # sessionRequireClientSASLAuth: the request is answered -124 and the session closed.
    assert anon["error"] == "SessionClosedRequireSaslError", anon
