"""Quorum SASL with Kerberos (GSSAPI) in mixed ensembles of pyzk and Java ZooKeeper 3.8.0,
against a real MIT KDC on loopback: every member logs in from its keytab as zkquorum/<its
address>@EXAMPLE.COM (JAAS QuorumServer and QuorumLearner sections with Krb5LoginModule) and
asks for quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST, the dialled member's address in
place of _HOST. Either kind leads; a member logging in as a principal whose host is not one of
the members' is kept out by both kinds (SaslQuorumServerCallbackHandler's authorized hosts).

Sources read: SaslQuorumAuthLearner, SaslQuorumAuthServer, SaslQuorumServerCallbackHandler,
SecurityUtils (release-3.8.0); RFC 4752.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyzk.sasl import gss
from tests.ensemble.launcher import Ensemble, wait_for
from tests.kdc import Kdc, missing_tools
from tests.mixed.mixhelp import start_led_by, write_then_read_everywhere
from tests.mixed.test_quorum_sasl import REQUIRED

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SUBNET = "127.0.12"  # apart from the other mixed tests
KDC_HOST = f"{SUBNET}.46"  # apart from tests/integration's KDC on 127.0.0.46
KERBEROS = REQUIRED | {"quorum.auth.kerberos.servicePrincipal": "zkquorum/_HOST"}
STRANGER = f"{SUBNET}.9"  # a host with a key in the realm that is no member

JAAS = """QuorumServer {{
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true keyTab="{keytab}" storeKey=true useTicketCache=false
  principal="{principal}";
}};
QuorumLearner {{
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true keyTab="{keytab}" storeKey=true useTicketCache=false
  principal="{learner}";
}};
"""


@pytest.fixture(scope="module")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kdc]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"no MIT KDC here (missing {', '.join(missing)}): scripts/test.sh installs "
                    "krb5-kdc krb5-admin-server krb5-user")
    try:
        gss.library()
    except gss.GssUnavailable as e:
        pytest.skip(str(e))
    k = Kdc(tmp_path_factory.mktemp("kdc"), host=KDC_HOST)
    k.setup()
    k.start()
    try:
        for host in (*(f"{SUBNET}.{i}" for i in (1, 2, 3)), STRANGER):
            k.add_principal(f"zkquorum/{host}")
        yield k
    finally:
        k.stop()


def use_kerberos(ens: Ensemble, sid: int, kdc: Kdc, tmp_path: Path,
                 learner_host: str | None = None) -> None:
    """Member sid's JAAS file: it accepts as zkquorum/<its host>, and dials as
    zkquorum/<learner_host> (its own host unless given), each key in one keytab."""
    host = ens.members[sid].host
    keytab = tmp_path / f"member{sid}.keytab"
    keytab.write_bytes(kdc.keytabs[f"zkquorum/{host}"].read_bytes())
    learner = learner_host or host
    if learner != host:
        keytab.write_bytes(keytab.read_bytes() +
                           kdc.keytabs[f"zkquorum/{learner}"].read_bytes()[2:])
    jaas = tmp_path / f"member{sid}.jaas.conf"
    jaas.write_text(JAAS.format(keytab=keytab, principal=f"zkquorum/{host}@{kdc.realm}",
                                learner=f"zkquorum/{learner}@{kdc.realm}"))
    ens.members[sid].env["SERVER_JVMFLAGS"] = (f"-Djava.security.auth.login.config={jaas} "
                                               f"-Djava.security.krb5.conf={kdc.krb5_conf}")


def test_kerberos_quorum_mixed_ensemble_with_either_kind_leading(
        mixed, kdc: Kdc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=SUBNET, extra=KERBEROS)
    for sid in ens.members:
        use_kerberos(ens, sid, kdc, tmp_path)
    start_led_by(ens, leader=3, second=2)  # pyzk leads a Java follower
    write_then_read_everywhere(ens, "/sasl/pyzk-leads", (1, 2, 3))
    # Each kind authorized the other's Kerberos login (SaslQuorumServerCallbackHandler's line).
    for sid, peer in ((2, 3), (3, 2), (1, 3)):
        assert (f"Successfully authenticated learner: authenticationID=zkquorum/{SUBNET}.{peer}"
                f"@{kdc.realm};  authorizationID=zkquorum/{SUBNET}.{peer}@{kdc.realm}."
                in ens.members[sid].log_text()), (sid, peer)
    ens.members[3].stop()
    assert ens.wait_serving(40) == {1: "follower", 2: "leader"}  # Java leads a pyzk follower
    write_then_read_everywhere(ens, "/sasl/java-leads", (1, 2))


@pytest.mark.parametrize("joiner", ["pyzk", "java"])
def test_member_logging_in_from_a_foreign_host_is_kept_out(mixed, kdc: Kdc, tmp_path: Path,
                                                           joiner: str) -> None:  # type: ignore[no-untyped-def]
    """Member 3 has a valid key, but for zkquorum/<a host that is no member>: the others
    authenticate it and then refuse to authorize it, and the ensemble goes on without it."""
    ens = mixed({1: "pyzk", 2: "java", 3: joiner}, subnet=SUBNET, extra=KERBEROS)
    for sid in (1, 2):
        use_kerberos(ens, sid, kdc, tmp_path)
    use_kerberos(ens, 3, kdc, tmp_path, learner_host=STRANGER)
    ens.members[1].start()
    ens.members[2].start()
    ens.wait_serving(40, members=[1, 2])
    ens.members[3].start()
    refused = (f"SASL authorization completed, zkquorum/{STRANGER}@{kdc.realm} is not "
               "authorized to connect")
    wait_for(lambda: all(refused in ens.members[s].log_text() for s in (1, 2)), 30,
             "both kinds refusing the stranger's login")
    for i in range(2):
        assert ens.members[3].running and ens.members[3].mode() not in ("follower", "leader")
        write_then_read_everywhere(ens, f"/sasl/without-3-{i}", (1, 2))


@pytest.mark.parametrize("fault", ["missing keytab", "principal not in keytab"])
def test_member_whose_keytab_cannot_log_in_does_not_start(mixed, kdc: Kdc, tmp_path: Path,
                                                          fault: str) -> None:  # type: ignore[no-untyped-def]
    """Java's Login runs at start: a keytab that is not there, or one without the section's
    principal, stops the member: a pyzk and a Java member with the same fault both refuse,
    with the same message."""
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=SUBNET, extra=KERBEROS)
    for sid in (1, 2):
        use_kerberos(ens, sid, kdc, tmp_path)
        keytab = tmp_path / f"member{sid}.keytab"
        if fault == "missing keytab":
            keytab.unlink()
        else:  # a keytab with another member's key only
            keytab.write_bytes(kdc.keytabs[f"zkquorum/{SUBNET}.3"].read_bytes())
        ens.members[sid].start()
    wait_for(lambda: not any(ens.members[s].running for s in (1, 2)), 60,
             "both kinds refusing to start")
    refusal = ("Failed to initialize authentication mechanism using SASL [Caused by "
               "javax.security.auth.login.LoginException: No password provided")
    for sid in (1, 2):
        assert refusal in ens.members[sid].log_text(), sid


def _probe(host: str, token: bytes) -> list[object]:
    """Dial a member's election port as sid 9 and send one quorum auth packet with `token`
    as the learner's first GSSAPI token: the statuses it answers, then 'closed' when it hangs
    up ('open' when it neither answers nor hangs up within 10 s)."""
    import socket
    import struct

    from pyzk.sasl.quorum import IN_PROGRESS, encode_packet
    from pyzk.zab.packets_election import InitialMessage

    out: list[object] = []
    with socket.create_connection((host, 3888), timeout=10) as s:
        s.sendall(InitialMessage(9, f"{STRANGER}:3888").encode() +
                  encode_packet(IN_PROGRESS, token))
        buf = b""
        for _ in range(64):  # bounded: a few packets at most, then the close
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                chunk = b""
            except TimeoutError:
                out.append("open")
                break
            if not chunk:
                out.append("closed")
                break
            buf += chunk
            while len(buf) >= 16:
                _, status, n = struct.unpack(">qii", buf[:16])
                if len(buf) < 16 + max(n, 0):
                    break
                out.append(status)
                buf = buf[16 + max(n, 0):]
    return out


def test_bad_gssapi_tokens_get_what_java_gives(mixed, kdc: Kdc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Garbage and an empty first token to a Kerberos quorum server: the Java member and the
    pyzk member both answer ERROR and hang up, and the ensemble keeps serving."""
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=SUBNET, extra=KERBEROS)
    for sid in ens.members:
        use_kerberos(ens, sid, kdc, tmp_path)
    start_led_by(ens, leader=3, second=2)
    tokens = {"garbage": b"\x60\x82\x01\x00garbage" * 4, "empty": b""}
    got = {kind: {name: _probe(ens.members[sid].host, t) for name, t in tokens.items()}
           for sid, kind in ((2, "java"), (1, "pyzk"))}
    assert got["pyzk"] == got["java"], got
    assert got["java"]["garbage"] == [-1, "closed"], got
    write_then_read_everywhere(ens, "/sasl/still-serving", (1, 2, 3))


