"""Three pyzk processes form one ensemble: one leader, two followers; clients connected to any
member read every member's writes after sync, watches fire everywhere, and ephemerals vanish
ensemble-wide when their session closes or expires. Also the Java client's Kafka flows."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import threading

import pytest
from kazoo.client import KazooClient

from tests.ensemble.launcher import Ensemble, four_letter, wait_for

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def _client(hosts: str, timeout: float = 6.0) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=timeout)
    c.start(timeout=15)
    return c


def test_three_members_elect_one_leader_and_replicate_reads_writes_watches_ephemerals(
        make_ensemble) -> None:  # type: ignore[no-untyped-def]
    ens: Ensemble = make_ensemble(HOSTS)
    ens.start()
    modes = ens.modes()
    assert sorted(modes.values()) == ["follower", "follower", "leader"], modes
    # srvr/conf show the quorum; /zookeeper/config holds the membership as Java writes it.
    conf = four_letter(HOSTS[0], "conf")
    assert "initLimit=5" in conf and "membership: \nserver.1=127.0.0.1:2888:3888:participant" \
        in conf, conf
    clients = [_client(m.address) for m in ens.members.values()]
    try:
        cfg, _ = clients[0].get("/zookeeper/config")
        assert cfg.decode().splitlines() == [
            "server.1=127.0.0.1:2888:3888:participant", "server.2=127.0.0.2:2888:3888:participant",
            "server.3=127.0.0.3:2888:3888:participant", "version=0"]
        for i, c in enumerate(clients):
            c.ensure_path("/app")
            c.create(f"/app/from{i}", f"v{i}".encode())
        for c in clients:
            c.sync("/app")
            assert sorted(c.get_children("/app")) == ["from0", "from1", "from2"]
            assert [c.get(f"/app/from{i}")[0] for i in range(3)] == [b"v0", b"v1", b"v2"]
        # The leader reports its learners and the sizes of the proposals it sent (mntr, stat).
        leader = next(m for m in ens.members.values() if modes[m.sid] == "leader")
        mntr = dict(line.split("\t", 1) for line in
                    four_letter(leader.host, "mntr").splitlines() if "\t" in line)
        assert mntr["zk_synced_followers"] == "2" and mntr["zk_learners"] == "2", mntr
        assert int(mntr["zk_last_proposal_size"]) > 0, mntr
        assert 0 < int(mntr["zk_min_proposal_size"]) <= int(mntr["zk_max_proposal_size"]), mntr
        assert "Proposal sizes last/min/max: " in four_letter(leader.host, "stat")

        # A data watch set through each member fires when any member writes.
        fired = [threading.Event() for _ in clients]
        for c, ev in zip(clients, fired, strict=True):
            c.get("/app/from0", watch=lambda e, ev=ev: ev.set())
        clients[2].set("/app/from0", b"changed")
        for ev in fired:
            assert ev.wait(10), "watch did not fire on every member"

        # Ephemerals: gone everywhere on close, and on expiry (client stops pinging).
        owner = _client(ens.members[2].address)
        owner.create("/app/eph-close", ephemeral=True)
        owner.stop()
        owner.close()
        for c in clients:
            wait_for(lambda c=c: c.sync("/app") is not None and c.exists("/app/eph-close") is None,
                     10, "ephemeral removed after close")
        raw_expiry(ens.members[3].host, clients)
    finally:
        for c in clients:
            c.stop()
            c.close()


def raw_expiry(host: str, clients: list[KazooClient]) -> None:
    """A session opened on a follower with a raw socket that then stays silent expires on the
    leader (timeout 2 s), and its ephemeral disappears from every member."""
    s = socket.create_connection((host, 2181), timeout=5)
    try:
        req = struct.pack(">iqiqi", 0, 0, 2000, 0, 16) + b"\0" * 16
        s.sendall(struct.pack(">i", len(req)) + req)
        head = s.recv(4)
        (n,) = struct.unpack(">i", head)
        body = b""
        while len(body) < n:
            body += s.recv(n - len(body))
        (sid,) = struct.unpack_from(">q", body, 8)
        assert sid != 0
        # create /app/eph-expire (opcode 1), ephemeral flag 1, open ACL
        path = b"/app/eph-expire"
        acl = struct.pack(">i", 1) + struct.pack(">i", 31) + struct.pack(">i", 5) + b"world" \
            + struct.pack(">i", 6) + b"anyone"
        rec = struct.pack(">ii", 1, 1) + struct.pack(">i", len(path)) + path \
            + struct.pack(">i", 0) + acl + struct.pack(">i", 1)
        s.sendall(struct.pack(">i", len(rec)) + rec)
        head = s.recv(4)
        (n,) = struct.unpack(">i", head)
        got = b""
        while len(got) < n:
            got += s.recv(n - len(got))
        assert struct.unpack_from(">iqi", got, 0)[2] == 0, "ephemeral create failed"
        for c in clients:
            c.sync("/app")
            assert c.exists("/app/eph-expire") is not None
        # Stay silent: no pings. The leader expires the session within ~timeout + a tick.
        for c in clients:
            wait_for(lambda c=c: c.sync("/app") is not None and c.exists("/app/eph-expire") is None,
                     15, "ephemeral removed after expiry")
    finally:
        s.close()


def test_java_client_kafka_flows_over_a_three_server_connect_string(make_ensemble) -> None:  # type: ignore[no-untyped-def]
    from tests.reference.test_java_client import KAFKA_STEPS, RUN_CP, compiled_classes
    from tests.servers import java_available

    if not java_available():
        pytest.skip("Debian's Java ZooKeeper client is not installed")
    ens: Ensemble = make_ensemble(["127.0.0.144", "127.0.0.145", "127.0.0.146"])
    ens.start()
    classes = compiled_classes()
    proc = subprocess.run(
        ["java", "-cp", f"{RUN_CP}:{classes}", "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
         "KafkaFlows", ens.connect_string], capture_output=True, text=True, timeout=180)
    report = f"stdout:\n{proc.stdout}\nstderr (tail):\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, report
    ok_steps = [m.group(1) for m in re.finditer(r"^STEP (\S+) OK", proc.stdout, re.M)]
    assert ok_steps == KAFKA_STEPS, report
