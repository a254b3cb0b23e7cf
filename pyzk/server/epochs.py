"""The epoch files at start-up (QuorumPeer.loadDataBase): currentEpoch and acceptedEpoch, made
from the last zxid when missing, and the updatingEpoch marker a sync leaves while it moves
currentEpoch (LearnerHost._persist) finished or dropped."""

from __future__ import annotations

import structlog

from ..storage.datadir import UPDATING_EPOCH, DataDir, DataDirError
from ..zab.zxid import epoch_of

log = structlog.get_logger("pyzk.quorum")


def load_epochs(dd: DataDir, last_zxid: int) -> tuple[int, int]:
    """(currentEpoch, acceptedEpoch) of a data dir whose tree ends at `last_zxid`; raises
    DataDirError when they contradict it, as Java refuses to start."""
    zxid_epoch = epoch_of(last_zxid)
    cur = dd.read_epoch("currentEpoch")
    if cur is None:
        cur = zxid_epoch
        dd.write_epoch("currentEpoch", cur)
    updating = dd.read_epoch(UPDATING_EPOCH)
    if cur < zxid_epoch and updating is not None and updating >= zxid_epoch:
        # Stopped between a sync's snapshot or log write and its currentEpoch write (see
        # LearnerHost._persist): finish the update, as ZooKeeper 3.4 did with this marker.
        log.info("updatingEpoch found: the server stopped after a sync snapshot but before "
                 "updating currentEpoch; setting it now", current_epoch=zxid_epoch)
        cur = zxid_epoch
        dd.write_epoch("currentEpoch", cur)
    if updating is not None:
        dd.remove_epoch(UPDATING_EPOCH)
    if cur < zxid_epoch:
        raise DataDirError(f"The current epoch, {cur:x}, is older than the last zxid, "
                           f"{last_zxid:x}")
    acc = dd.read_epoch("acceptedEpoch")
    if acc is None:
        acc = zxid_epoch
        dd.write_epoch("acceptedEpoch", acc)
    if acc < cur:
        raise DataDirError(f"The current epoch, {cur:x}, is after the accepted epoch, "
                           f"{acc:x}")
    return cur, acc
