"""Client SASL (DIGEST-MD5 through a JAAS Server section), SASL super users, the sasl ACL
scheme, enforce.auth / sessionRequireClientSASLAuth, and the digest provider's settings:
every scenario runs on pyzk and on Debian's Java ZooKeeper 3.8.0 in the same test, and the
outcomes are compared (and checked against the literal Java gave, so a pyzk-only run still
tests something).

Both servers get their settings as operators give Java's: -D options (Java on its command line,
as zkServer.sh passes $SERVER_JVMFLAGS; pyzk through the SERVER_JVMFLAGS / JVMFLAGS variables)
or zoo.cfg lines. Clients: the raw protocol (every bad token), the real Java client logging in
through JAAS (tests/java/SaslClient.java), and kazoo's sasl_options (pure-sasl).

Sources read: ZooKeeperServer.processSasl/processPacket, AuthenticationHelper,
ZooKeeperSaslServer, SaslServerCallbackHandler, SASLAuthenticationProvider, KerberosName,
DigestAuthenticationProvider, ProviderRegistry (release-3.8.0); the JDK's DIGEST-MD5 server.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.sasl.digest_md5 import client_response, parse_challenge, response_value
from tests.integration.rawclient import ConnectionClosed, RawClient
from tests.integration.test_tls import pki  # noqa: F401 - the TLS test's certificates, a module fixture
from tests.servers import JAVA_CLASSPATH, REPO, ServerProc, compile_java, java_available

pytestmark = [pytest.mark.java, pytest.mark.timeout(300)]

HOST = "127.0.0.44"
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
RUN_CP = JAVA_CLASSPATH + ":/usr/share/java/slf4j-api.jar"
SERVER_JAAS = """
/* the users a DIGEST-MD5 client may log in as */
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"
       user_bob="bobsecret"
       user_alice="alicesecret"
       "user_carol@EXAMPLE.COM"="carolsecret"
       "user_dave@"="davesecret"
       "user_x@y@z"="xsecret";   // KerberosName refuses this one
};
"""
NULL_TOKEN = b"\xff\xff\xff\xff"
CLOSED = "closed unanswered"


def kinds() -> list[str]:
    raw = os.environ.get("PYZK_TEST_SERVERS", "pyzk,java")
    out = [k.strip() for k in raw.split(",") if k.strip() in ("pyzk", "java")]
    if "java" in out and not java_available():
        out.remove("java")
    return out


class SaslServerProc(ServerProc):
    """A server given -D options as an operator gives them: on Java's command line, and to
    pyzk in the SERVER_JVMFLAGS environment variable (JVMFLAGS for `late` ones)."""

    def __init__(self, kind: str, workdir: Path, cfg: dict[str, str], flags: list[str],
                 late_flags: list[str] | None = None) -> None:
        super().__init__(kind, workdir, host=HOST, cfg=cfg)
        self.flags = flags
        self.late_flags = late_flags or []

    def command(self, cfg_path: Path) -> list[str]:
        cmd = super().command(cfg_path)
        if self.kind == "java":
            cmd[1:1] = [*self.flags, *self.late_flags]
        return cmd

    def spawn(self) -> None:
        cfg_path = self.write_cfg()
        env = {k: v for k, v in os.environ.items()
               if k not in ("SERVER_JVMFLAGS", "JVMFLAGS", "KAFKA_OPTS")}
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        if self.kind == "pyzk":
            env["SERVER_JVMFLAGS"] = "-Xmx512m " + " ".join(self.flags)
            env["JVMFLAGS"] = " ".join(self.late_flags)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(self.command(cfg_path), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, env=env, start_new_session=True)
        log.close()

    def start(self, timeout: float = 30.0) -> SaslServerProc:
        self.spawn()
        self.wait_ready(timeout)
        return self


Servers = dict[str, SaslServerProc]


@pytest.fixture(scope="module")
def jaas_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jaas") / "server_jaas.conf"
    path.write_text(SERVER_JAAS)
    return path


@pytest.fixture(scope="module")
def start_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Servers]]:
    """Start one server per kind with the same settings; all stopped at module end."""
    started: list[SaslServerProc] = []

    def make(cfg: dict[str, str] | None = None, flags: list[str] | None = None,
             late_flags: list[str] | None = None) -> Servers:
        base = tmp_path_factory.mktemp("sasl")
        out: Servers = {}
        for kind in kinds():
            srv = SaslServerProc(kind, base / kind, dict(cfg or {}), list(flags or []),
                                 late_flags)
            started.append(srv)
            out[kind] = srv.start()
        return out

    yield make
    for srv in started:
        srv.stop()


def compare(servers: Servers, scenario: Callable[[SaslServerProc], Any]) -> Any:
    """Run the scenario on each kind; the outcomes must be equal. Returns pyzk's."""
    results = {kind: scenario(srv) for kind, srv in servers.items()}
    if "java" in results and "pyzk" in results:
        assert results["pyzk"] == results["java"], results
    return results.get("pyzk", next(iter(results.values())))


