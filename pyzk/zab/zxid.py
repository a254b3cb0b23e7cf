"""Zxid arithmetic (ZxidUtils.java): a zxid is (epoch << 32) | counter, both unsigned 32-bit.

Pure helpers shared by the ZAB leader, learner and sync cores.
"""

from __future__ import annotations

COUNTER_MASK = 0xFFFFFFFF


def make_zxid(epoch: int, counter: int) -> int:
    """ZxidUtils.makeZxid: Java computes on signed longs, so the result wraps to int64."""
    z = ((epoch << 32) | (counter & COUNTER_MASK)) & 0xFFFFFFFFFFFFFFFF
    return z - (1 << 64) if z >= (1 << 63) else z


def epoch_of(zxid: int) -> int:
    """ZxidUtils.getEpochFromZxid (zxid >> 32L, arithmetic shift)."""
    return zxid >> 32


def counter_of(zxid: int) -> int:
    """ZxidUtils.getCounterFromZxid."""
    return zxid & COUNTER_MASK


def is_epoch_start(zxid: int) -> bool:
    """(zxid & 0xffffffffL) == 0: a fresh-epoch zxid (LearnerHandler.syncFollower's isPeerNewEpochZxid)."""
    return (zxid & COUNTER_MASK) == 0


def zxid_hex(zxid: int) -> str:
    """Long.toHexString: two's complement for negatives (e.g. -1 -> ffffffffffffffff)."""
    return format(zxid & 0xFFFFFFFFFFFFFFFF, "x")
