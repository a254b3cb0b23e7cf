"""pyzk.sasl.quorum's Kerberos naming and authorization, the parts that need no KDC:
SecurityUtils.getServerPrincipal's _HOST rule, the host-based name GssKrb5Client asks for, and
SaslQuorumServerCallbackHandler's check as Debian's Java 3.8.0 has it (ZOOKEEPER-4753)."""

from __future__ import annotations

import pytest

from pyzk.sasl.digest_md5 import SaslError
from pyzk.sasl.quorum import _authorizer, server_principal, target_service


@pytest.mark.parametrize(("config", "host", "want"), [
    ("zkquorum/_HOST", "ZK1.Example.com", "zkquorum/zk1.example.com"),
    ("zkquorum/_HOST", "127.0.12.1", "zkquorum/127.0.12.1"),
    # Only a second component that is exactly _HOST is replaced: Java splits on '/' alone.
    ("zkquorum/_HOST@EXAMPLE.COM", "zk1", "zkquorum/_HOST@EXAMPLE.COM"),
    ("zkquorum/localhost", "zk1", "zkquorum/localhost"),
    ("a/_HOST/b", "zk1", "a/_HOST/b"),
    ("zkquorum", "zk1", "zkquorum"),
])
def test_server_principal_replaces_host_as_java(config: str, host: str, want: str) -> None:
    assert server_principal(config, host) == want


def test_target_is_the_host_based_service_name() -> None:
    assert target_service("zkquorum/zk1.example.com") == "zkquorum@zk1.example.com"
    assert target_service("zkquorum/zk1@EXAMPLE.COM") == "zkquorum@zk1"
    assert target_service("zkquorum@EXAMPLE.COM") == "zkquorum@null"


def test_kerberos_learners_must_name_a_member_host() -> None:
    authorize = _authorizer(frozenset({"zk1", "zk2"}), digest=False)
    assert authorize("zkquorum/zk2@EX.COM", "zkquorum/zk2@EX.COM") == "zkquorum/zk2@EX.COM"
    for authn, authz in (("zkquorum/zk9@EX.COM", "zkquorum/zk9@EX.COM"),  # not a member
                         ("zkquorum/zk1@EX.COM", "zkquorum/zk2@EX.COM"),  # acting as another
                         ("alice@EX.COM", "alice@EX.COM")):  # no host part
        with pytest.raises(SaslError):
            authorize(authn, authz)


def test_digest_learners_are_not_checked_for_a_host() -> None:
    authorize = _authorizer(frozenset({"zk1"}), digest=True)
    assert authorize("svc/elsewhere@X", "svc/elsewhere@X") == "svc/elsewhere@X"
    with pytest.raises(SaslError):
        authorize("a", "b")
