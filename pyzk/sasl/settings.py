"""Client authentication settings: SASL login (JAAS), super users, enforcement, digest provider.

Java reads each as a system property (zookeeper.<key>, set by -D or by a zoo.cfg line <key>=);
pyzk's config loader hands them here as zoo.cfg keys. Checked when the config is loaded, so
`pyzk check` reports what would stop Java from starting (a JAAS file it cannot read, enforce.auth
without schemes or with a scheme nobody provides).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import gss
from .jaas import JaasError, LoginModule, load
from .kerberos_name import DEFAULT_RULES, BadRules, Rule, parse_rules

DIGEST_LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
KRB5_LOGIN_MODULE = "com.sun.security.auth.module.Krb5LoginModule"
USER_PREFIX = "user_"

# authProvider.N classes and the scheme each registers (ProviderRegistry).
PROVIDER_SCHEMES = {
    "org.apache.zookeeper.server.auth.SASLAuthenticationProvider": "sasl",
    "org.apache.zookeeper.server.auth.X509AuthenticationProvider": "x509",
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider": "digest",
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider": "ip",
}


@dataclass(frozen=True)
class KerberosLogin:
    """The Server section's Krb5LoginModule: the service principal and its keytab."""

    principal: str  # service/host@REALM as Krb5LoginModule reports it (realm added)
    keytab: str | None  # None: the Kerberos library's default keytab

    @property
    def service_and_host(self) -> tuple[str, str] | None:
        """SecurityUtils.createSaslServer splits the principal at the first '/' and the '@'
        after it; a principal without both gets no SaslServer (None)."""
        slash = self.principal.find("/")
        if slash < 0:
            return None
        rest = self.principal[slash + 1:]
        at = rest.find("@")
        if at < 0:
            return None
        return self.principal[:slash], rest[:at]


