"""QuorumContexts (sslQuorumReloadCertFiles) without sockets: a changed store file rebuilds the
contexts, an unchanged one does not, an unreadable one keeps the old contexts. Handshakes run
over memory BIOs."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

from pyzk.config.model import TlsSettings
from pyzk.server.quorum_net import QuorumContexts
from pyzk.testing.pki import Stores, TestCa


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> bool:
    """True when a TLS handshake between the two contexts completes (in memory)."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_hostname=None)
    done = {"s": False, "c": False}
    for _ in range(20):  # a handshake takes a few round trips
        for name, end in (("c", cli), ("s", srv)):
            if done[name]:
                continue
            try:
                end.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                return False
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return True
    return False


def settings(keystore: Path, truststore: Path, password: str) -> TlsSettings:
    return TlsSettings(key_store=keystore, key_store_password=password, trust_store=truststore,
                       trust_store_password=password)


def copy_stores(src: Stores, keystore: Path, truststore: Path) -> None:
    for a, b in ((src.keystore, keystore), (src.truststore, truststore)):
        tmp = b.with_suffix(".new")
        shutil.copyfile(a, tmp)
        os.replace(tmp, b)


def test_changed_stores_are_used_by_new_handshakes(tmp_path: Path) -> None:
    old = TestCa(tmp_path / "old").issue("m", "localhost", ips=("127.0.0.1",))
    new_ca = TestCa(tmp_path / "new", "new CA")
    new = new_ca.issue("m", "localhost", ips=("127.0.0.1",))
    keystore, truststore = tmp_path / "keystore.jks", tmp_path / "truststore.jks"
    copy_stores(old, keystore, truststore)
    live = QuorumContexts(settings(keystore, truststore, old.password))
    peer_new = QuorumContexts(settings(new.keystore, new.truststore, new.password))
    assert not live.reload_if_changed()  # nothing changed
    assert not handshake(live.server, peer_new.client)

    copy_stores(new, keystore, truststore)
    assert live.reload_if_changed()
    assert handshake(live.server, peer_new.client)  # the new CA on both sides
    assert handshake(peer_new.server, live.client)
    assert not live.reload_if_changed()

    before = live.server
    keystore.write_bytes(b"not a keystore")
    assert not live.reload_if_changed()  # logged; the previous contexts stay
    assert live.server is before and handshake(live.server, peer_new.client)
