"""Snapshot stream modes: gzip and snappy-java framing round trips, Java's file-name rules, and
reading the other framings snappy-java's SnappyInputStream accepts."""

from __future__ import annotations

import struct
from pathlib import Path

import cramjam
import pytest

from pyzk.storage import snapshot as sc
from pyzk.storage import snapstream as ss
from pyzk.storage.datadir import DataDir
from pyzk.storage.recovery import recover
from pyzk.tree.datatree import DataTree

DATA = bytes(range(256)) * 700 + b"tail"  # > 5 blocks of 32 KiB


@pytest.mark.parametrize("mode", ["", "gz", "snappy"])
def test_round_trip_in_pieces(mode: str) -> None:
    pieces = [DATA[i:i + 5000] for i in range(0, len(DATA), 5000)]
    raw = b"".join(ss.compress_chunks(mode, pieces))
    assert ss.decompress(mode, raw) == DATA
    assert ss.compress(mode, DATA) == raw or mode == "gz"


def test_snappy_layout_is_snappy_java_framing() -> None:
    raw = ss.compress("snappy", DATA)
    assert raw[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    off, sizes = 16, []
    while off < len(raw):
        (n,) = struct.unpack_from(">i", raw, off)
        sizes.append(len(cramjam.snappy.decompress_raw(raw[off + 4:off + 4 + n])))
        off += 4 + n
    assert sizes[:-1] == [32768] * (len(sizes) - 1) and sum(sizes) == len(DATA)


def test_snappy_reads_headerless_and_concatenated_streams() -> None:
    assert ss.decompress("snappy", bytes(cramjam.snappy.compress_raw(DATA))) == DATA
    two = ss.compress("snappy", DATA[:40000]) + ss.compress("snappy", DATA[40000:])
    assert ss.decompress("snappy", two) == DATA
    with pytest.raises(ss.StreamError):
        ss.decompress("snappy", ss.compress("snappy", DATA)[:-3])


def test_mode_follows_the_last_name_part_like_java() -> None:
    assert ss.mode_of_file("snapshot.1f.gz") == "gz"
    assert ss.mode_of_file("snapshot.1f.SNAPPY") == "snappy"
    assert ss.mode_of_file("snapshot.1f") == ""
    assert ss.mode_of_file("snapshot.1f.lz4") == ""


@pytest.mark.parametrize("mode", ["gz", "snappy"])
def test_datadir_writes_and_recovers_compressed_snapshots(tmp_path: Path, mode: str) -> None:
    dd = DataDir(tmp_path, compression=mode)
    tree = DataTree()
    path = dd.save_snapshot(sc.capture(tree, {5: 30000}), fsync=False)
    assert path.name == f"snapshot.0.{mode}"
    assert dd.valid_snapshots() == [(0, path)]
    rec = recover(DataDir(tmp_path))  # read whatever this directory writes
    assert rec.snapshot_path == path and rec.sessions == {5: 30000}
    path.write_bytes(b"junk" + path.read_bytes())  # bad magic: not a valid snapshot
    assert dd.valid_snapshots() == []
