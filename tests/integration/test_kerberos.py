"""Client SASL with Kerberos (GSSAPI, RFC 4752) against a real MIT KDC started on loopback:
the JAAS Server section logs in with Krb5LoginModule (keytab, principal), clients log in as
Kerberos principals. Every scenario runs on pyzk and on Debian's Java ZooKeeper 3.8.0 in the
same test and the outcomes are compared (and checked against the literal Java gave).

Clients: the raw protocol with a GSS initiator (pyzk.sasl.gss; every step and bad token of the
exchange), the real Java client logging in through a JAAS Client section (tests/java/
SaslClient.java), and kazoo's sasl_options GSSAPI (pure-sasl over pykerberos).

Sources read: ZooKeeperServer.processSasl, SecurityUtils.createSaslServer,
SaslServerCallbackHandler, ZooKeeperSaslClient (release-3.8.0); RFC 4752; the JDK's GSSAPI
SASL server as documented.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyzk.sasl import gss
from tests.integration.rawclient import ConnectionClosed, RawClient
from tests.integration.test_sasl import (
    CLOSED,
    HOST,
    NULL_TOKEN,
    RUN_CP,
    SASL_PROVIDER,
    SaslServerProc,
    Servers,
    kinds,
    mntr_value,
    open_client,
    sasl,
    token_of,
    whoami,
)
from tests.integration.test_tls import pki  # noqa: F401 - the TLS test's certificates, a module fixture
from tests.kdc import Kdc, missing_tools
from tests.servers import REPO, compile_java, free_port, java_available

pytestmark = [pytest.mark.java, pytest.mark.slow, pytest.mark.timeout(300)]

SERVICE = f"zookeeper/{HOST}"
ALICE = "alice@EXAMPLE.COM"
AUTHFAILED_CLOSE = (-115, 0, NULL_TOKEN, True)


def _skip_reason() -> str | None:
    missing = missing_tools()
    if missing:
        return (f"no MIT KDC here (missing {', '.join(missing)}): scripts/test.sh installs "
                "krb5-kdc krb5-admin-server krb5-user")
    try:
        gss.library()
    except gss.GssUnavailable as e:
        return str(e)
    return None


class KrbServerProc(SaslServerProc):
    """pyzk learns the Kerberos configuration only from -Djava.security.krb5.conf, as Java
    does: the test process's KRB5_CONFIG is kept from it."""

    def spawn(self) -> None:
        saved = os.environ.pop("KRB5_CONFIG", None)
        try:
            super().spawn()
        finally:
            if saved is not None:
                os.environ["KRB5_CONFIG"] = saved


@pytest.fixture(scope="module")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kdc]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    k = Kdc(tmp_path_factory.mktemp("kdc"))
    k.setup()
    k.start()
    saved = {key: os.environ.get(key) for key in k.env()}
    os.environ.update(k.env())  # the in-process GSS initiator and kazoo's pykerberos
    try:
        k.add_principal(SERVICE)
        for who in ("alice", "carol", "mallory", "dave"):
            k.add_principal(who)
        k.add_principal("zookeeper/127.0.0.99")  # a service these servers have no key of
        yield k
    finally:
        k.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def server_jaas(path: Path, keytab: Path, principal: str = f"{SERVICE}@EXAMPLE.COM",
                extra: str = "") -> Path:
    path.write_text("Server {\n  com.sun.security.auth.module.Krb5LoginModule required\n"
                    f'  useKeyTab=true\n  keyTab="{keytab}"\n  storeKey=true\n'
                    f'  useTicketCache=false\n  principal="{principal}"{extra};\n}};\n')
    return path


def krb_flags(kdc: Kdc, jaas: Path) -> list[str]:
    return [f"-Djava.security.auth.login.config={jaas}",
            f"-Djava.security.krb5.conf={kdc.krb5_conf}"]


