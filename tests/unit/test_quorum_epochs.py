"""Epoch files at start-up (QuorumPeer.loadDataBase), and the updatingEpoch marker that lets a
member stopped between a SNAP sync's snapshot and its currentEpoch write start again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pyzk.server.quorum_peer import QuorumPeer
from pyzk.storage.datadir import UPDATING_EPOCH, DataDir, DataDirError
from pyzk.zab.zxid import make_zxid


def _peer(dd: DataDir, last_zxid: int) -> SimpleNamespace:
    tree = SimpleNamespace(last_processed_zxid=last_zxid)
    return SimpleNamespace(storage=SimpleNamespace(datadir=dd),
                           server=SimpleNamespace(tree=tree))


def _load(dd: DataDir, last_zxid: int) -> SimpleNamespace:
    peer = _peer(dd, last_zxid)
    QuorumPeer._load_epochs(peer)  # type: ignore[arg-type]
    return peer


def test_snapshot_newer_than_current_epoch_is_refused_without_the_marker(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    dd.write_epoch("currentEpoch", 1)
    dd.write_epoch("acceptedEpoch", 3)
    with pytest.raises(DataDirError, match="older than the last zxid"):
        _load(dd, make_zxid(2, 7))


def test_the_marker_finishes_the_epoch_update(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    dd.write_epoch("currentEpoch", 1)
    dd.write_epoch("acceptedEpoch", 3)
    dd.write_epoch(UPDATING_EPOCH, 3)  # the sync's new epoch; its NEWLEADER was never acked
    peer = _load(dd, make_zxid(2, 7))
    # the snapshot's own epoch, not the unacknowledged new one (ZooKeeper 3.4's rule)
    assert (peer.current_epoch, peer.accepted_epoch) == (2, 3)
    assert dd.read_epoch("currentEpoch") == 2
    assert dd.read_epoch(UPDATING_EPOCH) is None


def test_a_leftover_marker_is_removed_and_changes_nothing(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    dd.write_epoch("currentEpoch", 3)
    dd.write_epoch("acceptedEpoch", 3)
    dd.write_epoch(UPDATING_EPOCH, 3)
    peer = _load(dd, make_zxid(3, 1))
    assert (peer.current_epoch, dd.read_epoch(UPDATING_EPOCH)) == (3, None)