@pytest.mark.parametrize("joiner", ["pyzk", "java"])
def test_learner_asking_for_a_service_without_a_key_is_kept_out(mixed, kdc: Kdc, tmp_path: Path,
                                                                joiner: str) -> None:  # type: ignore[no-untyped-def]
    """Member 3 keeps the default quorum.auth.kerberos.servicePrincipal, zkquorum/localhost,
    which the realm does not know: the KDC gives it no ticket, so it cannot log in anywhere
    and the others go on without it."""
    ens = mixed({1: "pyzk", 2: "java", 3: joiner}, subnet=SUBNET, extra=KERBEROS)
    for sid in ens.members:
        use_kerberos(ens, sid, kdc, tmp_path)
    del ens.members[3].cfg["quorum.auth.kerberos.servicePrincipal"]
    ens.members[1].start()
    ens.members[2].start()
    ens.wait_serving(40, members=[1, 2])
    ens.members[3].start()
    wait_for(lambda: "not found in Kerberos database" in ens.members[3].log_text(), 30,
             "member 3 refused a ticket for zkquorum/localhost")
    for i in range(2):
        assert ens.members[3].running and ens.members[3].mode() not in ("follower", "leader")
        write_then_read_everywhere(ens, f"/sasl/no-ticket-{i}", (1, 2))
