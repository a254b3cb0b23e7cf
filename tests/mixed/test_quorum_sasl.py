"""Quorum SASL (quorum.auth.*, DIGEST-MD5) in mixed ensembles of pyzk and Java ZooKeeper 3.8.0:
members log in to each other with the JAAS QuorumServer / QuorumLearner sections, with either
kind leading; a member with a wrong password is kept out where the others require SASL, and
let in where they only offer it; and over TLS too."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.testing.pki import TestCa
from tests.ensemble.launcher import Ensemble, wait_for
from tests.mixed.mixhelp import start_led_by, write_then_read_everywhere

SUBNET = "127.0.8"  # apart from the other mixed tests
REQUIRED = {"quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "true",
            "quorum.auth.serverRequireSasl": "true"}

JAAS = """QuorumServer {{
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_member="{server_password}";
}};
QuorumLearner {{
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="member"
       password="{password}";
}};
"""


def jaas_file(tmp_path: Path, name: str, password: str = "quorum-secret") -> Path:
    path = tmp_path / f"{name}.jaas.conf"
    path.write_text(JAAS.format(server_password="quorum-secret", password=password))
    return path


def use_jaas(ens: Ensemble, sid: int, path: Path) -> None:
    ens.members[sid].env["SERVER_JVMFLAGS"] = f"-Djava.security.auth.login.config={path}"


@pytest.mark.slow
def test_quorum_sasl_mixed_ensemble_with_either_kind_leading(mixed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=SUBNET, extra=REQUIRED)
    for sid in ens.members:
        use_jaas(ens, sid, jaas_file(tmp_path, "good"))
    start_led_by(ens, leader=3, second=2)  # pyzk leads a Java follower
    write_then_read_everywhere(ens, "/sasl/pyzk-leads", (1, 2, 3))
    # Java's QuorumCnxManager and LearnerHandler log each accepted login of a pyzk learner.
    java_log = ens.members[2].log_text()
    assert "Successfully completed the authentication using SASL" in java_log
    pyzk_log = ens.members[3].log_text()
    assert "Successfully completed the authentication using SASL" in pyzk_log
    ens.members[3].stop()
    assert ens.wait_serving(40) == {1: "follower", 2: "leader"}  # Java leads a pyzk follower
    write_then_read_everywhere(ens, "/sasl/java-leads", (1, 2))


@pytest.mark.slow
@pytest.mark.parametrize("joiner", ["pyzk", "java"])
def test_wrong_password_is_kept_out_only_where_sasl_is_required(mixed, tmp_path: Path,
                                                                joiner: str) -> None:
    ens = mixed({1: "pyzk", 2: "java", 3: joiner}, subnet=SUBNET, extra=REQUIRED)
    good, bad = jaas_file(tmp_path, "good"), jaas_file(tmp_path, "bad", password="wrong")
    for sid in (1, 2):
        use_jaas(ens, sid, good)
    use_jaas(ens, 3, bad)
    ens.members[1].start()
    ens.members[2].start()
    ens.wait_serving(40, members=[1, 2])
    ens.members[3].start()
    logs = ("Failed to authenticate using SASL", "Authentication failed")
    wait_for(lambda: any(t in ens.members[s].log_text() for s in (1, 2, 3) for t in logs), 30,
             "a refused quorum login")
    for i in range(2):
        assert ens.members[3].running and ens.members[3].mode() not in ("follower", "leader")
        write_then_read_everywhere(ens, f"/sasl/without-3-{i}", (1, 2))
    # Offering SASL without requiring it (learnerRequireSasl off on member 3, serverRequireSasl
    # off on the others): 3 does not log in at all and is let in.
    ens.members[3].stop()
    for sid, m in ens.members.items():
        m.cfg |= {"quorum.auth.serverRequireSasl": "false"}
        if sid == 3:
            m.cfg |= {"quorum.auth.learnerRequireSasl": "false"}
    for sid in (1, 2):
        ens.members[sid].stop()
        ens.members[sid].start()
        ens.wait_serving(60, members=[1, 2])
    ens.members[3].start()
    assert ens.wait_serving(60)[3] == "follower"
    write_then_read_everywhere(ens, "/sasl/with-3", (1, 2, 3))


@pytest.mark.slow
def test_quorum_sasl_over_tls(mixed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stores = TestCa(tmp_path / "pki").issue("m", "localhost", dns=("localhost",),
                                            ips=("127.0.0.1", *(f"{SUBNET}.{i}" for i in (1, 2, 3))))
    tls = {"sslQuorum": "true", "ssl.quorum.keyStore.location": str(stores.keystore),
           "ssl.quorum.keyStore.password": stores.password,
           "ssl.quorum.trustStore.location": str(stores.truststore),
           "ssl.quorum.trustStore.password": stores.password}
    ens = mixed({1: "java", 2: "pyzk", 3: "pyzk"}, subnet=SUBNET, extra=REQUIRED | tls)
    for sid in ens.members:
        use_jaas(ens, sid, jaas_file(tmp_path, "good"))
    start_led_by(ens, leader=3, second=1)
    write_then_read_everywhere(ens, "/sasl/over-tls", (1, 2, 3))


def _probe(host: str, steps: str) -> list[object]:
    """Dial a member's election port as sid 9 and play `steps` against its quorum SASL server:
    'h' hello (empty token, expecting the challenge), 'g' a garbage response, 'c' cut (send
    nothing more), 'n' no login at all (a vote-sized frame). What came back, in order: packet
    statuses, the challenge's realm, and 'closed' when the member hung up."""
    import socket
    import struct

    from pyzk.sasl.quorum import IN_PROGRESS, encode_packet
    from pyzk.zab.packets_election import InitialMessage

    out: list[object] = []
    with socket.create_connection((host, 3888), timeout=5) as s:
        s.sendall(InitialMessage(9, "127.0.8.9:3888").encode())

        def read_packet() -> tuple[int, bytes] | None:
            head = b""
            while len(head) < 16:
                chunk = s.recv(16 - len(head))
                if not chunk:
                    return None
                head += chunk
            _, status, n = struct.unpack(">qii", head)
            body = b""
            while len(body) < max(n, 0):
                chunk = s.recv(n - len(body))
                if not chunk:
                    return None
                body += chunk
            return status, body

        for step in steps:
            if step == "h":
                s.sendall(encode_packet(IN_PROGRESS, b""))
                got = read_packet()
                out += ["closed"] if got is None else \
                    [got[0], got[1].split(b",")[0].decode(errors="replace")]
            elif step == "g":
                s.sendall(encode_packet(IN_PROGRESS, b"username=\"x\",garbage,,=\"\x00"))
                got = read_packet()
                out += ["closed"] if got is None else [got[0]]
            elif step == "n":
                s.sendall(struct.pack(">i", 40) + b"\0" * 40)
        s.settimeout(10)
        for _ in range(3):  # then: what else it sends, and whether it hangs up (bounded)
            try:
                got = read_packet()
            except ConnectionResetError:
                got = None
            except TimeoutError:
                out.append("open")
                break
            if got is None:
                out.append("closed")
                break
            out.append(got[0])
    return out


@pytest.mark.slow
def test_bad_quorum_logins_get_what_java_gives(mixed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Garbage in the exchange, an exchange cut in the middle, and no login at all: the Java
    member and the pyzk members answer the same packets and hang up the same way."""
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=SUBNET, extra=REQUIRED)
    for sid in ens.members:
        use_jaas(ens, sid, jaas_file(tmp_path, "good"))
    start_led_by(ens, leader=3, second=2)
    got = {kind: {steps: _probe(ens.members[sid].host, steps) for steps in ("hg", "hc", "n")}
           for sid, kind in ((2, "java"), (1, "pyzk"))}
    assert got["pyzk"] == got["java"], got
    assert got["java"]["hg"] == [0, 'realm="zk-quorum-sasl-md5"', -1, "closed"], got
    write_then_read_everywhere(ens, "/sasl/still-serving", (1, 2, 3))