@pytest.fixture(scope="module")
def start_krb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Servers]]:
    started: list[SaslServerProc] = []

    def make(cfg: dict[str, str], flags: list[str]) -> Servers:
        base = tmp_path_factory.mktemp("krb")
        out: Servers = {}
        for kind in kinds():
            srv = KrbServerProc(kind, base / kind, dict(cfg), list(flags))
            started.append(srv)
            out[kind] = srv.start()
        return out

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def krb_servers(kdc: Kdc, start_krb: Callable[..., Servers],
                tmp_path_factory: pytest.TempPathFactory) -> Servers:
    jaas = server_jaas(tmp_path_factory.mktemp("jaas") / "server.conf", kdc.keytabs[SERVICE])
    return start_krb({"authProvider.1": SASL_PROVIDER, "superUser": "carol@EXAMPLE.COM"},
                     krb_flags(kdc, jaas))


def compare(servers: Servers, scenario: Callable[[SaslServerProc], Any]) -> Any:
    results = {kind: scenario(srv) for kind, srv in servers.items()}
    if "java" in results and "pyzk" in results:
        assert results["pyzk"] == results["java"], results
    return results.get("pyzk", next(iter(results.values())))


# -- raw GSSAPI exchanges ------------------------------------------------------------------

class Initiator:
    """The client side of RFC 4752 for one principal, from its keytab."""

    def __init__(self, kdc: Kdc, who: str, service: str = SERVICE, mutual: bool = True) -> None:
        self.kdc = kdc
        self.name = gss.Name.principal(f"{who}@{kdc.realm}")
        self.cred = gss.Credential.acquire(
            self.name, gss.GSS_C_INITIATE,
            {"client_keytab": str(kdc.keytabs[who]), "ccache": f"MEMORY:{who}-{id(self)}"})
        self.target = gss.Name.principal(f"{service}@{kdc.realm}")
        self.ctx = gss.Context(self.cred)
        self.flags = gss.INTEG_FLAG | gss.CONF_FLAG | (gss.MUTUAL_FLAG if mutual else 0)

    def first(self) -> bytes:
        return self.ctx.init(self.target, None, self.flags)

    def step(self, token: bytes) -> bytes:
        return self.ctx.init(self.target, token, self.flags)

    def choice(self, layer: int = 1, maxbuf: int = 65536, authzid: str = ALICE,
               raw: bytes | None = None) -> bytes:
        data = raw if raw is not None else (bytes([layer]) + maxbuf.to_bytes(3, "big")
                                            + authzid.encode())
        return self.ctx.wrap(data)


def answer(c: RawClient, token: bytes) -> Any:
    """(err, zxid, token or None) of one SASL request, CLOSED when the connection is cut."""
    try:
        err, zxid, body = sasl(c, token)
    except (ConnectionClosed, TimeoutError):
        return CLOSED
    return err, zxid, None if body[:4] == NULL_TOKEN else token_of(body)


def to_offer(c: RawClient, ini: Initiator) -> tuple[Any, bytes]:
    """Context establishment; returns (what each step got, the wrapped offer)."""
    steps = []
    got = answer(c, ini.first())
    steps.append(got[:2] + (got[2] is not None,))
    if ini.flags & gss.MUTUAL_FLAG:
        ini.step(got[2])  # the AP-REP: the server is who it claims
        got = answer(c, b"")
        steps.append(got[:2] + (got[2] is not None,))
    return steps, got[2]


