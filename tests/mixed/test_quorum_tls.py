"""Quorum TLS in mixed ensembles of pyzk and Java ZooKeeper 3.8.0: sslQuorum with either kind
leading, the rolling switch from a plaintext quorum to a TLS one that Java documents
(portUnification, then sslQuorum, then portUnification off) without losing a write, and
members that cannot prove who they are (another CA, a certificate for another address) kept
out while hostname verification is on."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pyzk.testing.pki import Stores, TestCa
from tests.ensemble.launcher import wait_for
from tests.mixed.mixhelp import clients, close_all, start_led_by, write_then_read_everywhere

SUBNET = "127.0.7"  # apart from the other mixed tests
HOSTS = [f"{SUBNET}.{i}" for i in (1, 2, 3)]


def tls_keys(stores: Stores, **extra: str) -> dict[str, str]:
    return {"ssl.quorum.keyStore.location": str(stores.keystore),
            "ssl.quorum.keyStore.password": stores.password,
            "ssl.quorum.trustStore.location": str(stores.truststore),
            "ssl.quorum.trustStore.password": stores.password, **extra}


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


def member_stores(ca: TestCa) -> Stores:
    # Outgoing quorum sockets are not bound: peers see them from 127.0.0.1 (reverse name
    # localhost), so the certificate names that address too, as a per-host certificate would.
    return ca.issue("member", "localhost", ips=("127.0.0.1", *HOSTS), dns=("localhost",))


def refuses_plaintext(host: str, port: int) -> bool:
    """A plaintext peer's first bytes get the connection closed (a TLS-only listener)."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"\xff\xff\xff\xff\xff\xff\x00\x00" + b"\0" * 16)
        s.settimeout(10)
        try:
            return s.recv(1) == b""
        except ConnectionResetError:
            return True


@pytest.mark.slow
def test_ssl_quorum_mixed_ensemble_with_either_kind_leading(mixed, ca: TestCa) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=SUBNET,
                extra={"sslQuorum": "true", **tls_keys(member_stores(ca))})
    start_led_by(ens, leader=3, second=2)  # pyzk leads, a Java follower
    write_then_read_everywhere(ens, "/tls/pyzk-leads")
    for m in ens.members.values():
        assert refuses_plaintext(m.host, 3888), f"member {m.sid} ({ens.kind(m.sid)})"
    assert refuses_plaintext(HOSTS[2], 2888)  # pyzk's leader port
    assert "Creating TLS-only quorum server socket" in ens.members[2].log_text()
    for sid in (1, 3):
        assert "Refusing plaintext connection" in ens.members[sid].log_text(), sid
    ens.members[3].stop()
    modes = ens.wait_serving(40)
    assert modes == {1: "follower", 2: "leader"}, modes  # Java leads, a pyzk follower
    write_then_read_everywhere(ens, "/tls/java-leads")
    ens.members[3].start()
    ens.wait_serving(40)
    write_then_read_everywhere(ens, "/tls/all-back")


@pytest.mark.slow
def test_rolling_switch_from_plaintext_to_tls_quorum(mixed, ca: TestCa) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=SUBNET)
    start_led_by(ens, leader=3, second=2)
    write_then_read_everywhere(ens, "/tls/plain")
    keys = tls_keys(member_stores(ca))
    steps = [("unified", {"portUnification": "true", **keys}),
             ("tls", {"portUnification": "true", "sslQuorum": "true", **keys}),
             ("tls-only", {"sslQuorum": "true", **keys})]
    for name, settings in steps:
        for sid, m in ens.members.items():
            m.stop()
            m.cfg = {k: v for k, v in m.cfg.items()
                     if k not in ("portUnification", "sslQuorum")} | settings
            m.start()
            ens.wait_serving(60)
            write_then_read_everywhere(ens, f"/tls/{name}-{sid}")
    for m in ens.members.values():
        assert refuses_plaintext(m.host, 3888), f"member {m.sid} ({ens.kind(m.sid)})"
    cs = clients(ens)
    try:
        c = cs[1]
        c.sync("/tls")
        want = {"plain"} | {f"{n}-{s}" for n, _ in steps for s in ens.members}
        assert set(c.get_children("/tls")) == want
    finally:
        close_all(cs.values())


@pytest.mark.slow
@pytest.mark.parametrize("joiner", ["pyzk", "java"])
def test_member_without_a_valid_certificate_is_kept_out(mixed, ca: TestCa, tmp_path: Path,
                                                        joiner: str) -> None:
    """Member 3 presents a certificate from another CA (then one the right CA issued for
    another address): the two good members, one of each kind, form the quorum; 3 never
    follows. With ssl.quorum.hostnameVerification=false the wrong-address one is let in."""
    good = tls_keys(member_stores(ca), sslQuorum="true")
    other = TestCa(tmp_path / "other-ca").issue("member", "localhost",
                                                ips=("127.0.0.1", *HOSTS), dns=("localhost",))
    ens = mixed({1: "pyzk", 2: "java", 3: joiner}, subnet=SUBNET, extra=good)
    ens.members[3].cfg |= {"ssl.quorum.keyStore.location": str(other.keystore)}
    ens.members[1].start()
    ens.members[2].start()
    ens.wait_serving(40, members=[1, 2])
    ens.members[3].start()

    def outside() -> bool:
        return ens.members[3].mode() not in ("follower", "leader")
    # Member 3 keeps dialling and is refused (a handshake failure logged by a good member).
    wait_for(lambda: "handshake" in (ens.members[1].log_text() + ens.members[2].log_text()),
             30, "a refused handshake")
    for i in range(3):
        assert ens.members[3].running and outside(), ens.logs()
        write_then_read_everywhere(ens, f"/tls/without-3-{i}", (1, 2))
    ens.members[3].stop()
    # The right CA, but a certificate naming an address no member connects from.
    stranger = ca.issue("stranger", "stranger.example", ips=("127.0.9.9",), dns=("stranger.example",))
    ens.members[3].cfg |= {"ssl.quorum.keyStore.location": str(stranger.keystore)}
    ens.members[3].start()
    for i in range(3):
        assert ens.members[3].running and outside(), ens.logs()
        write_then_read_everywhere(ens, f"/tls/stranger-{i}", (1, 2))
    ens.members[3].stop()
    for m in ens.members.values():
        m.cfg |= {"ssl.quorum.hostnameVerification": "false"}
    for sid in (1, 2):  # the others must stop checking too: restart them one at a time
        ens.members[sid].stop()
        ens.members[sid].start()
        ens.wait_serving(60, members=[1, 2])
    ens.members[3].start()
    modes = ens.wait_serving(60)
    assert modes[3] == "follower", modes