class SecurityConfigError(ValueError):
    """A setting Java would refuse at start; `key` names the zoo.cfg key to blame."""

    def __init__(self, message: str, key: str | None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class SecuritySettings:
    jaas_config: str | None = None  # java.security.auth.login.config
    sasl_section: str = "Server"  # zookeeper.sasl.serverconfig
    # DIGEST-MD5 users of the JAAS section: user_<name>="<password>" options.
    credentials: dict[str, str] = field(default_factory=dict)
    sasl_enabled: bool = False  # the JAAS file has the section: SASL exchanges are served
    kerberos: KerberosLogin | None = None  # the section logs in with Krb5LoginModule: GSSAPI
    super_users: tuple[str, ...] = ()  # zookeeper.superUser[.*]
    allow_sasl_failed_clients: bool = False
    super_password: str | None = None  # zookeeper.SASLAuthenticationProvider.superPassword
    remove_host: bool = False
    remove_realm: bool = False
    auth_to_local: tuple[Rule, ...] = DEFAULT_RULES  # zookeeper.security.auth_to_local
    let_any_sasl_user: str | None = None  # zookeeper.letAnySaslUserDoX
    enforce_enabled: bool = False
    enforce_schemes: tuple[str, ...] = ()
    digest_enabled: bool = True
    digest_alg: str = "SHA1"

    @property
    def sasl_required(self) -> bool:
        """AuthenticationHelper.isSaslAuthRequired."""
        return self.enforce_enabled and "sasl" in self.enforce_schemes


def build(values: Mapping[str, Any], auth_providers: Mapping[str, str], secure_port: int,
          props: Mapping[str, str] | None = None,
          key_source: Callable[[str], bool] | None = None) -> SecuritySettings:
    """SecuritySettings from typed zoo.cfg values; SecurityConfigError names what Java refuses."""
    supers = tuple(v for k, v in sorted(values.items())
                   if (k == "superUser" or k.startswith("superUser.")) and v)
    if values.get("sessionRequireClientSASLAuth", False):
        enforce, schemes = True, ("sasl",)
    else:
        enforce = bool(values.get("enforce.auth.enabled", False))
        raw = values.get("enforce.auth.schemes")
        schemes = tuple(s.strip() for s in raw.split(",")) if raw is not None else ()
    digest_enabled = bool(values.get("DigestAuthenticationProvider.enabled", True))
    if enforce:
        key = ("sessionRequireClientSASLAuth" if values.get("sessionRequireClientSASLAuth")
               else "enforce.auth.schemes")
        if not schemes:
            raise SecurityConfigError("zookeeper.enforce.auth.enabled is true "
                                      "zookeeper.enforce.auth.schemes must be  configured.",
                                      "enforce.auth.enabled")
        provided = {"ip"} | ({"digest"} if digest_enabled else set())
        provided |= {PROVIDER_SCHEMES[c] for c in auth_providers.values() if c in PROVIDER_SCHEMES}
        if secure_port:
            provided.add("x509")
        for scheme in schemes:
            if scheme not in provided:
                raise SecurityConfigError(f"Authentication scheme {scheme} is not available.", key)
    try:
        rules = parse_rules(str(values.get("security.auth_to_local", "DEFAULT")))
    except BadRules as e:
        # Java's KerberosName fails to initialise and every SASL login then fails; pyzk
        # refuses to start instead.
        raise SecurityConfigError(f"Could not configure Kerberos principal name mapping: {e}",
                                  "security.auth_to_local") from None
    jaas = values.get("pyzk.jaas.loginConfig")
    section = values.get("sasl.serverconfig", "Server")
    credentials: dict[str, str] = {}
    sasl_enabled = False
    kerberos: KerberosLogin | None = None
    if jaas is not None:
        credentials, sasl_enabled, kerberos = _login(str(jaas), section, props or {})
    return SecuritySettings(
        jaas_config=str(jaas) if jaas is not None else None,
        sasl_section=section,
        credentials=credentials,
        sasl_enabled=sasl_enabled,
        kerberos=kerberos,
        super_users=supers,
        allow_sasl_failed_clients=bool(values.get("allowSaslFailedClients", False)),
        super_password=values.get("SASLAuthenticationProvider.superPassword"),
        remove_host=bool(values.get("kerberos.removeHostFromPrincipal", False)),
        remove_realm=bool(values.get("kerberos.removeRealmFromPrincipal", False)),
        auth_to_local=rules,
        let_any_sasl_user=values.get("letAnySaslUserDoX"),
        enforce_enabled=enforce,
        enforce_schemes=schemes,
        digest_enabled=digest_enabled,
        digest_alg=str(values.get("DigestAuthenticationProvider.digestAlg", "SHA1")),
    )


def _login(path: str, section: str,
           props: Mapping[str, str]) -> tuple[dict[str, str], bool, KerberosLogin | None]:
    """ServerCnxnFactory.configureSaslLogin + Login: the section's user_* options, and whether
    SASL is served at all (a file without the section leaves it off, as in Java)."""
    key = "pyzk.jaas.loginConfig"
    try:
        sections = load(path, props)
    except JaasError as e:
        raise SecurityConfigError(f"No JAAS configuration section named '{section}' was found "
                                  f"in '{path}': {e}", key) from None
    modules: list[LoginModule] | None = sections.get(section)
    if modules is None:
        return {}, False, None
    if not modules:
        raise SecurityConfigError(f"Could not configure server because SASL configuration did "
                                  f"not allow the  ZooKeeper server to authenticate itself "
                                  f"properly: No LoginModules configured for {section}", key)
    credentials: dict[str, str] = {}
    kerberos: KerberosLogin | None = None
    for m in modules:
        if m.class_name == KRB5_LOGIN_MODULE:
            kerberos = kerberos_login(m, props)
            continue
        if m.class_name != DIGEST_LOGIN_MODULE:
            raise SecurityConfigError(f"Could not configure server because SASL configuration "
                                      f"did not allow the  ZooKeeper server to authenticate "
                                      f"itself properly: No LoginModule found for "
                                      f"{m.class_name}", key)
        for opt, value in m.options.items():
            if opt.startswith(USER_PREFIX):
                credentials[opt[len(USER_PREFIX):]] = value
    return credentials, True, kerberos


def _login_failed(reason: str) -> SecurityConfigError:
    return SecurityConfigError("Could not configure server because SASL configuration did not "
                               "allow the  ZooKeeper server to authenticate itself properly: "
                               f"javax.security.auth.login.LoginException: {reason}",
                               "pyzk.jaas.loginConfig")


def kerberos_login(m: LoginModule, props: Mapping[str, str],
                   failed: Callable[[str], SecurityConfigError] = _login_failed
                   ) -> KerberosLogin:
    """Krb5LoginModule as a server logs in with it: useKeyTab=true, keyTab= (else the default
    keytab), principal= (the realm added when missing). The keytab must hold the principal's
    key, as Java's login refuses to start otherwise. `failed` words the refusal for the
    section's user (the client port's Server section, or a quorum section). A
    -Djava.security.krb5.conf names the Kerberos configuration for the whole process, as it
    does for the JVM."""
    krb5_conf = props.get("java.security.krb5.conf")
    if krb5_conf:
        gss.use_config(krb5_conf)
    opts = dict(m.options)
    keytab = opts.get("keyTab")
    if opts.get("useKeyTab", "false").lower() != "true":
        if keytab:
            raise failed("Configuration Error - useKeyTab should be set to true to use "
                         f"the keytab{keytab}")
        raise failed("No password provided")  # a server has no one to prompt
    principal = opts.get("principal")
    if not principal:
        raise failed("Unable to obtain Principal Name for authentication ")
    if "@" not in principal:
        from .kerberos_name import default_realm
        realm = default_realm()
        principal = f"{principal}@{realm}" if realm else principal
    login = KerberosLogin(principal, keytab)
    try:
        gss.acceptor(principal, keytab).release()
    except gss.GssError as e:
        # Java finds no key for the principal and falls back to a password nobody gives.
        raise failed(f"No password provided ({e})") from None
    if opts.get("isInitiator", "true").lower() != "false":
        # Krb5LoginModule as an initiator asks the KDC for a ticket with the keytab's key at
        # login: a stale keytab or an unknown principal stops the server there.
        try:
            gss.check_login(principal, keytab)
        except gss.GssError as e:
            raise failed(str(e)) from None
    return login
