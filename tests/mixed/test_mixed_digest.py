"""Tree digests across a mixed ensemble: a Java follower of a pyzk leader and a pyzk follower
of a Java leader compare every txn's TxnDigest (from the leader's PROPOSAL) with their own
tree. Over a write run of every txn kind through every member, all members report 0
digest_mismatches_count and the same `hash` history; no Java log has a mismatch line.

Then each follower's tree is corrupted the same way (one logged create's data changed, the
entry's checksum redone, so replay accepts it) and restarted: both kinds detect it, on
replay and with every later txn (mntr, and Java's "Digests are not matching" / "First digest
mismatch" lines), while the leader and the untouched members stay at 0.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from tests.ensemble.launcher import Ensemble, start_client, wait_for
from tests.mixed.mixhelp import clients, close_all, start_led_by

pytestmark = pytest.mark.slow

# the leader is sid 3 (started with sid 2); sids 1 and 2 follow
ARRANGEMENTS = {
    "pyzk-leads-java-and-pyzk-follow": {1: "java", 2: "pyzk", 3: "pyzk"},
    "java-leads-pyzk-and-java-follow": {1: "pyzk", 2: "java", 3: "java"},
}
TARGET = b"digest-target-data-0123456789"  # a create's data, never changed afterwards
ROUNDS = 30


def mismatches(ens: Ensemble, sid: int) -> int:
    m = ens.members[sid]
    for line in m.fourlw(m.host, "mntr").splitlines():
        key, _, value = line.partition("\t")
        if key == "zk_digest_mismatches_count":
            return int(value)
    raise AssertionError(f"member {sid}: mntr has no zk_digest_mismatches_count")


def history(ens: Ensemble, sid: int) -> list[str]:
    m = ens.members[sid]
    return m.fourlw(m.host, "hash").splitlines()


def write_run(cs: dict[int, KazooClient], ens: Ensemble, tag: str) -> None:
    """Every txn kind through every member: creates (plain, sequential, ephemeral), setData,
    setACL-free deletes, multis that commit and that fail, an error, a closed session."""
    for i in range(ROUNDS):
        for s, c in cs.items():
            base = f"/dg/{tag}-s{s}-{i}"
            c.create(base, f"{i}".encode() * (i % 5))
            c.create(f"{base}-seq-", b"", sequence=True)
            c.set(base, b"changed")
            if i % 3 == 0:
                c.delete(base)
            if i % 10 == 0:
                t = c.transaction()
                t.create(f"{base}-m", b"m")
                t.check(f"/dg/{tag}-s{s}-{i}-m", 0)
                t.commit()
                t = c.transaction()
                t.create(f"{base}-m2", b"")
                t.delete("/dg/absent")
                t.commit()
                with pytest.raises(NoNodeError):
                    c.delete("/dg/absent")
    owner = start_client(ens.members[1].address)
    owner.create(f"/dg/{tag}-eph", b"", ephemeral=True)
    owner.stop()  # closeSession removes it
    owner.close()


def last_zxid(ens: Ensemble, sid: int) -> str:
    m = ens.members[sid]
    return next((line for line in m.fourlw(m.host, "srvr").splitlines()
                 if line.startswith("Zxid: ")), "")


def converge(cs: dict[int, KazooClient], ens: Ensemble,
             same_history: bool = True) -> dict[int, list[str]]:
    """sync everywhere, then until every member has applied the same last zxid (and shows
    the same hash history)."""
    def same() -> dict[int, list[str]] | None:
        for c in cs.values():
            c.sync("/dg")
        if len({last_zxid(ens, s) for s in cs}) != 1:
            return None
        seen = {s: history(ens, s) for s in cs}
        agree = len({tuple(v) for v in seen.values()}) == 1
        return seen if agree or not same_history else None

    return wait_for(same, 30, "the same hash history on every member")  # type: ignore[return-value]


def corrupt_logged_data(datadir: Path, target: bytes) -> None:
    """Flip the case of `target` inside its txn log entry and redo the entry's Adler-32, so
    replay applies a create with other data than the leader logged (a silently bad disk)."""
    for log in sorted((datadir / "version-2").glob("log.*")):
        buf = bytearray(log.read_bytes())
        at = buf.find(target)
        if at < 0:
            continue
        off = 16  # FileHeader: magic, version, dbid
        while off + 12 <= len(buf):
            length = struct.unpack_from(">i", buf, off + 8)[0]
            if off + 12 <= at < off + 12 + length:
                buf[at:at + len(target)] = target.swapcase()
                struct.pack_into(">q", buf, off, zlib.adler32(buf[off + 12:off + 12 + length]))
                log.write_bytes(bytes(buf))
                return
            off += 12 + length + 1  # + the 'B' end-of-record marker
    raise AssertionError(f"{target!r} is in no txn log under {datadir}")


@pytest.mark.parametrize("arrangement", list(ARRANGEMENTS))
def test_mixed_followers_see_no_digest_mismatch_and_catch_a_corrupt_tree(
        mixed, arrangement: str) -> None:  # type: ignore[no-untyped-def]
    kinds = ARRANGEMENTS[arrangement]
    ens = mixed(kinds, subnet="127.0.17", extra={"forceSync": "no"})
    start_led_by(ens, leader=3, second=2)
    cs = clients(ens)
    try:
        cs[3].create("/dg", b"")
        cs[1].create("/dg/target", TARGET)
        write_run(cs, ens, "a")
        seen = converge(cs, ens)
        print(arrangement, "hash on every member:", seen[3])
        assert len(seen[3]) >= 2, seen  # more than 256 txns: at least two digests
        assert {s: mismatches(ens, s) for s in cs} == {1: 0, 2: 0, 3: 0}
        for s in cs:
            assert "Digests are not matching" not in ens.members[s].log_text(), s
    finally:
        close_all(cs.values())

    # The same corruption on each follower in turn (the other two keep the quorum).
    for sid in (1, 2):
        ens.members[sid].stop()
        corrupt_logged_data(ens.members[sid].datadir, TARGET)
        ens.members[sid].start()
        ens.wait_serving(60)
    cs = clients(ens)
    try:
        for c in cs.values():
            c.sync("/dg")
            c.create("/dg/after-", b"", sequence=True)
        converge(cs, ens, same_history=False)  # the corrupted trees' histories differ
        counts = {s: mismatches(ens, s) for s in cs}
        print(arrangement, "mismatches after corrupting followers 1 and 2:", counts)
        assert counts[3] == 0
        assert counts[1] > 3 and counts[2] > 3, counts
        assert cs[1].get("/dg/target")[0] == TARGET.swapcase()  # the corruption is real
        for s in (1, 2):
            if ens.kind(s) == "java":
                log = ens.members[s].log_text()
                assert "Digests are not matching" in log and "First digest mismatch" in log
    finally:
        close_all(cs.values())