def test_gssapi_exchange_gives_the_principal_as_sasl_id(kdc: Kdc, krb_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        out = []
        for mutual in (True, False):
            c = open_client(srv)
            ini = Initiator(kdc, "alice", mutual=mutual)
            steps, wrapped = to_offer(c, ini)
            offer = ini.ctx.unwrap(wrapped)
            final = answer(c, ini.choice())
            out.append((steps, offer, final, whoami(c)))
            c.close()
        return out

    got = compare(krb_servers, scenario)
    done = (0, 0, None)
    who = [("ip", "127.0.0.1"), ("sasl", ALICE)]
    assert got == [([(0, 0, True), (0, 0, True)], b"\x01\x01\x00\x00", done, who),
                   ([(0, 0, True)], b"\x01\x01\x00\x00", done, who)]


BAD_STEPS: list[tuple[str, Callable[[RawClient, Initiator], Any]]] = [
    ("garbage first token", lambda c, ini: answer(c, b"\x60\x00garbage")),
    ("empty first token", lambda c, ini: answer(c, b"")),
    ("ticket for another service", lambda c, ini: answer(c, Initiator(
        ini.kdc, "alice", service="zookeeper/127.0.0.99").first())),
    ("data where the empty token belongs",
     lambda c, ini: (ini.step(answer(c, ini.first())[2]), answer(c, b"x"))[1]),
    ("integrity layer chosen", lambda c, ini: (to_offer(c, ini), answer(c, ini.choice(2)))[1]),
    ("privacy layer chosen", lambda c, ini: (to_offer(c, ini), answer(c, ini.choice(4)))[1]),
    ("choice not wrapped", lambda c, ini: (to_offer(c, ini), answer(c, b"\x01\x01\x00\x00"))[1]),
    ("a token after completion",
     lambda c, ini: (to_offer(c, ini), answer(c, ini.choice()), answer(c, b""))[2]),
]


SHORT_CHOICES: list[tuple[str, Callable[[RawClient, Initiator], Any]]] = [
    ("three octets", lambda c, ini: (to_offer(c, ini), answer(c, ini.choice(raw=b"\x01\x00\x10")))[1]),
    ("no octets", lambda c, ini: (to_offer(c, ini), answer(c, ini.choice(raw=b"")))[1]),
]


@pytest.mark.parametrize("name,step", BAD_STEPS, ids=[b[0] for b in BAD_STEPS])
def test_each_bad_gssapi_step_gets_what_java_gives(kdc: Kdc, krb_servers: Servers, name: str,
                                                  step: Callable[[RawClient, Initiator], Any]
                                                  ) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        ini = Initiator(kdc, "alice")
        try:
            got = step(c, ini)
            if got == CLOSED:
                return got
            return got[:2] + (None if got[2] is None else "token",), c.is_closed_by_server(1.5)
        finally:
            c.close()

    got = compare(krb_servers, scenario)
    assert got == ((-115, 0, None), True)


@pytest.mark.parametrize("name,step", SHORT_CHOICES, ids=[b[0] for b in SHORT_CHOICES])
def test_a_choice_shorter_than_four_octets_closes_unanswered(
        kdc: Kdc, krb_servers: Servers, name: str,
        step: Callable[[RawClient, Initiator], Any]) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        try:
            return step(c, Initiator(kdc, "alice"))
        finally:
            c.close()

    assert compare(krb_servers, scenario) == CLOSED


def test_authzid_of_someone_else_still_gives_the_authenticated_principal(
        kdc: Kdc, krb_servers: Servers) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        ini = Initiator(kdc, "alice")
        _, wrapped = to_offer(c, ini)
        ini.ctx.unwrap(wrapped)
        other = answer(c, ini.choice(authzid="carol@EXAMPLE.COM")), whoami(c)
        # every layer chosen: accepted, as "no security layer" is among them
        c = open_client(srv)
        ini = Initiator(kdc, "alice")
        _, wrapped = to_offer(c, ini)
        ini.ctx.unwrap(wrapped)
        return other, answer(c, ini.choice(7))

    assert compare(krb_servers, scenario) == (
        ((0, 0, None), [("ip", "127.0.0.1"), ("sasl", ALICE)]), (0, 0, None))


def test_super_user_and_sasl_acls_by_principal(kdc: Kdc, krb_servers: Servers) -> None:
    def login(srv: SaslServerProc, who: str) -> RawClient:
        c = open_client(srv)
        ini = Initiator(kdc, who)
        _, wrapped = to_offer(c, ini)
        ini.ctx.unwrap(wrapped)
        assert answer(c, ini.choice(authzid=f"{who}@EXAMPLE.COM")) == (0, 0, None)
        return c

    def scenario(srv: SaslServerProc) -> Any:
        from pyzk.protocol import records as r
        alice, carol, mallory = (login(srv, w) for w in ("alice", "carol", "mallory"))
        path = f"/krb-acl-{time.monotonic_ns()}"
        made = alice.create(path, b"x", acl=[r.ACL(31, r.Id("sasl", ALICE))]).err
        before = int(mntr_value(srv, "auth_failed_count"))
        c = open_client(srv)
        answer(c, b"garbage")
        counted = int(mntr_value(srv, "auth_failed_count")) - before
        return (made, alice.get(path).err, mallory.get(path).err, carol.get(path).err,
                whoami(carol), counted)

    assert compare(krb_servers, scenario) == (
        0, 0, -102, 0, [("ip", "127.0.0.1"), ("sasl", "carol@EXAMPLE.COM"), ("super", "")], 0)


@pytest.mark.parametrize("provider", [True, False], ids=["sasl provider", "no sasl provider"])
def test_remove_host_and_realm_from_principal(kdc: Kdc, start_krb: Callable[..., Servers],
                                             tmp_path: Path, provider: bool) -> None:
    """The ids as kerberos.removeHostFromPrincipal / removeRealmFromPrincipal map them; whoAmI
    shows them only when authProvider.N registers the sasl provider (else the user is "")."""
    if "zkcli/client.example" not in kdc.keytabs:
        kdc.add_principal("zkcli/client.example")
    jaas = server_jaas(tmp_path / "server.conf", kdc.keytabs[SERVICE])
    cfg = {"kerberos.removeHostFromPrincipal": "true"}
    if provider:
        cfg["authProvider.1"] = SASL_PROVIDER
    servers = start_krb(cfg, [*krb_flags(kdc, jaas),
                              "-Dzookeeper.kerberos.removeRealmFromPrincipal=true"])

    def scenario(srv: SaslServerProc) -> Any:
        out = []
        for who in ("alice", "zkcli/client.example"):
            c = open_client(srv)
            ini = Initiator(kdc, who)
            _, wrapped = to_offer(c, ini)
            ini.ctx.unwrap(wrapped)
            answer(c, ini.choice(authzid=""))
            out.append(whoami(c))
        return out

    if provider:
        expected = [[("ip", "127.0.0.1"), ("sasl", "alice")],
                    [("ip", "127.0.0.1"), ("sasl", "zkcli")]]
    else:
        expected = [[("ip", "127.0.0.1"), ("sasl", "")]] * 2
    assert compare(servers, scenario) == expected


def test_an_expired_ticket_is_refused(kdc: Kdc, start_krb: Callable[..., Servers],
                                      tmp_path: Path) -> None:
    """A ticket that lived 6 s, presented once it has expired. The servers allow 3 s of clock
    skew (the default 300 s would make the test wait 5 minutes): ticket and authenticator are
    both out of bounds by then; each server refuses with AUTHFAILED and closes."""
    conf = tmp_path / "krb5-short-skew.conf"
    conf.write_text(kdc.krb5_conf.read_text().replace("[libdefaults]\n",
                                                       "[libdefaults]\n clockskew = 3\n"))
    jaas = server_jaas(tmp_path / "server.conf", kdc.keytabs[SERVICE])
    servers = start_krb({"authProvider.1": SASL_PROVIDER},
                        [f"-Djava.security.auth.login.config={jaas}",
                         f"-Djava.security.krb5.conf={conf}"])
    ccache = tmp_path / "short.ccache"
    subprocess.run(["kinit", "-l", "6s", "-k", "-t", str(kdc.keytabs["alice"]), "-c",
                    str(ccache), ALICE], env={**os.environ, **kdc.env()}, check=True,
                   timeout=30)
    expires = time.time() + 6  # no earlier than the real end: kinit asked before this
    tokens = {}
    for kind in servers:  # one AP-REQ per server: a replayed one would fail for that reason
        name = gss.Name.principal(ALICE)
        cred = gss.Credential.acquire(name, gss.GSS_C_INITIATE, {"ccache": f"FILE:{ccache}"})
        ctx = gss.Context(cred)
        tokens[kind] = ctx.init(gss.Name.principal(f"{SERVICE}@EXAMPLE.COM"), None,
                                gss.MUTUAL_FLAG | gss.INTEG_FLAG)
    for _ in range(200):  # until the ticket's end plus the allowed skew has passed
        if time.time() > expires + 3.5:
            break
        time.sleep(0.1)

    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        got = answer(c, tokens[srv.kind])
        return got, got != CLOSED and c.is_closed_by_server(1.5)

    assert compare(servers, scenario) == ((-115, 0, None), True)


AUTH_TO_LOCAL = ("RULE:[1:$1@$0](a.*@EXAMPLE\\.COM)s/@.*// "
                 "RULE:[2:$1-$2](zkcli-.*)s/(z)k(c)/$2$1/g "
                 "RULE:[2:$3](.*)")


def test_auth_to_local_rules(kdc: Kdc, start_krb: Callable[..., Servers],
                             tmp_path: Path) -> None:
    """zookeeper.security.auth_to_local (a zoo.cfg line; Java turns it into the property):
    a rule that matches, a substitution with groups, a rule that fails for a name (the id then
    stays what the client asked for), and a $3 one past a 2-component name (Java's index
    error: the connection closes unanswered)."""
    for who in ("zkcli/client.example", "svc/other.example"):
        if who not in kdc.keytabs:
            kdc.add_principal(who)
    jaas = server_jaas(tmp_path / "server.conf", kdc.keytabs[SERVICE])
    servers = start_krb({"authProvider.1": SASL_PROVIDER,
                         "security.auth_to_local": AUTH_TO_LOCAL},
                        [*krb_flags(kdc, jaas), "-Dzookeeper.kerberos.removeRealmFromPrincipal=true"])

    def scenario(srv: SaslServerProc) -> Any:
        out = []
        for who in ("alice", "dave", "zkcli/client.example", "svc/other.example"):
            c = open_client(srv)
            ini = Initiator(kdc, who)
            _, wrapped = to_offer(c, ini)
            ini.ctx.unwrap(wrapped)
            got = answer(c, ini.choice(authzid="asked-for"))
            out.append((got, whoami(c) if got != CLOSED else None))
            c.close()
        return out

    done = (0, 0, None)
    assert compare(servers, scenario) == [
        (done, [("ip", "127.0.0.1"), ("sasl", "alice")]),
        (done, [("ip", "127.0.0.1"), ("sasl", "asked-for")]),
        (done, [("ip", "127.0.0.1"), ("sasl", "czli-client.example/client.example")]),
        (CLOSED, None)]


# -- the real Java client -------------------------------------------------------------------

def java_krb_client(kdc: Kdc, srv: SaslServerProc, tmp: Path, who: str, keytab: Path,
                    path: str, acl_id: str = ALICE) -> list[str]:
    classes = compile_java(REPO / "tests" / "java" / "SaslClient.java", "SaslClient", "sasl")
    jaas = tmp / f"client-{who}-{keytab.name}.conf"
    jaas.write_text("Client {\n  com.sun.security.auth.module.Krb5LoginModule required\n"
                    f'  useKeyTab=true\n  keyTab="{keytab}"\n  storeKey=true\n'
                    f'  useTicketCache=false\n  principal="{who}@{kdc.realm}";\n}};\n')
    proc = subprocess.run(
        ["java", "-cp", f"{RUN_CP}:{classes}", "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
         f"-Djava.security.auth.login.config={jaas}",
         f"-Djava.security.krb5.conf={kdc.krb5_conf}",
         "-Dzookeeper.sasl.client.canonicalize.hostname=false",
         "SaslClient", srv.address, path, acl_id],
        capture_output=True, text=True, timeout=90)
    return proc.stdout.splitlines()


@pytest.mark.skipif(not java_available(), reason="needs java for the Java client")
def test_java_client_logs_in_with_kerberos(kdc: Kdc, krb_servers: Servers,
                                           tmp_path: Path) -> None:
    def scenario(srv: SaslServerProc) -> Any:
        return java_krb_client(kdc, srv, tmp_path, "alice", kdc.keytabs["alice"], "/java-krb")

    assert compare(krb_servers, scenario) == [
        "STATE SyncConnected", "STATE SaslAuthenticated",
        f"WHOAMI ip:127.0.0.1 sasl:{ALICE}", "CREATE /java-krb", f"ACL 31 sasl:{ALICE}",
        "GET 0", "DELETE 0", "STATE Closed"]


@pytest.mark.skipif(not java_available(), reason="needs java for the Java client")
def test_java_client_second_principal_denied_and_wrong_keytab(kdc: Kdc, krb_servers: Servers,
                                                              tmp_path: Path) -> None:
    stale = tmp_path / "mallory-stale.keytab"
    stale.write_bytes(kdc.keytabs["mallory"].read_bytes())
    kdc.rekey("mallory")  # the copy's keys are no longer mallory's

    def scenario(srv: SaslServerProc) -> Any:
        # dave (not a super user) may create a node for alice under /, not read it
        other = java_krb_client(kdc, srv, tmp_path, "dave", kdc.keytabs["dave"],
                                "/java-krb-other", acl_id=ALICE)
        wrong = java_krb_client(kdc, srv, tmp_path, "mallory", stale, "/java-krb-wrong")
        return other, wrong[:3]

    other, wrong = compare(krb_servers, scenario)
    assert other == ["STATE SyncConnected", "STATE SaslAuthenticated",
                     "WHOAMI ip:127.0.0.1 sasl:dave@EXAMPLE.COM", "CREATE /java-krb-other",
                     "ACL_ERR -102", "GET -102", "DELETE 0", "STATE Closed"]
    # the client's own login fails (the KDC refuses the stale key): it goes on without SASL
    assert wrong == ["STATE AuthFailed", "STATE SyncConnected", "WHOAMI ip:127.0.0.1"]


# -- kazoo ----------------------------------------------------------------------------------

def test_kazoo_sasl_options_gssapi(kdc: Kdc, krb_servers: Servers, tmp_path: Path) -> None:
    pytest.importorskip("kerberos", reason="pure-sasl's GSSAPI needs pykerberos")
    from kazoo.client import KazooClient
    from kazoo.exceptions import NoAuthError
    from kazoo.security import make_acl

    ccache = tmp_path / "alice.ccache"
    subprocess.run(["kinit", "-k", "-t", str(kdc.keytabs["alice"]), "-c", str(ccache), ALICE],
                   env={**os.environ, **kdc.env()}, check=True, timeout=30)
    saved = os.environ.get("KRB5CCNAME")
    os.environ["KRB5CCNAME"] = f"FILE:{ccache}"

    def scenario(srv: SaslServerProc) -> Any:
        zk = KazooClient(hosts=srv.address, timeout=10, sasl_options={
            "mechanism": "GSSAPI", "service": "zookeeper"})
        anon = KazooClient(hosts=srv.address, timeout=10)
        zk.start(timeout=15)
        anon.start(timeout=15)
        try:
            path = f"/kazoo-krb-{time.monotonic_ns()}"
            zk.create(path, b"v", acl=[make_acl("sasl", credential=ALICE, all=True)])
            try:
                anon.get(path)
                denied = "anon read"
            except NoAuthError:
                denied = "anon NoAuth"
            got = zk.get(path)[0]
            zk.delete(path)
            return denied, got
        finally:
            for c in (zk, anon):
                c.stop()
                c.close()

    try:
        assert compare(krb_servers, scenario) == ("anon NoAuth", b"v")
    finally:
        if saved is None:
            os.environ.pop("KRB5CCNAME", None)
        else:
            os.environ["KRB5CCNAME"] = saved


# -- server logins Java refuses, and one it cannot make a SaslServer from ----------------------

@pytest.mark.parametrize("case", ["stale keytab", "principal not in the keytab",
                                  "no such keytab", "useKeyTab=false"])
def test_server_logins_java_refuses_stop_the_start(kdc: Kdc, tmp_path: Path, case: str) -> None:
    principal = "zookeeper/127.0.0.45@EXAMPLE.COM"
    if "zookeeper/127.0.0.45" not in kdc.keytabs:
        kdc.add_principal("zookeeper/127.0.0.45")
    keytab = tmp_path / "server.keytab"
    keytab.write_bytes(kdc.keytabs["zookeeper/127.0.0.45"].read_bytes())
    use_keytab = "true"
    if case == "stale keytab":
        kdc.rekey("zookeeper/127.0.0.45")
        kdc.add_principal("zookeeper/127.0.0.45")  # a fresh keytab for the later cases
    elif case == "principal not in the keytab":
        principal = f"{SERVICE}@EXAMPLE.COM"
    elif case == "no such keytab":
        keytab = tmp_path / "missing.keytab"
    else:
        use_keytab = "false"
    jaas = tmp_path / "server.conf"
    jaas.write_text("Server {\n  com.sun.security.auth.module.Krb5LoginModule required\n"
                    f'  useKeyTab={use_keytab}\n  keyTab="{keytab}"\n  storeKey=true\n'
                    f'  useTicketCache=false\n  principal="{principal}";\n}};\n')

    def scenario(kind: str) -> Any:
        srv = KrbServerProc(kind, tmp_path / kind, {}, krb_flags(kdc, jaas))
        srv.spawn()
        assert srv.proc is not None
        try:
            srv.proc.wait(30)
        except subprocess.TimeoutExpired:
            srv.stop()
            return "running"
        logged = srv.log_path.read_text(errors="replace")
        return "exited", "Could not configure server because SASL configuration did not" in logged

    results = {kind: scenario(kind) for kind in kinds()}
    assert set(results.values()) == {("exited", True)}, results


def test_principal_without_host_serves_null_tokens(kdc: Kdc, start_krb: Callable[..., Servers],
                                                  tmp_path: Path) -> None:
    kdc.add_principal("zkhostless")
    jaas = server_jaas(tmp_path / "server.conf", kdc.keytabs["zkhostless"],
                       "zkhostless@EXAMPLE.COM")
    servers = start_krb({}, krb_flags(kdc, jaas))

    def scenario(srv: SaslServerProc) -> Any:
        c = open_client(srv)
        return answer(c, b"anything"), c.is_closed_by_server(1.0), whoami(c)

    assert compare(servers, scenario) == ((0, 0, None), False, [("ip", "127.0.0.1")])


def test_kerberos_on_the_tls_port(kdc: Kdc, start_krb: Callable[..., Servers], tmp_path: Path,
                                  pki: Any) -> None:  # noqa: F811
    pytest.importorskip("kerberos", reason="pure-sasl's GSSAPI needs pykerberos")
    from kazoo.client import KazooClient
    from kazoo.security import make_acl

    from tests.integration.test_tls import tls_settings

    tls = tls_settings(pki, "p12")
    host = tls["secureClientPortAddress"]
    if f"zookeeper/{host}" not in kdc.keytabs:
        kdc.add_principal(f"zookeeper/{host}", keytab=kdc.keytabs[SERVICE])
    jaas = server_jaas(tmp_path / "server.conf", kdc.keytabs[SERVICE],
                       f"zookeeper/{host}@EXAMPLE.COM")
    ccache = tmp_path / "alice.ccache"
    subprocess.run(["kinit", "-k", "-t", str(kdc.keytabs["alice"]), "-c", str(ccache), ALICE],
                   env={**os.environ, **kdc.env()}, check=True, timeout=30)
    saved = os.environ.get("KRB5CCNAME")
    os.environ["KRB5CCNAME"] = f"FILE:{ccache}"

    def scenario(kind: str) -> Any:
        cfg = {"authProvider.1": SASL_PROVIDER, **tls}
        cfg["secureClientPort"] = str(free_port(host))
        srv = KrbServerProc(kind, tmp_path / kind, cfg, krb_flags(kdc, jaas)).start()
        try:
            zk = KazooClient(hosts=f"{host}:{cfg['secureClientPort']}", timeout=10,
                             use_ssl=True, ca=str(pki.ca_pem), verify_certs=True,
                             certfile=str(pki.client_cert), keyfile=str(pki.client_key),
                             sasl_options={"mechanism": "GSSAPI", "service": "zookeeper"})
            zk.start(timeout=15)
            try:
                zk.create("/tls-krb", b"v", acl=[make_acl("sasl", credential=ALICE, all=True)])
                got = zk.get("/tls-krb")[0], [(a.id.scheme, a.id.id)
                                              for a in zk.get_acls("/tls-krb")[0]]
            finally:
                zk.stop()
                zk.close()
            c = open_client(srv)  # the plain port serves the same tree; no sasl id there
            return got, c.get("/tls-krb").err
        finally:
            srv.stop()

    try:
        results = {kind: scenario(kind) for kind in kinds()}
    finally:
        if saved is None:
            os.environ.pop("KRB5CCNAME", None)
        else:
            os.environ["KRB5CCNAME"] = saved
    if len(results) == 2:
        assert results["pyzk"] == results["java"], results
    assert next(iter(results.values())) == ((b"v", [("sasl", ALICE)]), -102)
