"""pyzk.server.quorum_net's pure parts: TLS detection on a unified port, Java's host name
rules for member certificates, and the configuration that turns quorum TLS on."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from pyzk.config.load import ConfigError, build_config
from pyzk.server.quorum_net import PLAIN, certificate_matches, looks_like_tls, quorum_net
from pyzk.testing.pki import TestCa


def test_tls_record_headers_are_told_from_quorum_protocol_bytes() -> None:
    assert looks_like_tls(bytes([22, 3, 1, 0, 200]))      # ClientHello record
    assert looks_like_tls(bytes([22, 3, 3, 1, 0]))
    assert not looks_like_tls(b"\xff\xff\xff\xff\xff")    # election protocol version -65536
    assert not looks_like_tls(b"\x00\x00\x00\x00\x00")    # a pre-3.5 bare sid / QuorumPacket
    assert not looks_like_tls(bytes([22, 3, 1]))           # fewer than 5 bytes: plaintext
    assert not looks_like_tls(bytes([22, 2, 0, 0, 10]))    # SSLv2-style version
    assert not looks_like_tls(bytes([22, 3, 1, 0x48, 1]))  # longer than one TLS record


def _der(ca: TestCa, label: str, **kw: tuple[str, ...]) -> bytes:
    stores = ca.issue(label, "cn.example", **kw)
    import jks

    ks = jks.KeyStore.load(str(stores.keystore), stores.password)
    return bytes(ks.private_keys[label].cert_chain[0][1])


def test_host_names_follow_zk_hostname_verifier(tmp_path: Path) -> None:
    ca = TestCa(tmp_path)
    der = _der(ca, "a", ips=("127.0.5.1",), dns=("zk1.example", "*.zk.example"))
    assert certificate_matches(der, "127.0.5.1")
    assert not certificate_matches(der, "127.0.5.2")
    assert certificate_matches(der, "ZK1.example")
    assert certificate_matches(der, "node.zk.example")
    assert not certificate_matches(der, "a.node.zk.example")  # '*' is one label
    assert not certificate_matches(der, "cn.example")          # DNS SANs win over the CN
    only_cn = _der(ca, "b", ips=("127.0.0.1",))
    assert certificate_matches(only_cn, "cn.example")          # no DNS SAN: the CN counts
    assert not certificate_matches(only_cn, "127.0.5.1")
    assert isinstance(x509.load_der_x509_certificate(der), x509.Certificate)


def _cfg(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"dataDir": str(tmp_path / "d"), "clientPort": "2181", "tickTime": "200",
            "initLimit": "5", "syncLimit": "2", "server.1": "127.0.0.1:2888:3888",
            "server.2": "127.0.0.2:2888:3888", **extra}


def test_ssl_quorum_needs_a_keystore_and_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sslQuorum is set but ssl.quorum.keyStore.location"):
        build_config(_cfg(tmp_path, sslQuorum="true"))
    with pytest.raises(ConfigError, match="portUnification is set but ssl.quorum.keyStore"):
        build_config(_cfg(tmp_path, portUnification="true"))


def test_quorum_net_from_config(tmp_path: Path) -> None:
    stores = TestCa(tmp_path / "pki").issue("m", "localhost", ips=("127.0.0.1",))
    keys = {"ssl.quorum.keyStore.location": str(stores.keystore),
            "ssl.quorum.keyStore.password": stores.password,
            "ssl.quorum.trustStore.location": str(stores.truststore),
            "ssl.quorum.trustStore.password": stores.password}
    assert quorum_net(build_config(_cfg(tmp_path, **keys), myid=1)) is PLAIN  # stores alone: plaintext
    unified = quorum_net(build_config(_cfg(tmp_path, portUnification="true", **keys), myid=1))
    assert unified.listens_tls and not unified.ssl_quorum and unified.verify_hostnames
    tls = quorum_net(build_config(_cfg(
        tmp_path, sslQuorum="true", **{"ssl.quorum.hostnameVerification": "false",
                                       "ssl.quorum.handshakeDetectionTimeoutMillis": "250"},
        **keys), myid=1))
    assert tls.ssl_quorum and not tls.port_unification and not tls.verify_hostnames
    assert tls.detect_timeout_s == 0.25
