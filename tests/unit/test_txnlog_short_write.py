"""A short pwrite (a nearly full tmpfs answers one instead of ENOSPC) is never taken for a
complete write: the rest is written, or the flush fails and nothing is acknowledged."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from pyzk.storage import logfile
from pyzk.storage.logfile import _pwrite_all


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.pwrite
    calls: list[int] = []

    def short(fd: int, data: Any, pos: int) -> int:
        piece = bytes(data)[:3]  # at most 3 bytes per call
        calls.append(len(piece))
        return real(fd, piece, pos)

    monkeypatch.setattr(logfile.os, "pwrite", short)
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        _pwrite_all(fd, b"0123456789", 5)
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"\0" * 5 + b"0123456789"
    assert calls == [3, 3, 3, 1]


def test_a_write_that_makes_no_progress_is_enospc(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logfile.os, "pwrite", lambda fd, data, pos: 0)
    with pytest.raises(OSError) as e:
        _pwrite_all(3, b"x", 0)
    assert e.value.errno == errno.ENOSPC
