"""DIGEST-MD5 arithmetic (RFC 2831's worked example), the JAAS file parser, and how -D options in
SERVER_JVMFLAGS / JVMFLAGS reach pyzk's settings (a zoo.cfg line wins, as in Java)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.config import ConfigError, load_config
from pyzk.config.jvmflags import jvm_entries
from pyzk.sasl.digest_md5 import DigestMD5Server, SaslError, client_response, response_value
from pyzk.sasl.jaas import JaasError, parse


def test_rfc2831_example_response_and_rspauth() -> None:
    args = ("imap/elwood.innosoft.com", "auth", "chris", "elwood.innosoft.com", "secret",
            b"OA6MG9tEQGm2hh", b"OA6MHXh6VqTrRk", 1, None)
    assert response_value("AUTHENTICATE", *args) == b"d388dad90d4bbd760a152321f2143af7"
    assert response_value("", *args) == b"ea40f60335c427b5527b84dbabcdfffd"


def test_server_exchange_and_illegal_state() -> None:
    srv = DigestMD5Server(lambda u: {"bob": "pw"}.get(u), lambda a, z: a)
    ch = srv.evaluate(b"")
    assert srv.evaluate(client_response(ch, "bob", "pw")).startswith(b"rspauth=")
    assert srv.complete and srv.authorization_id == "bob"
    with pytest.raises(SaslError):
        srv.evaluate(b"")


def test_jaas_sections_quoted_keys_comments_and_errors() -> None:
    text = """// comment
    Server { org.apache.zookeeper.server.auth.DigestLoginModule required
      user_bob="b\\"ob" /* inline */ "user_c@R"=word_1 user_h="${user.home}";
    };
    Client { x.Y optional; };"""
    got = parse(text, "f", {"user.home": "/h"})
    (mod,) = got["Server"]
    assert mod.flag == "REQUIRED"
    assert mod.options == {"user_bob": 'b"ob', "user_c@R": "word_1", "user_h": "/h"}
    assert got["Client"][0].options == {}
    for bad in ("Server { m bogusflag; };", "Server { m required k=; };", "Server { m required",
                "S { m required; }; S { m required; };", 'S { m required k="${nope}"; };'):
        with pytest.raises(JaasError):
            parse(bad, "f")


def _cfg(tmp_path: Path, lines: str, env: dict[str, str]) -> object:
    path = tmp_path / "zoo.cfg"
    path.write_text(f"dataDir={tmp_path}\nclientPort=2181\n{lines}")
    return load_config(path, env=env)


def test_jvm_flags_reach_the_settings_and_zoo_cfg_wins(tmp_path: Path) -> None:
    jaas = tmp_path / "jaas.conf"
    jaas.write_text('Server { org.apache.zookeeper.server.auth.DigestLoginModule required '
                    'user_bob="pw"; };')
    env = {"SERVER_JVMFLAGS": f"-Xmx1g -Djava.security.auth.login.config={jaas} "
                              "-Dzookeeper.superUser=alice -Dzookeeper.allowSaslFailedClients=true",
           "JVMFLAGS": "-Dzookeeper.superUser=carol -Dzookeeper.authProvider.1=x.Y -Dfoo=bar"}
    cfg = _cfg(tmp_path, "allowSaslFailedClients=false\n", env)
    sec = cfg.security  # type: ignore[attr-defined]
    assert sec.sasl_enabled and sec.credentials == {"bob": "pw"}
    assert sec.super_users == ("carol",)  # JVMFLAGS comes after SERVER_JVMFLAGS
    assert sec.allow_sasl_failed_clients is False  # the zoo.cfg line wins
    assert cfg.auth_providers == {"1": "x.Y"}  # type: ignore[attr-defined]
    assert set(jvm_entries(env)) == {"pyzk.jaas.loginConfig", "superUser",
                                     "allowSaslFailedClients", "authProvider.1"}


def test_security_settings_java_refuses(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schemes must be"):
        _cfg(tmp_path, "enforce.auth.enabled=true\n", {})
    with pytest.raises(ConfigError, match="Authentication scheme sasl is not available"):
        _cfg(tmp_path, "sessionRequireClientSASLAuth=true\n", {})
    with pytest.raises(ConfigError, match="JAAS"):
        _cfg(tmp_path, "", {"JVMFLAGS": "-Djava.security.auth.login.config=/nonexistent"})
    with pytest.raises(ConfigError, match="digest algorithm"):
        _cfg(tmp_path, "DigestAuthenticationProvider.digestAlg=NOPE\n", {})
    sec = _cfg(tmp_path, "enforce.auth.enabled=true\nenforce.auth.schemes=digest, ip\n"
               "DigestAuthenticationProvider.digestAlg=sha-256\n", {}).security  # type: ignore[attr-defined]
    assert sec.enforce_schemes == ("digest", "ip") and not sec.sasl_required


def test_krb5_login_module_settings_java_refuses(tmp_path: Path) -> None:
    """Krb5LoginModule checks that need no KDC: no useKeyTab, no principal (a server has no one
    to prompt), and how the principal splits into service and host."""
    from pyzk.sasl.settings import KerberosLogin

    jaas = tmp_path / "krb.conf"
    env = {"SERVER_JVMFLAGS": f"-Djava.security.auth.login.config={jaas}"}
    head = "Server { com.sun.security.auth.module.Krb5LoginModule required "
    jaas.write_text(head + 'keyTab="/k.keytab" principal="zookeeper/h@R"; };')
    with pytest.raises(ConfigError, match="useKeyTab should be set to true to use the keytab/k"):
        _cfg(tmp_path, "", env)
    jaas.write_text(head + 'principal="zookeeper/h@R"; };')
    with pytest.raises(ConfigError, match="LoginException: No password provided"):
        _cfg(tmp_path, "", env)
    jaas.write_text(head + 'useKeyTab=true keyTab="/k.keytab"; };')
    with pytest.raises(ConfigError, match="Unable to obtain Principal Name"):
        _cfg(tmp_path, "", env)
    assert KerberosLogin("zookeeper/zk1.example.com@EX.COM", None).service_and_host == (
        "zookeeper", "zk1.example.com")
    assert KerberosLogin("zookeeper@EX.COM", None).service_and_host is None
    assert KerberosLogin("a/b/c@EX.COM", None).service_and_host == ("a", "b/c")


def test_auth_to_local_rules_parse_and_apply(tmp_path: Path) -> None:
    from pyzk.sasl.kerberos_name import (
        BadRules,
        NoMatchingRule,
        RuleRuntimeError,
        authorized_id,
        parse_rules,
    )

    rules = parse_rules(" RULE:[2:$1@$0](zk@R)s/@.*// RULE:[1:$1](b.*)s/(b)(o)/$2\\$$1/g DEFAULT ")
    assert [str(r) for r in rules] == ["RULE:[2:$1@$0](zk@R)s/@.*//",
                                       "RULE:[1:$1](b.*)s/(b)(o)/$2\\$$1/g", "DEFAULT"]
    assert authorized_id("zk/h@R", "R", False, True, rules) == "zk/h"
    assert authorized_id("bob@R", "R", False, False, rules) == "o$bb@R"
    assert authorized_id("carol@R", "R", False, True, rules) == "carol"  # DEFAULT
    assert authorized_id("carol@OTHER", "R", False, False, rules) is None  # no rule applies
    with pytest.raises(NoMatchingRule, match="Non-simple name"):
        parse_rules("RULE:[1:$1@$0]")[0].apply(["R", "x"], "R")
    with pytest.raises(NoMatchingRule, match="bad format"):
        parse_rules("RULE:[1:$]")[0].apply(["R", "x"], "R")
    with pytest.raises(RuleRuntimeError):
        parse_rules("RULE:[1:$2]")[0].apply(["R", "x"], "R")
    with pytest.raises(NoMatchingRule, match="outside of the valid range"):
        parse_rules("RULE:[1:$3]")[0].apply(["R", "x"], "R")
    for bad in ("NOPE", "RULE:[:$1]", "RULE:[1:$1](()"):
        with pytest.raises(BadRules):
            parse_rules(bad)
    with pytest.raises(ConfigError, match="Kerberos principal name mapping"):
        _cfg(tmp_path, "security.auth_to_local=RULE:[x]\n", {})
