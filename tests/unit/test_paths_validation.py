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


def test_the_valid_path_memo_changes_no_answer_and_stays_bounded() -> None:
    from pyzk.tree import paths

    for _ in range(2):  # the second round answers from the memo
        assert is_valid_path("/a/b") and is_valid_path("/")
        assert not is_valid_path("/a/") and not is_valid_path("/a//b")
        assert not is_valid_path("/a/./b") and not is_valid_path(None)
        assert not is_valid_path("") and not is_valid_path("a")
    long = "/" + "x" * 1000
    assert is_valid_path(long) and long not in paths._VALID
    for i in range(paths._VALID_LIMIT + 10):
        assert is_valid_path(f"/k/{i}")
    assert len(paths._VALID) <= paths._VALID_LIMIT
