"""A throw-away certificate authority for TLS tests: EC keys, a CA, certificates with the
subject alternative names asked for, and the JKS stores both Java and pyzk read."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import jks
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class Stores:
    keystore: Path
    truststore: Path
    password: str


class TestCa:
    """One CA; `issue` writes a JKS keystore (key + chain) and the CA's JKS truststore."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, name: str = "pyzk test CA") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = self._sign(self.name, self.key.public_key(), ca=True, sans=[])

    def _sign(self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey, ca: bool,
              sans: list[x509.GeneralName]) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.name)
             .public_key(public_key).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(self.key, hashes.SHA256())

    def issue(self, label: str, common_name: str, ips: tuple[str, ...] = (),
              dns: tuple[str, ...] = (), password: str = "s3cret") -> Stores:
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = self._sign(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
                          key.public_key(), ca=False, sans=sans)
        pkcs8 = key.private_bytes(_DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        entry = jks.PrivateKeyEntry.new(label, [cert.public_bytes(_DER),
                                                self.cert.public_bytes(_DER)], pkcs8, "pkcs8")
        keystore = self.dir / f"{label}.keystore.jks"
        jks.KeyStore.new("jks", [entry]).save(str(keystore), password)
        truststore = self.dir / "truststore.jks"
        trusted = jks.TrustedCertEntry.new("ca", self.cert.public_bytes(_DER))
        jks.KeyStore.new("jks", [trusted]).save(str(truststore), password)
        (self.dir / "ca.pem").write_bytes(self.cert.public_bytes(_PEM))
        return Stores(keystore, truststore, password)

    def issue_pem(self, label: str, common_name: str) -> tuple[Path, Path]:
        """A client certificate and its unencrypted key as PEM files (what kazoo and Python's
        ssl module load); also writes ca.pem."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._sign(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
                          key.public_key(), ca=False, sans=[])
        cert_path, key_path = self.dir / f"{label}.cert.pem", self.dir / f"{label}.key.pem"
        cert_path.write_bytes(cert.public_bytes(_PEM))
        key_path.write_bytes(key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        (self.dir / "ca.pem").write_bytes(self.cert.public_bytes(_PEM))
        return cert_path, key_path
