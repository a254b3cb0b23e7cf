"""SyncRequestProcessor's flush rules (pyzk.pipeline.sync_policy), the quorum timing knobs
(pyzk.zab.peer_timing) and znode.container.maxNeverUsedIntervalMs: their zoo.cfg keys, -D
properties and refusals. The server-level behaviour is compared with Java in
tests/reference/test_sync_batching_java.py, test_quorum_cnxn_timeout_java.py and tests/mixed/."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.config import ConfigError, load_config
from pyzk.config.jvmflags import jvm_entries
from pyzk.pipeline.sync_policy import SyncPolicy


def test_default_flushes_as_soon_as_nothing_waits_and_caps_the_batch() -> None:
    p = SyncPolicy()
    assert p.hold_ms(5, now_ms=10, last_flush_ms=9, last_arrival_ms=10) == 0
    assert p.take(2500) == 1000 and p.take(7) == 7


def test_first_write_after_a_quiet_spell_is_flushed_at_once() -> None:
    p = SyncPolicy(flush_delay_ms=1000, max_poll_ms=400)
    assert p.hold_ms(1, now_ms=5000, last_flush_ms=3000, last_arrival_ms=5000) == 0


def test_under_load_writes_gather_until_idle_or_delay_over() -> None:
    p = SyncPolicy(flush_delay_ms=1000, max_poll_ms=400, max_batch=10)
    # 100 ms after a flush, the newest write 50 ms old: hold until 400 ms after it
    assert p.hold_ms(3, now_ms=1100, last_flush_ms=1000, last_arrival_ms=1050) == 350
    # a write that came during the flush counts as arriving when the flush ended
    assert p.hold_ms(3, now_ms=1100, last_flush_ms=1000, last_arrival_ms=900) == 300
    # near the end of flushDelay the idle wait is cut short
    assert p.hold_ms(3, now_ms=1900, last_flush_ms=1000, last_arrival_ms=1890) == 100
    assert p.hold_ms(3, now_ms=2000, last_flush_ms=1000, last_arrival_ms=1990) == 0
    # a full batch goes now
    assert p.hold_ms(10, now_ms=1100, last_flush_ms=1000, last_arrival_ms=1100) == 0


def _load(tmp_path: Path, extra: str) -> object:
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(f"dataDir={tmp_path}\nclientPort=2181\n{extra}\n")
    return load_config(cfg)


def test_keys_from_zoo_cfg_and_jvm_flags(tmp_path: Path) -> None:
    c = _load(tmp_path, "flushDelay=300")
    assert (c.flush_delay_ms, c.max_write_queue_poll_ms, c.max_batch_size) == (300, 100, 1000)  # type: ignore[attr-defined]
    c = _load(tmp_path, "flushDelay=0x20\nmaxWriteQueuePollTime=5\nmaxBatchSize=7")
    assert (c.flush_delay_ms, c.max_write_queue_poll_ms, c.max_batch_size) == (32, 5, 7)  # type: ignore[attr-defined]
    flags = jvm_entries({"SERVER_JVMFLAGS": "-Dzookeeper.flushDelay=9 -Dzookeeper.maxBatchSize=3"
                                            " -Dznode.container.maxNeverUsedIntervalMs=5"
                                            " -Dzookeeper.observer.election.DelayMs=0"})
    assert set(flags) == {"flushDelay", "maxBatchSize", "znode.container.maxNeverUsedIntervalMs",
                          "observer.election.DelayMs"}


@pytest.mark.parametrize("line, key", [
    ("flushDelay=-1", "flushDelay"), ("flushDelay=soon", "flushDelay"),
    ("maxWriteQueuePollTime=-5", "maxWriteQueuePollTime"), ("maxBatchSize=0", "maxBatchSize"),
    ("znode.container.maxNeverUsedIntervalMs=-1", "znode.container.maxNeverUsedIntervalMs"),
    ("znode.container.maxNeverUsedIntervalMs=1h", "znode.container.maxNeverUsedIntervalMs"),
])
def test_bad_values_are_refused_naming_file_line_and_key(tmp_path: Path, line: str,
                                                         key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, line)
    assert (info.value.source, info.value.line, info.value.key) == (
        str(tmp_path / "zoo.cfg"), 3, key)


def test_quorum_timing_keys(tmp_path: Path) -> None:
    import random

    from pyzk.zab.peer_timing import observer_delay_ms, quorum_cnxn_timeout_ms

    c = _load(tmp_path, "tickTime=200\nsyncLimit=5")
    assert quorum_cnxn_timeout_ms(c) == 1000  # tickTime * syncLimit
    assert (c.observer_reconnect_delay_ms, c.observer_election_delay_ms) == (0, 200)  # type: ignore[attr-defined]
    c = _load(tmp_path, "quorumCnxnTimeoutMs=1500\nobserver.reconnectDelayMs=0x10")
    assert quorum_cnxn_timeout_ms(c) == 1500 and c.observer_reconnect_delay_ms == 16  # type: ignore[attr-defined]
    rng = random.Random(7)
    assert observer_delay_ms(0, rng) == 0
    assert all(0 <= observer_delay_ms(5, rng) < 5 for _ in range(200))


@pytest.mark.parametrize("line, key", [
    ("quorumCnxnTimeoutMs=-2", "quorumCnxnTimeoutMs"),
    ("quorumCnxnTimeoutMs=1s", "quorumCnxnTimeoutMs"),
    ("observer.reconnectDelayMs=-1", "observer.reconnectDelayMs"),
    ("observer.election.DelayMs=fast", "observer.election.DelayMs"),
])
def test_bad_quorum_timing_values_are_refused(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, line)
    assert (info.value.line, info.value.key) == (3, key)
