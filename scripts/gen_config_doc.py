"""Regenerate docs/configuration.md from the one key table (pyzk/config/keys.py).

Run: .venv/bin/python scripts/gen_config_doc.py  (tests/unit/test_config_doc.py checks it is current)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyzk.config.keys import KEYS  # noqa: E402

HEAD = """# zoo.cfg reference

Every key Apache ZooKeeper 3.8 documents, and what pyzk does with it. Generated from
`pyzk/config/keys.py` by `scripts/gen_config_doc.py` (also printed by `pyzk keys`).

- **honoured**: pyzk implements it.
- **refused**: pyzk refuses to start when it is set to anything but its default, with a message
  naming the file, line and key.
- **inert**: accepted with a warning; it only tunes Java internals (JVM, Netty, Jetty, caches) or
  has no effect from zoo.cfg in Java either.

Unknown keys are refused. Environment overrides: see docs/operations.md.

**JVM system properties.** Java reads some settings only as system properties, which operators set
with `-D` options in `SERVER_JVMFLAGS` / `JVMFLAGS` (zkServer.sh and the official image pass them;
Confluent's image `KAFKA_OPTS`). pyzk reads the same variables, split on white space as the
script does, the last `-D` of a name winning (JVMFLAGS after SERVER_JVMFLAGS): `-Dzookeeper.<key>=v`
is the zoo.cfg line `<key>=v` (Java's QuorumPeerConfig turns zoo.cfg keys it does not parse into
`zookeeper.<key>` properties, so both spellings reach the same setting), and a zoo.cfg line wins
over a `-D` option, as in Java. This holds for the client-authentication keys below
(`sessionRequireClientSASLAuth`, `enforce.auth.*`, `superUser[.N]`, `allowSaslFailedClients`,
`sasl.serverconfig`, `SASLAuthenticationProvider.superPassword`, `kerberos.remove*FromPrincipal`,
`letAnySaslUserDoX`, `DigestAuthenticationProvider.*`, `X509AuthenticationProvider.superUser`,
`authProvider.N`) and for `skipACL`, `extendedTypesEnabled`, `digest.enabled`,
`4lw.commands.whitelist` and `admin.*`; `-Djava.security.auth.login.config=FILE` is the zoo.cfg key
`pyzk.jaas.loginConfig`, and `-Djute.maxbuffer`, `-Dreadonlymode.enabled`,
`-Dznode.container.*` are the keys of the same name. Other `-D` options are ignored.

**Client SASL.** With a JAAS file whose `Server` section (or the `sasl.serverconfig` one) uses
`org.apache.zookeeper.server.auth.DigestLoginModule`, clients log in with DIGEST-MD5 as
`user_<name>="<password>"` entries allow (realm `zk-sasl-md5`, qop auth), and gain the id
`sasl:<name>` (also `super` when the name is a `superUser`). Add
`authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider` for `sasl` ACLs.
A file that cannot be read or parsed stops the start, as in Java; one without the section leaves
SASL off. A section that logs in with `com.sun.security.auth.module.Krb5LoginModule`
(`useKeyTab=true`, `keyTab="<file>"`, `principal="<service>/<host>@<REALM>"`) serves GSSAPI
(Kerberos V5, RFC 4752) instead: clients gain `sasl:<their principal>`, mapped by the
`security.auth_to_local` rules and shortened by `kerberos.removeHostFromPrincipal` /
`kerberos.removeRealmFromPrincipal`. As Java's login does,
pyzk checks at start that the keytab holds the principal and (unless `isInitiator=false`) that
the KDC gives it a ticket with that key. The Kerberos configuration is the file named by
`-Djava.security.krb5.conf` (else `KRB5_CONFIG`, else /etc/krb5.conf); pyzk needs MIT's
libgssapi_krb5.so.2 (Debian's libgssapi-krb5-2). docs/operations.md has a worked setup.

**Quorum TLS.** `sslQuorum=true` with the `ssl.quorum.*` stores makes every member dial the
quorum and election ports over TLS and accept only TLS there; `portUnification=true` makes those
ports accept TLS and plaintext alike (members still dial plaintext unless `sslQuorum` is set).
Both ends check the peer's certificate against its address (`ssl.quorum.hostnameVerification`,
on by default, as Java's QuorumX509Util: the IP address, then the reverse-lookup name). The
rolling switch from a plaintext quorum, one member restarted at a time after each step, as Java
documents: add the stores and `portUnification=true`; then `sslQuorum=true`; then remove
`portUnification`. Works in mixed pyzk/Java ensembles. `-Dzookeeper.ssl.*` and
`-Dzookeeper.ssl.quorum.*` options are the zoo.cfg keys of the same name.

**Quorum SASL.** `quorum.auth.enableSasl=true` with a JAAS file (`-Djava.security.auth.login.config`
in `SERVER_JVMFLAGS`, or `pyzk.jaas.loginConfig`) whose `QuorumServer` section lists the members'
logins (`user_<name>="<password>"`, DigestLoginModule) and whose `QuorumLearner` section gives this
member's `username` and `password`: with `quorum.auth.learnerRequireSasl=true` a member logs in
(DIGEST-MD5, Java's QuorumAuthPacket exchange) whenever it dials a voter's election port or its
leader; with `quorum.auth.serverRequireSasl=true` (which needs learnerRequireSasl) a member refuses
peers that do not. The rolling switch is the same three steps as Java's: enableSasl on every
member, then learnerRequireSasl, then serverRequireSasl. Works with quorum TLS and in mixed
pyzk/Java ensembles. Kerberos: sections with `Krb5LoginModule` (`useKeyTab=true`, `keyTab`,
`principal`) make members log in with GSSAPI instead; a learner asks for a ticket to
`quorum.auth.kerberos.servicePrincipal` (default `zkquorum/localhost`; `<service>/_HOST` takes the
host of the member dialled, as configured in its `server.N` line), a server accepts as its
QuorumServer principal and lets in a learner whose principal is `<service>/<host>@<REALM>` with
the host of one of the members (the check of Debian's Java 3.8.0, which carries the
CVE-2023-44981 fix). A keytab that is missing or lacks the principal stops the member at start,
as Java's login does (docs/operations.md, "Kerberos for members").

**Observer masters.** With `observerMasterPort=P` (same value on every member), each follower,
once synced with its leader, listens on P at its quorum address and serves observers as the
leader would (Java's ObserverMaster): it syncs them from its own data (DIFF, TRUNC or SNAP),
sends them every txn it commits as INFORM, and relays their clients' writes, session
revalidations and syncs to the leader. The leader does not listen on P. An observer with P set
attaches to the voters at P in a shuffled order, moving to the next one whenever a connection
fails or its follower goes away (the leader, which refuses, is skipped that way); without P it
attaches to the leader's quorum port as before, so observers of both kinds can share an
ensemble. A follower's `mntr` has `zk_synced_observers` and the AdminServer `observers` command
lists the observers it serves; on an observer, `leader` names the follower it attached to.
Works in mixed pyzk/Java ensembles, in both directions. Java's
`-Dzookeeper.observerMaster.sizeLimit` (its buffer of recent commits) has no pyzk counterpart:
a pyzk follower syncs observers from the same committed window (`commitLogCount`) and txn log
a leader uses.

| key | pyzk | default | meaning |
|---|---|---|---|
"""


def render() -> str:
    rows = []
    for k in KEYS:
        default = "" if k.default is None else str(k.default)
        doc = k.doc.replace("|", "\\|")
        rows.append(f"| `{k.name}` | {k.status.value} | {default} | {doc} |")
    return HEAD + "\n".join(rows) + "\n"


if __name__ == "__main__":
    (ROOT / "docs" / "configuration.md").write_text(render())