# -- raw SASL exchanges --------------------------------------------------------------------

def sasl(c: RawClient, token: bytes | None) -> tuple[int, int, bytes]:
    """(err, zxid, raw body) of one SASL request."""
    xid = c.send_request(Op.SASL, r.GetSASLRequest(token))
    rep = c.read_reply(Op.SASL, xid)
    return rep.err, rep.zxid, rep.raw


def token_of(body: bytes) -> bytes:
    (n,) = struct.unpack_from(">i", body, 0)
    return body[4:4 + n] if n >= 0 else b""


def challenge(c: RawClient) -> bytes:
    err, zxid, body = sasl(c, b"")
    assert (err, zxid) == (0, 0)
    return token_of(body)


def open_client(srv: SaslServerProc) -> RawClient:
    c = RawClient(srv.host, srv.port)
    c.connect()
    return c


def outcome(c: RawClient, token: bytes) -> Any:
    """What one SASL token gets: (err, zxid, body, closed afterwards) or CLOSED."""
    try:
        err, zxid, body = sasl(c, token)
    except (ConnectionClosed, TimeoutError):
        return CLOSED
    return err, zxid, body if err else body[:4], c.is_closed_by_server(1.5)


def login(srv: SaslServerProc, user: str, password: str) -> RawClient:
    c = open_client(srv)
    err, _, body = sasl(c, client_response(challenge(c), user, password))
    assert err == 0, (user, err)
    assert token_of(body).startswith(b"rspauth=")
    return c


def whoami(c: RawClient) -> list[tuple[str, str]]:
    rep = c.call(Op.WHO_AM_I)
    assert rep.err == 0
    return sorted((ci.authScheme, ci.user) for ci in rep.body.clientInfo)


def mntr_value(srv: SaslServerProc, key: str) -> str:
    c = RawClient(srv.host, srv.port)
    c.send_raw(b"mntr")
    data = b""
    try:
        while chunk := c.sock.recv(65536):
            data += chunk
    except OSError:
        pass
    c.close()
    for line in data.decode().splitlines():
        if line.startswith(f"zk_{key}\t"):
            return line.split("\t", 1)[1]
    raise AssertionError(f"no {key} in mntr")


# -- the main configuration: JAAS Server section, sasl provider, a SASL super user ----------

@pytest.fixture(scope="module")
def sasl_servers(start_pair: Callable[..., Servers], jaas_file: Path) -> Servers:
    return start_pair(
        cfg={"authProvider.1": SASL_PROVIDER},
        flags=[f"-Djava.security.auth.login.config={jaas_file}"],
        late_flags=["-Dzookeeper.superUser=alice"])


