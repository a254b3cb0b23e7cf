"""zoo.cfg TLS keys are read as Java's QuorumPeerConfig/X509Util read them, and kazoo's harness
config (secureClientPort, Netty factory, SASL provider, localSessions*) is accepted; the DN pyzk
gives an x509 id is rendered as X500Principal.getName() does. No server needed."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyzk.config import ConfigError, build_config
from pyzk.server.auth import java_dn
from pyzk.server.tls import openssl_cipher, store_type
from pyzk.tree.acl import sasl_is_valid, x509_is_valid

BASE = {"tickTime": "2000", "dataDir": "data", "clientPort": "2181"}


def cfg(tmp_path: Path, **extra: str) -> object:
    return build_config({**BASE, **extra}, workdir=tmp_path)


def test_kazoo_harness_config_is_accepted(tmp_path: Path) -> None:
    c = build_config({
        **BASE, "secureClientPort": "2281", "maxClientCnxns": "0", "admin.serverPort": "8081",
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
        "ssl.keyStore.location": "keystore.jks", "ssl.keyStore.password": "apassword",
        "ssl.trustStore.location": "truststore.jks", "ssl.trustStore.password": "apassword",
        "4lw.commands.whitelist": "*", "reconfigEnabled": "true",
        "localSessionsEnabled": "true", "localSessionsUpgradingEnabled": "true",
    }, workdir=tmp_path)
    assert c.secure_client_port == 2281
    assert c.tls is not None and c.tls.key_store == tmp_path / "keystore.jks"
    assert c.tls.enabled_protocols == ("TLSv1.2",) and c.tls.client_auth == "need"
    assert any("serverCnxnFactory" in w for w in c.warnings)
    assert any("localSessionsEnabled" in w for w in c.warnings)


@pytest.mark.parametrize("extra, message", [
    ({"secureClientPortAddress": "127.0.0.1"},
     "secureClientPortAddress is set but secureClientPort is not set"),
    ({"secureClientPort": "2281"}, "ssl.keyStore.location is not"),
    ({"secureClientPort": "2281", "ssl.keyStore.location": "k.jks", "ssl.clientAuth": "maybe"},
     "must be need, want or none"),
    ({"ssl.keyStore.type": "BCFKS"}, "must be JKS, PKCS12 or PEM"),
    ({"ssl.enabledProtocols": "TLSv1.2,SSLv3"}, "unknown TLS protocol(s) SSLv3"),
    ({"ssl.crl": "true"}, "is not supported by pyzk"),
])
def test_bad_tls_settings_are_refused(tmp_path: Path, extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cfg(tmp_path, **extra)


def test_secure_port_alone_is_enough(tmp_path: Path) -> None:
    c = build_config({"tickTime": "2000", "dataDir": "d", "secureClientPort": "2281",
                      "ssl.keyStore.location": "k.p12", "ssl.enabledProtocols": "TLSv1.3",
                      "ssl.clientAuth": "WANT"}, workdir=tmp_path)
    assert c.client_port == 0 and c.tls is not None
    assert c.tls.client_auth == "want" and c.tls.enabled_protocols == ("TLSv1.3",)


def test_store_type_comes_from_the_extension_unless_declared() -> None:
    assert store_type(Path("a/keystore.jks"), "") == "JKS"
    assert store_type(Path("a/k.p12"), "") == "PKCS12"
    assert store_type(Path("a/k.pem"), "") == "PEM"
    assert store_type(Path("a/k.pfx"), "PKCS12") == "PKCS12"
    with pytest.raises(Exception, match="auto-detect"):
        store_type(Path("a/k.pfx"), "")


def test_java_cipher_suite_names_map_to_openssl() -> None:
    assert openssl_cipher("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == "ECDHE-RSA-AES128-GCM-SHA256"
    assert openssl_cipher("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384") == "ECDHE-ECDSA-AES256-SHA384"
    assert openssl_cipher("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA") == "ECDHE-RSA-AES128-SHA"
    assert openssl_cipher("TLS_RSA_WITH_AES_256_GCM_SHA384") == "AES256-GCM-SHA384"
    assert openssl_cipher("TLS_AES_128_GCM_SHA256") is None  # TLS 1.3: not selectable
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA384:AES256-GCM-SHA384")


def _cert_with(*attrs: tuple[x509.ObjectIdentifier, str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(o, v) for o, v in attrs])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


def test_subject_dn_is_rendered_as_x500_principal_get_name() -> None:
    der = _cert_with((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, "A+B; <C>"),
                     (NameOID.COMMON_NAME, " padded "), (NameOID.SERIAL_NUMBER, "42"))
    # Last RDN first; ,=+<>#;"\ escaped; edge spaces escaped; serialNumber has no RFC 2253
    # keyword, so it is its OID with the DER PrintableString in hex.
    assert java_dn(der) == "2.5.4.5=#13023432,CN=\\ padded\\ ,O=A\\+B\\; \\<C\\>,C=US"


@pytest.mark.parametrize("ident, ok", [
    ("CN=client", True), ("CN=client,O=Kazoo\\, Inc.,C=US", True), ("", True),
    ("cn = a ; o = b", True), ("1.2.840.113549.1.9.1=#160161", True),
    ("client", False), ("CN=a,,O=b", False),
])
def test_x509_acl_ids_must_parse_as_a_dn(ident: str, ok: bool) -> None:
    assert x509_is_valid(ident) is ok


def test_sasl_acl_ids_are_kerberos_names() -> None:
    assert sasl_is_valid("jaasuser") and sasl_is_valid("zk/host@REALM")
    assert not sasl_is_valid("a@b@c")


NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"


def test_client_port_unification_needs_the_netty_factory(tmp_path: Path) -> None:
    # NIOServerCnxnFactory (Java's default) never reads zookeeper.client.portUnification.
    c = cfg(tmp_path, **{"client.portUnification": "true"})
    assert not c.client_port_unification and c.tls is None  # type: ignore[attr-defined]
    assert any("client.portUnification is ignored" in w for w in c.warnings)  # type: ignore[attr-defined]
    c = cfg(tmp_path, **{"client.portUnification": "true", "serverCnxnFactory": NETTY,
                         "ssl.keyStore.location": "k.jks"})
    assert c.client_port_unification and c.tls.key_store == tmp_path / "k.jks"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="client.portUnification is set but ssl.keyStore"):
        cfg(tmp_path, **{"client.portUnification": "true", "serverCnxnFactory": NETTY})


def test_client_port_unification_from_jvm_flags(tmp_path: Path) -> None:
    from pyzk.config import load_config

    (tmp_path / "zoo.cfg").write_text("tickTime=2000\ndataDir=data\nclientPort=2181\n"
                                      "ssl.keyStore.location=k.jks\n")
    c = load_config(tmp_path / "zoo.cfg", env={"SERVER_JVMFLAGS": (
        f"-Dzookeeper.serverCnxnFactory={NETTY} -Dzookeeper.client.portUnification=true")})
    assert c.client_port_unification


def test_admin_https_reads_the_quorum_stores(tmp_path: Path) -> None:
    c = cfg(tmp_path, **{"admin.forceHttps": "true", "ssl.quorum.keyStore.location": "q.jks",
                         "ssl.keyStore.location": "client.jks"})
    assert c.admin_force_https and c.admin_tls.key_store == tmp_path / "q.jks"  # type: ignore[attr-defined]
    # Without the stores Java's JettyAdminServer fails to construct and the server runs on.
    c = cfg(tmp_path, **{"admin.portUnification": "true"})
    assert c.admin_port_unification and c.admin_tls is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("key, why", [
    ("ssl.crl", "CRL distribution points"), ("ssl.quorum.crl", "CRL distribution points"),
    ("ssl.ocsp", "no OCSP client"), ("ssl.quorum.ocsp", "no OCSP client")])
def test_revocation_checks_are_refused_naming_why(tmp_path: Path, key: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        cfg(tmp_path, **{key: "true"})
    cfg(tmp_path, **{key: "false"})  # the default is accepted
