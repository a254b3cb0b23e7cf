"""Java 3.8.0 edge rules of the auth packet and fixupACL (null fields, UTF-8 decoding).

The same cases run end to end against Java in tests/integration/test_auth_acl_edges.py.
"""

from __future__ import annotations

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err, KeeperError, MarshallingError
from pyzk.server.auth import authenticate, client_infos
from pyzk.tree import acl

ALL = 31


def A(perms: int, scheme: str | None, ident: str | None) -> r.ACL:
    return r.ACL(perms, r.Id(scheme, ident))


def fixup_err(acls: list[r.ACL], auth: list[r.Id] | None = None) -> int:
    """The error code prep answers: a KeeperError's, or MARSHALLINGERROR for what Java fails
    with a runtime exception (MarshallingError, which also fails a whole multi)."""
    try:
        acl.fixup_acl("/p", auth or [], acls)
    except MarshallingError:
        return int(Err.MARSHALLINGERROR)
    except KeeperError as e:
        return int(e.code)
    raise AssertionError("fixup_acl accepted the list")


# -- new String(bytes, UTF_8) ----------------------------------------------------------------

@pytest.mark.parametrize(("data", "text"), [
    (b"plain:pw", "plain:pw"),
    (b"\xff\xfeus\xc3er", "\ufffd\ufffdus\ufffder"),
    (b"a\xe2\x82:b", "a\ufffd:b"),  # truncated 3-byte sequence: one U+FFFD, as Python
    (b"\xc0\xaf", "\ufffd\ufffd"),  # overlong: one per byte, as Python
    (b"\xed\xa0\x80x", "\ufffdx"),  # an encoded surrogate: one U+FFFD for three bytes
    (b"\xed\xa0\x80\xed\xb0\x80", "\ufffd\ufffd"),  # CESU-8 pair: two
    (b"\xed\xa0:", "\ufffd:"),  # ED + A0 then a non-continuation: one for two bytes
    (b"\xed\xbf", "\ufffd"),  # ... or the end
    (b"\xed\x9f\xbf", "\ud7ff"),  # the last code point below the surrogates is fine
])
def test_java_utf8_counts_malformed_sequences_as_java_does(data: bytes, text: str) -> None:
    assert acl.java_utf8(data) == text


# -- the auth packet -----------------------------------------------------------------------

def test_digest_auth_with_null_buffer_fails() -> None:
    # handleAuthentication's new String(null) throws; processPacket answers AUTHFAILED
    assert authenticate("digest", None, "127.0.0.1", None) is None
    assert acl.digest_auth_ids(b"", None) == [r.Id("digest", acl.generate_digest(""))]


def test_digest_auth_empty_and_colonless_credentials_are_accepted() -> None:
    ids = authenticate("digest", b"", "127.0.0.1", None)
    assert ids is not None and [i.id.split(":")[0] for i in ids] == [""]
    ids = authenticate("digest", b"justuser", "127.0.0.1", None)
    assert ids is not None and ids[0].id.startswith("justuser:")
    ids = authenticate("digest", b"a:b:c", "127.0.0.1", None)
    assert ids is not None and ids[0].id == acl.generate_digest("a:b:c")


def test_digest_auth_decodes_like_java() -> None:
    ids = authenticate("digest", b"\xed\xa0\x80x\xc0\xafy:pw", "127.0.0.1", None)
    assert ids is not None
    assert ids[0].id == acl.generate_digest("\ufffdx\ufffd\ufffdy:pw")
    assert [(c.authScheme, c.user) for c in client_infos(ids)] == [
        ("digest", "\ufffdx\ufffd\ufffdy")]


@pytest.mark.parametrize("scheme", [None, "", "world", "super", "sasl", "x509", "DIGEST"])
def test_schemes_without_a_provider_fail(scheme: str | None) -> None:
    assert authenticate(scheme, b"x", "127.0.0.1", None) is None


def test_ip_auth_ignores_the_buffer() -> None:
    assert authenticate("ip", None, "127.0.0.42", None) == [r.Id("ip", "127.0.0.42")]


# -- fixupACL with null strings --------------------------------------------------------------

@pytest.mark.parametrize("acls", [
    [A(ALL, "world", None)],  # id.getId().equals("anyone")
    [A(ALL, "digest", None)],  # isValid(null): id.split
    [A(ALL, "ip", None)],
    [A(ALL, "digest", "a:b"), A(ALL, None, "x")],  # removeDuplicates: scheme.equals
    [A(ALL, "digest", "a:b"), A(ALL, "digest", None)],  # removeDuplicates: id.equals
    [A(ALL, "world", "x"), A(ALL, "world", None)],  # ... before the invalid first entry
])
def test_null_ids_where_java_dereferences_them_are_marshalling_errors(
        acls: list[r.ACL]) -> None:
    assert fixup_err(acls) == Err.MARSHALLINGERROR


@pytest.mark.parametrize("acls", [
    [A(ALL, None, "x")],  # checked before any dereference
    [A(1, "digest", "a:b"), A(ALL, None, "x")],  # perms differ: equals stops there
    [A(ALL, "nosuch", None)],  # no provider: INVALIDACL before isValid
    [A(ALL, "world", "x"), A(1, "world", None)],  # the first entry fails first
    [],
    None,
])
def test_invalid_acls_that_java_rejects_cleanly(acls: list[r.ACL] | None) -> None:
    assert fixup_err(acls) == Err.INVALIDACL  # type: ignore[arg-type]


def test_auth_scheme_ignores_a_null_id() -> None:
    bob = acl.digest_auth_ids(b"bob:pw", None)[0]
    assert acl.fixup_acl("/p", [bob], [A(ALL, "auth", None)]) == [r.ACL(ALL, bob)]


def test_duplicates_are_still_removed() -> None:
    world = A(ALL, "world", "anyone")
    assert acl.fixup_acl("/p", [], [world, world, A(ALL, "world", "anyone")]) == [world]
