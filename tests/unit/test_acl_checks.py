"""ACL enforcement: NOAUTH, INVALIDACL via fixupACL, auth expansion, super, ip CIDR, getACL."""

from __future__ import annotations

import pytest

from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.prep import PrepSettings
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.opcodes import Op
from pyzk.tree import acl

IP = r.Id("ip", "127.0.0.1")
BOB = acl.digest_auth_ids(b"bob:secret", None)[0]
ALICE = acl.digest_auth_ids(b"alice:pw", None)[0]


def ACL(perms: int, scheme: str, ident: str) -> r.ACL:
    return r.ACL(perms, r.Id(scheme, ident))


def test_digest_matches_java_generate_digest() -> None:
    assert acl.generate_digest("super:test") == "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
    assert BOB.id.startswith("bob:")
    ids = acl.digest_auth_ids(b"super:test", "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    assert ids[0] == r.Id("super", "")


@pytest.mark.parametrize("ident,expr,ok", [
    ("10.1.2.3", "10.1.0.0/16", True), ("10.2.2.3", "10.1.0.0/16", False),
    ("127.0.0.1", "127.0.0.1", True), ("127.0.0.2", "127.0.0.1", False),
    ("1.2.3.4", "0.0.0.0/0", True), ("1.2.3.4", "1.2.3.4/33", False),
    ("1.2.3.4", "1.2.3/24", False), ("::1", "127.0.0.1", False),
])
def test_ip_matching(ident: str, expr: str, ok: bool) -> None:
    assert acl.ip_matches(ident, expr) is ok


@pytest.mark.parametrize("a,valid", [
    (ACL(31, "world", "anyone"), True), (ACL(31, "world", "x"), False),
    (ACL(31, "ip", "10.0.0.0/8"), True), (ACL(31, "ip", "10.0.0/8"), False),
    (ACL(31, "ip", "10.0.0.1/40"), False), (ACL(31, "digest", "u:h"), True),
    (ACL(31, "digest", "u"), False), (ACL(31, "digest", "u:h:"), True),
    (ACL(31, "super", ""), False), (ACL(31, "sasl", "x"), False),
])
def test_fixup_acl_validity(a: r.ACL, valid: bool) -> None:
    if valid:
        assert acl.fixup_acl("/p", [], [a]) == [a]
    else:
        with pytest.raises(acl.KeeperError) as ei:
            acl.fixup_acl("/p", [], [a])
        assert ei.value.code == Err.INVALIDACL


def test_auth_scheme_expands_to_authenticated_ids_only() -> None:
    out = acl.fixup_acl("/p", [IP, BOB], [ACL(31, "auth", ""), ACL(31, "auth", "")])
    assert out == [r.ACL(31, BOB)]  # duplicates dropped; ip ids are not "authenticated"
    with pytest.raises(acl.KeeperError):
        acl.fixup_acl("/p", [IP], [ACL(31, "auth", "")])
    with pytest.raises(acl.KeeperError):
        acl.fixup_acl("/p", [IP], [])


def test_noauth_and_super_and_skip_acl() -> None:
    p = LocalPipeline()
    node_acl = [r.ACL(31, BOB), ACL(1, "world", "anyone")]
    req = Request(1, 1, Op.CREATE, r.CreateRequest("/s", b"x", node_acl, 0), [IP, BOB])
    assert p.write(req)[0] == 0
    child = Request(2, 1, Op.CREATE, r.CreateRequest("/s/c", b"", node_acl, 0), [IP])
    assert p.write(child)[0] == Err.NOAUTH
    setd = Request(2, 1, Op.SET_DATA, r.SetDataRequest("/s", b"", -1), [IP, ALICE])
    assert p.write(setd)[0] == Err.NOAUTH
    sup = Request(3, 1, Op.SET_DATA, r.SetDataRequest("/s", b"", -1), [r.Id("super", "")])
    assert p.write(sup)[0] == 0
    skip = LocalPipeline(settings=PrepSettings(skip_acl=True))
    skip.write(req)
    assert skip.write(Request(2, 1, Op.SET_DATA, r.SetDataRequest("/s", b"", -1), [IP]))[0] == 0


def test_read_noauth_and_getacl_redaction() -> None:
    p = LocalPipeline()
    p.write(Request(1, 1, Op.CREATE, r.CreateRequest(
        "/r", b"x", [r.ACL(31, BOB), ACL(1, "ip", "127.0.0.1")], 0), [BOB]))
    p.write(Request(1, 1, Op.CREATE, r.CreateRequest("/secret", b"x", [r.ACL(31, BOB)], 0), [BOB]))
    get = Request(2, 1, Op.GET_DATA, r.GetDataRequest("/secret", False), [IP])
    assert p.read(get)[0] == Err.NOAUTH
    err, body, _ = p.read(Request(2, 1, Op.GET_ACL, r.GetACLRequest("/r"), [IP]))
    assert err == 0
    assert [a.id for a in r.GetACLResponse.from_bytes(body).acl] == [
        r.Id("digest", "bob:x"), r.Id("ip", "127.0.0.1")]
    err, body, _ = p.read(Request(1, 1, Op.GET_ACL, r.GetACLRequest("/r"), [BOB]))
    assert r.GetACLResponse.from_bytes(body).acl[0].id == BOB
    assert p.read(Request(2, 1, Op.GET_ACL, r.GetACLRequest("/secret"), [ALICE]))[0] == Err.NOAUTH


def test_set_acl_invalid_before_nonode() -> None:
    p = LocalPipeline()
    bad = Request(1, 1, Op.SET_ACL, r.SetACLRequest("/missing", [ACL(31, "ip", "x")], -1), [])
    assert p.write(bad)[0] == Err.INVALIDACL


def test_who_am_i_lists_client_infos() -> None:
    p = LocalPipeline()
    err, body, _ = p.read(Request(1, 1, Op.WHO_AM_I, None, [IP, BOB, r.Id("super", "")]))
    infos = r.WhoAmIResponse.from_bytes(body).clientInfo
    assert [(i.authScheme, i.user) for i in infos] == [
        ("ip", "127.0.0.1"), ("digest", "bob"), ("super", "")]