def test_digest_md5_exchange_gives_the_sasl_identity(sasl_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        ch = challenge(c)
        shape = re.sub(rb'nonce="[A-Za-z0-9+/]{40}"', b'nonce="N"', ch)
        cnonce = b"OA6MHXh6VqTrRk"
        err, zxid, body = sasl(c, client_response(ch, "bob", "bobsecret", cnonce=cnonce))
        nonce = parse_challenge(ch)["nonce"]
        expected = b"rspauth=" + response_value("", "zookeeper/zk-sasl-md5", "auth", "bob",
                                                "zk-sasl-md5", "bobsecret", nonce, cnonce, 1,
                                                None)
        rspauth_ok = token_of(body) == expected
        who = whoami(c)
        after = outcome(c, b"")  # the exchange is over: "Server at illegal state"
        return shape, err, zxid, rspauth_ok, who, after

    got = compare(sasl_servers, scenario)
    assert got == (b'realm="zk-sasl-md5",nonce="N",charset=utf-8,algorithm=md5-sess', 0, 0,
                   True, [("ip", "127.0.0.1"), ("sasl", "bob")],
                   (-115, 0, NULL_TOKEN, True))


def _full(user: str = "bob", password: str = "bobsecret", **kw: Any) -> Callable[[bytes], bytes]:
    return lambda ch: client_response(ch, user, password, **kw)


def _edit(old: bytes, new: bytes, user: str = "bob", pw: str = "bobsecret") -> Callable[[bytes], bytes]:
    return lambda ch: client_response(ch, user, pw).replace(old, new)


AUTHFAILED_CLOSE = (-115, 0, NULL_TOKEN, True)
OK_RSPAUTH = (0, 0, b"\x00\x00\x00\x28", False)
BAD_TOKENS: list[tuple[str, Callable[[bytes], bytes], Any]] = [
    ("good", _full(), OK_RSPAUTH),
    ("wrong password", _full(password="nope"), AUTHFAILED_CLOSE),
    ("unknown user", _full(user="mallory", password="whatever"), AUTHFAILED_CLOSE),
    ("empty second token", lambda ch: b"", AUTHFAILED_CLOSE),
    ("garbage", lambda ch: b"\x00\xff garbage \x01", AUTHFAILED_CLOSE),
    ("4097 bytes", lambda ch: b"x" * 4097, AUTHFAILED_CLOSE),
    ("no realm", lambda ch: re.sub(rb'realm="[^"]*",', b"", _full()(ch)), AUTHFAILED_CLOSE),
    ("other realm", _edit(b'realm="zk-sasl-md5"', b'realm="other"'), AUTHFAILED_CLOSE),
    ("digest-uri upper case", lambda ch: client_response(
        ch, "bob", "bobsecret", digest_uri="ZOOKEEPER/ZK-SASL-MD5"), OK_RSPAUTH),
    ("other digest-uri", lambda ch: client_response(
        ch, "bob", "bobsecret", digest_uri="zookeeper/127.0.0.44"), AUTHFAILED_CLOSE),
    ("qop auth-int", _edit(b"qop=auth", b"qop=auth-int"), AUTHFAILED_CLOSE),
    ("qop bogus", _edit(b"qop=auth", b"qop=bogus"), AUTHFAILED_CLOSE),
    ("other nonce", lambda ch: _full()(ch.replace(b'nonce="', b'nonce="x')), AUTHFAILED_CLOSE),
    ("charset latin1", _edit(b"charset=utf-8", b"charset=iso-8859-1"), AUTHFAILED_CLOSE),
    ("maxbuf not a number", _edit(b"maxbuf=65536", b"maxbuf=lots"), CLOSED),
    ("nonce-count not hex", _edit(b"nc=00000001", b"nonce-count=zz"), CLOSED),
    ("nonce-count 2", _edit(b"nc=00000001", b"nonce-count=2"), AUTHFAILED_CLOSE),
    ("nonce-count +1", _edit(b"nc=00000001", b"nonce-count=+1"), OK_RSPAUTH),
    ("two usernames", _edit(b"qop=auth", b'qop=auth,USERNAME="bob"'), AUTHFAILED_CLOSE),
    ("unterminated quote", lambda ch: _full()(ch) + b',x="open', AUTHFAILED_CLOSE),
    ("missing response", lambda ch: re.sub(rb"response=[0-9a-f]+,", b"", _full()(ch)),
     AUTHFAILED_CLOSE),
    ("upper-case response", lambda ch: re.sub(rb"response=[0-9a-f]+", lambda m: m.group(0)
                                              .upper().replace(b"RESPONSE", b"response"),
                                              _full()(ch)), AUTHFAILED_CLOSE),
    ("authzid of someone else", _full(authzid="alice"), OK_RSPAUTH),
    ("Kerberos-malformed user", _full(user="x@y@z", password="xsecret"), CLOSED),
]


@pytest.mark.parametrize("name,make,expected", BAD_TOKENS, ids=[t[0] for t in BAD_TOKENS])
def test_each_sasl_token_gets_what_java_gives(sasl_servers: Servers, name: str,
                                              make: Callable[[bytes], bytes],
                                              expected: Any) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        try:
            got = outcome(c, make(challenge(c)))
            who = whoami(c) if got not in (CLOSED,) and not got[3] else None
            return got, who
        finally:
            c.close()

    got, who = compare(sasl_servers, scenario)
    assert got == expected
    if expected == OK_RSPAUTH:
        assert ("sasl", "bob") in who  # an authzid does not change the id: bob stays bob


def test_unknown_user_with_the_last_users_password(sasl_servers: Servers) -> None:
    """The one deliberate difference. Java's SaslServerCallbackHandler keeps the last known
    user name in a field every connection shares and does not reset it for an unknown name, so
    an unknown user who sends the password of whoever logged in last gets in under the unknown
    name. pyzk refuses unknown users (the issue: "nobody gets in")."""
    def scenario(srv: SaslServerProc) -> Any:
        login(srv, "bob", "bobsecret").close()
        c = open_client(srv)
        return outcome(c, client_response(challenge(c), "mallory", "bobsecret"))

    results = {kind: scenario(srv) for kind, srv in sasl_servers.items()}
    assert results.get("pyzk", AUTHFAILED_CLOSE) == AUTHFAILED_CLOSE
    assert results.get("java", OK_RSPAUTH) == OK_RSPAUTH


def test_first_token_not_empty_still_gets_the_challenge(sasl_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        err, zxid, body = sasl(c, b'username="bob"')
        return err, zxid, token_of(body).startswith(b'realm="zk-sasl-md5",nonce=')

    assert compare(sasl_servers, scenario) == (0, 0, True)


def test_cut_exchanges_leave_the_server_serving(sasl_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        challenge(c)
        c.close()  # gone after the challenge
        c = open_client(srv)
        frame = r.RequestHeader.to_bytes(r.RequestHeader(1, Op.SASL)) + b"\x00\x00\x01\x00abc"
        c.send_raw(struct.pack(">i", len(frame) + 253) + frame)  # frame cut short
        c.close()
        c = login(srv, "bob", "bobsecret")
        return whoami(c)

    assert ("sasl", "bob") in compare(sasl_servers, scenario)


def test_kerberos_style_names_as_java_maps_them(sasl_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        return (whoami(login(srv, "carol@EXAMPLE.COM", "carolsecret")),
                whoami(login(srv, "dave@", "davesecret")))

    carol, dave = compare(sasl_servers, scenario)
    assert ("sasl", "carol@EXAMPLE.COM") in carol
    assert ("sasl", "dave@") in dave


def test_sasl_super_user_and_sasl_acls(sasl_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        bob = login(srv, "bob", "bobsecret")
        alice = login(srv, "alice", "alicesecret")
        anon = open_client(srv)
        path = f"/sasl-acl-{time.monotonic_ns()}"
        acl = [r.ACL(31, r.Id("sasl", "bob"))]
        created = bob.create(path, b"x", acl=acl).err
        return (created, whoami(alice), alice.get(path).err, anon.get(path).err,
                bob.get(path).err, bob.set(path, b"y").err,
                bob.create(path + "/c", b"", acl=[r.ACL(31, r.Id("sasl", "a@b@c"))]).err,
                bob.create(path + "/d", b"", acl=[r.ACL(31, r.Id("auth", ""))]).err,
                bob.call(Op.GET_ACL, r.GetACLRequest(path + "/d")).body.acl)

    got = compare(sasl_servers, scenario)
    assert got == (0, [("ip", "127.0.0.1"), ("sasl", "alice"), ("super", "")], 0, -102, 0, 0,
                   -114, 0, [r.ACL(31, r.Id("sasl", "bob"))])


def test_sasl_failures_are_not_counted_in_auth_failed_count(sasl_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        before = int(mntr_value(srv, "auth_failed_count"))
        c = open_client(srv)
        outcome(c, client_response(challenge(c), "bob", "wrong"))
        return int(mntr_value(srv, "auth_failed_count")) - before

    assert compare(sasl_servers, scenario) == 0


# -- real clients ---------------------------------------------------------------------------

def java_sasl_client(srv: SaslServerProc, tmp: Path, user: str, password: str,
                     path: str, acl_id: str = "bob") -> list[str]:
    classes = compile_java(REPO / "tests" / "java" / "SaslClient.java", "SaslClient", "sasl")
    jaas = tmp / f"client-{user}-{password}.conf"
    jaas.write_text('Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                    f'  username="{user}"\n  password="{password}";\n}};\n')
    proc = subprocess.run(
        ["java", "-cp", f"{RUN_CP}:{classes}", "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
         f"-Djava.security.auth.login.config={jaas}", "SaslClient", srv.address, path, acl_id],
        capture_output=True, text=True, timeout=90)
    return proc.stdout.splitlines()


@pytest.mark.skipif(not java_available(), reason="needs java for the Java client")
def test_java_client_logs_in_through_jaas(sasl_servers: Servers, tmp_path: Path) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        return java_sasl_client(srv, tmp_path, "bob", "bobsecret", "/java-sasl")

    assert compare(sasl_servers, scenario) == [
        "STATE SyncConnected", "STATE SaslAuthenticated", "WHOAMI ip:127.0.0.1 sasl:bob",
        "CREATE /java-sasl", "ACL 31 sasl:bob", "GET 0", "DELETE 0", "STATE Closed"]


@pytest.mark.skipif(not java_available(), reason="needs java for the Java client")
def test_java_client_with_a_wrong_password_is_refused(sasl_servers: Servers,
                                                      tmp_path: Path) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        lines = java_sasl_client(srv, tmp_path, "bob", "wrong", "/java-sasl-bad")
        return lines[:3]

    got = compare(sasl_servers, scenario)
    assert got[:2] == ["STATE SyncConnected", "STATE AuthFailed"]


def test_kazoo_sasl_options_digest_md5(sasl_servers: Servers) -> None:
    from kazoo.client import KazooClient
    from kazoo.exceptions import AuthFailedError, NoAuthError
    from kazoo.security import make_acl

    def scenario(srv: SaslServerProc) -> Any:
        out: list[Any] = []
        zk = KazooClient(hosts=srv.address, timeout=10, sasl_options={
            "mechanism": "DIGEST-MD5", "username": "bob", "password": "bobsecret"})
        zk.start(timeout=15)
        legacy = KazooClient(hosts=srv.address, timeout=10,
                             auth_data=[("sasl", "alice:alicesecret")])
        legacy.start(timeout=15)
        anon = KazooClient(hosts=srv.address, timeout=10)
        anon.start(timeout=15)
        try:
            path = f"/kazoo-sasl-{time.monotonic_ns()}"
            zk.create(path, b"v", acl=[make_acl("sasl", credential="bob", all=True)])
            try:
                anon.get(path)
                out.append("anon read")
            except NoAuthError:
                out.append("anon NoAuth")
            out.append(legacy.get(path)[0])  # alice is a super user
            zk.delete(path)
        finally:
            for c in (zk, legacy, anon):
                c.stop()
                c.close()
        bad = KazooClient(hosts=srv.address, timeout=5, sasl_options={"mechanism": "DIGEST-MD5", "username": "bob",
                                        "password": "wrong"})
        try:
            bad.start(timeout=10)
            # kazoo reports CONNECTED before its SASL exchange ends, then AUTH_FAILED
            deadline = time.monotonic() + 10
            while bad.client_state == "CONNECTED" and time.monotonic() < deadline:
                time.sleep(0.05)
            out.append(bad.client_state)
        except AuthFailedError:
            out.append("AuthFailedError")
        finally:
            bad.stop()
            bad.close()
        return out

    assert compare(sasl_servers, scenario) == ["anon NoAuth", b"v", "CLOSED"]


# -- enforcement ----------------------------------------------------------------------------

def _requests_before_auth(srv: SaslServerProc) -> Any:
    out = []
    for op, rec in ((Op.PING, None), (Op.GET_DATA, r.GetDataRequest("/", False)),
                    (Op.WHO_AM_I, None), (999, None)):
        c = open_client(srv)
        try:
            xid = -2 if op == Op.PING else None
            rep = c.call(op, rec, xid=xid)
            out.append((rep.err, rep.zxid, rep.raw, c.is_closed_by_server(1.5)))
        except (ConnectionClosed, TimeoutError):
            out.append(CLOSED)
        c.close()
    return out


REFUSED = (-124, 0, b"", True)


def test_session_require_client_sasl_auth_from_zoo_cfg(start_pair: Callable[..., Servers],
                                                      jaas_file: Path) -> None:
    servers = start_pair(cfg={"sessionRequireClientSASLAuth": "true",
                              "authProvider.1": SASL_PROVIDER},
                         flags=[f"-Djava.security.auth.login.config={jaas_file}"])

    def scenario(srv: SaslServerProc) -> Any:
        before = _requests_before_auth(srv)
        c = open_client(srv)
        digest = c.auth("digest", b"u:p").err
        after_digest = c.call(Op.GET_DATA, r.GetDataRequest("/", False))
        refused = (after_digest.err, c.is_closed_by_server(1.5))
        c = open_client(srv)
        failed = outcome(c, client_response(challenge(c), "bob", "wrong"))
        c = login(srv, "bob", "bobsecret")
        ok = c.call(Op.GET_DATA, r.GetDataRequest("/", False)).err
        return before, digest, refused, failed, ok

    assert compare(servers, scenario) == (
        [REFUSED] * 4, 0, (-124, True), (-124, 0, NULL_TOKEN, True), 0)


def test_enforce_auth_schemes_from_jvm_flags(start_pair: Callable[..., Servers],
                                            jaas_file: Path) -> None:
    servers = start_pair(flags=[f"-Djava.security.auth.login.config={jaas_file}",
                                "-Dzookeeper.enforce.auth.enabled=true",
                                "-Dzookeeper.enforce.auth.schemes=digest,sasl",
                                "-Dzookeeper.authProvider.sasl=" + SASL_PROVIDER])

    def scenario(srv: SaslServerProc) -> Any:
        before = _requests_before_auth(srv)
        c = open_client(srv)
        digest = c.auth("digest", b"u:p").err
        after = c.call(Op.GET_DATA, r.GetDataRequest("/", False)).err
        c = open_client(srv)
        failed = outcome(c, client_response(challenge(c), "bob", "wrong"))
        c = login(srv, "bob", "bobsecret")
        ok = c.call(Op.GET_DATA, r.GetDataRequest("/", False)).err
        return before, digest, after, failed, ok

    assert compare(servers, scenario) == (
        [REFUSED] * 4, 0, 0, (-124, 0, NULL_TOKEN, True), 0)


def test_allow_sasl_failed_clients_keeps_the_connection(start_pair: Callable[..., Servers],
                                                       jaas_file: Path) -> None:
    servers = start_pair(cfg={"allowSaslFailedClients": "true"},
                         flags=[f"-Djava.security.auth.login.config={jaas_file}"])

    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        failed = outcome(c, client_response(challenge(c), "bob", "wrong"))
        again = outcome(c, b"")
        get = c.call(Op.GET_DATA, r.GetDataRequest("/", False)).err
        return failed, again, get, whoami(c)

    assert compare(servers, scenario) == (
        (0, 0, NULL_TOKEN, False), (0, 0, NULL_TOKEN, False), 0, [("ip", "127.0.0.1")])


# -- the digest provider's settings, and no SASL login -----------------------------------------

def test_digest_alg_sha256_and_no_sasl_login(start_pair: Callable[..., Servers]) -> None:
    import base64
    import hashlib

    sha256 = base64.b64encode(hashlib.sha256(b"super:pw").digest()).decode()
    servers = start_pair(flags=["-Dzookeeper.DigestAuthenticationProvider.digestAlg=SHA-256",
                                f"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:{sha256}"])

    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        no_login = outcome(c, b"")  # no JAAS file: OK with a null token
        c.auth("digest", b"super:pw")
        who = whoami(c)
        u = open_client(srv)
        u.auth("digest", b"u1:pw")
        ident = "u1:" + base64.b64encode(hashlib.sha256(b"u1:pw").digest()).decode()
        path = f"/alg-{time.monotonic_ns()}"
        made = u.create(path, b"", acl=[r.ACL(31, r.Id("digest", ident))]).err
        return no_login, who, made, u.get(path).err

    assert compare(servers, scenario) == (
        (0, 0, NULL_TOKEN, False),
        [("digest", "super"), ("ip", "127.0.0.1"), ("super", "")], 0, 0)


def test_digest_provider_disabled(start_pair: Callable[..., Servers]) -> None:
    servers = start_pair(cfg={"DigestAuthenticationProvider.enabled": "false"})

    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        acl = [r.ACL(31, r.Id("digest", "u:abc"))]
        made = c.create(f"/nodigest-{time.monotonic_ns()}", b"", acl=acl).err
        rep = c.auth("digest", b"u:p")
        return made, rep.err, c.is_closed_by_server(1.5)

    assert compare(servers, scenario) == (-114, -115, True)


@pytest.mark.parametrize("cfg,flags", [
    ({"enforce.auth.enabled": "true"}, []),
    ({}, ["-Dzookeeper.enforce.auth.enabled=true", "-Dzookeeper.enforce.auth.schemes=kerberos"]),
    ({}, ["-Djava.security.auth.login.config=/nonexistent/jaas.conf"]),
], ids=["enforce without schemes", "enforce unknown scheme", "missing JAAS file"])
def test_settings_java_refuses_stop_the_start(tmp_path: Path, cfg: dict[str, str],
                                              flags: list[str]) -> None:
    def scenario(kind: str) -> Any:
        srv = SaslServerProc(kind, tmp_path / kind, cfg, flags)
        srv.spawn()
        assert srv.proc is not None
        try:
            srv.proc.wait(30)
        except subprocess.TimeoutExpired:
            ready = srv.proc.poll() is None
            srv.stop()
            return "running" if ready else "exited"
        return "exited"

    results = {kind: scenario(kind) for kind in kinds()}
    assert set(results.values()) == {"exited"}, results


# -- the TLS client port --------------------------------------------------------------------

def test_sasl_on_the_tls_port(tmp_path: Path, jaas_file: Path, pki: Any) -> None:  # noqa: F811
    from kazoo.client import KazooClient
    from kazoo.security import make_acl

    from tests.integration.test_tls import tls_settings

    def scenario(kind: str) -> Any:
        cfg = {"authProvider.1": SASL_PROVIDER, **tls_settings(pki, "p12")}
        srv = SaslServerProc(kind, tmp_path / kind, cfg,
                             [f"-Djava.security.auth.login.config={jaas_file}"])
        srv.start()
        try:
            hosts = f"{cfg['secureClientPortAddress']}:{cfg['secureClientPort']}"
            zk = KazooClient(hosts=hosts, timeout=10, use_ssl=True, ca=str(pki.ca_pem),
                             verify_certs=True, certfile=str(pki.client_cert),
                             keyfile=str(pki.client_key),
                             sasl_options={"mechanism": "DIGEST-MD5", "username": "bob",
                                           "password": "bobsecret"})
            zk.start(timeout=15)
            try:
                zk.create("/tls-sasl", b"v", acl=[make_acl("sasl", credential="bob", all=True)])
                got = zk.get("/tls-sasl")[0], [(a.id.scheme, a.id.id)
                                               for a in zk.get_acls("/tls-sasl")[0]]
            finally:
                zk.stop()
                zk.close()
            c = open_client(srv)  # the plain port serves the same tree; no sasl id there
            return got, c.get("/tls-sasl").err
        finally:
            srv.stop()

    results = {kind: scenario(kind) for kind in kinds()}
    if len(results) == 2:
        assert results["pyzk"] == results["java"], results
    assert next(iter(results.values())) == ((b"v", [("sasl", "bob")]), -102)
