"""PathUtils.validatePath table: every accept/reject rule."""

from __future__ import annotations

import pytest

from pyzk.protocol.codes import Err, KeeperError
from pyzk.tree.paths import is_valid_path, path_error, validate_path

VALID = ["/", "/a", "/a/b", "/a.b", "/...", "/a/..b", "/.a", "/a/b.", "/zoo\u00e9", "/a-_:@"]
INVALID = ["", "a", "/a/", "//", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a/.", "/a\0b",
           "/a\x01", "/a\x7f", "/a\x9f", "/a\ud800", "/a\uf8ff", "/a\ufff0", "/a\uffff",
           "/a\U0001F600"]


@pytest.mark.parametrize("path", VALID)
def test_valid(path: str) -> None:
    assert is_valid_path(path) and path_error(path) is None
    validate_path(path)


@pytest.mark.parametrize("path", INVALID)
def test_invalid(path: str) -> None:
    assert not is_valid_path(path)
    assert path_error(path) is not None
    with pytest.raises(KeeperError) as ei:
        validate_path(path)
    assert ei.value.code == Err.BADARGUMENTS


def test_sequential_appends_a_digit_first() -> None:
    validate_path("/a/", sequential=True)
    with pytest.raises(KeeperError):
        validate_path("/a//", sequential=True)
