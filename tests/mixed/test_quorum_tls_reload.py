"""sslQuorumReloadCertFiles (X509Util.enableCertFileReloading) in a mixed ensemble: the ssl.quorum
key and trust store files of running members are replaced by ones from another CA; without a
restart, a peer that trusts (and holds a certificate of) only the new CA can now join, and the
reloaded pyzk member forms a quorum with it alone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pyzk.testing.pki import Stores, TestCa
from tests.ensemble.launcher import wait_for
from tests.mixed.mixhelp import clients, close_all

SUBNET = "127.0.9"  # apart from the other mixed tests
HOSTS = [f"{SUBNET}.{i}" for i in (1, 2, 3)]


def issue(ca: TestCa) -> Stores:
    # Outgoing quorum sockets come from 127.0.0.1 (see test_quorum_tls.member_stores).
    return ca.issue("member", "localhost", ips=("127.0.0.1", *HOSTS), dns=("localhost",))


def stores_keys(keystore: Path, truststore: Path, password: str) -> dict[str, str]:
    return {"sslQuorum": "true", "sslQuorumReloadCertFiles": "true",
            "ssl.quorum.keyStore.location": str(keystore),
            "ssl.quorum.keyStore.password": password,
            "ssl.quorum.trustStore.location": str(truststore),
            "ssl.quorum.trustStore.password": password}


def swap_in(src: Path, dest: Path) -> None:
    """Replace dest in one step (a rename, as a deployment tool would)."""
    tmp = dest.with_suffix(".new")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


@pytest.mark.slow
def test_replaced_quorum_stores_are_used_without_restart(mixed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old, new = issue(TestCa(tmp_path / "old-ca")), issue(TestCa(tmp_path / "new-ca", "new CA"))
    live: dict[int, tuple[Path, Path]] = {}
    for sid in (1, 2):  # each running member has its own store files
        d = tmp_path / f"live{sid}"
        d.mkdir()
        live[sid] = (d / "keystore.jks", d / "truststore.jks")
        shutil.copyfile(old.keystore, live[sid][0])
        shutil.copyfile(old.truststore, live[sid][1])
    ens = mixed({1: "pyzk", 2: "java", 3: "java"}, subnet=SUBNET)
    for sid in (1, 2):
        ens.members[sid].cfg |= stores_keys(*live[sid], old.password)
    ens.members[3].cfg |= stores_keys(new.keystore, new.truststore, new.password)
    ens.members[1].start()
    ens.members[2].start()
    ens.wait_serving(40, members=[1, 2])
    ens.members[3].start()
    wait_for(lambda: "handshake" in ens.members[1].log_text() + ens.members[2].log_text(),
             30, "member 3 refused")
    assert ens.members[3].mode() not in ("follower", "leader")
    assert "enabling cert file reloading" in ens.members[1].log_text()
    assert "enabling cert file reloading" in ens.members[2].log_text()

    for sid in (1, 2):
        swap_in(new.keystore, live[sid][0])
        swap_in(new.truststore, live[sid][1])
    modes = ens.wait_serving(60)
    assert sorted(modes.values()).count("follower") == 2, modes
    # Member 1 (pyzk, never restarted) and the new-CA-only Java member form a quorum alone:
    # every connection between them is made with the reloaded material.
    ens.members[2].stop()
    modes = ens.wait_serving(60, members=[1, 3])
    assert set(modes.values()) == {"leader", "follower"}, modes
    assert "Reloaded the quorum TLS key and trust stores" in ens.members[1].log_text()
    cs = clients(ens, [1, 3])
    try:
        cs[1].create("/reloaded", b"v")
        cs[3].sync("/reloaded")
        assert cs[3].exists("/reloaded") is not None
    finally:
        close_all(cs.values())
