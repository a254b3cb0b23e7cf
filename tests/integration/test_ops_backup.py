"""Operations: `pyzk backup` takes a consistent copy of a running server's data while clients
keep writing, and a second server started on the copy serves every write acknowledged before the
backup began."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.servers import REPO, ServerProc, java_available

HOST = "127.0.0.91"


def run_backup(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pyzk", "backup", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=REPO)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[ServerProc]:
    # A small snapCount so snapshots and log rolls happen while the test writes.
    proc = ServerProc("pyzk", tmp_path / "src", host=HOST, cfg={"snapCount": "100"})
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


def connect(proc: ServerProc) -> KazooClient:
    zk = KazooClient(hosts=proc.address, timeout=10)
    zk.start(timeout=15)
    return zk


def test_backup_while_writing_restores_every_acknowledged_write(
        source: ServerProc, tmp_path: Path) -> None:
    zk = connect(source)
    try:
        zk.ensure_path("/bk")
        acked = [f"/bk/n{i:04d}" for i in range(300)]
        for p in acked:
            zk.create(p, p.encode())
        stop = threading.Event()
        extra: list[str] = []

        def writer() -> None:
            i = 0
            while not stop.is_set():
                path = zk.create(f"/bk/late{i:05d}", b"late")
                extra.append(path)
                i += 1

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            dest = tmp_path / "backup"
            res = run_backup("--server", source.address, "--to", str(dest))
        finally:
            stop.set()
            t.join(30)
        assert res.returncode == 0, res.stderr
        assert "recovers to zxid" in res.stdout
        assert extra, "the writer made no progress during the backup"
    finally:
        zk.stop()
        zk.close()

    manifest = json.loads((dest / "pyzk-backup.json").read_text())
    assert manifest["snapshot"].startswith("snapshot.")
    assert (dest / "version-2" / manifest["snapshot"]).exists()
    # Logs are copied up to their last whole entry, not with 64 MB of preallocated zeros each.
    sizes = {p.name: p.stat().st_size for p in (dest / "version-2").iterdir()}
    assert sum(sizes.values()) < 2 << 20, sizes
    assert sizes == {f["name"]: f["bytes"] for f in manifest["files"]}
    if java_available():  # Java reads the trimmed logs too
        java_copy = tmp_path / "java-restored-data"
        shutil.copytree(dest, java_copy)
        restored_java = ServerProc("java", tmp_path / "java-restored", host=HOST,
                                   cfg={"dataDir": str(java_copy)})
        try:
            restored_java.start()
            zk3 = connect(restored_java)
            try:
                assert {p.rsplit("/", 1)[1] for p in acked} <= set(zk3.get_children("/bk"))
            finally:
                zk3.stop()
                zk3.close()
        finally:
            restored_java.stop()
    restored = ServerProc("pyzk", tmp_path / "restored", host=HOST,
                          cfg={"dataDir": str(dest)})
    try:
        restored.start()
        zk2 = connect(restored)
        try:
            children = set(zk2.get_children("/bk"))
            assert {p.rsplit("/", 1)[1] for p in acked} <= children
            for p in acked[::37]:
                assert zk2.get(p)[0] == p.encode()
            # Late writes form a prefix: recovery never skips a txn.
            late = sorted(c for c in children if c.startswith("late"))
            assert late == [f"late{i:05d}" for i in range(len(late))]
        finally:
            zk2.stop()
            zk2.close()
    finally:
        restored.stop()


def test_backup_from_data_dir_refuses_a_non_empty_destination(
        source: ServerProc, tmp_path: Path) -> None:
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "something").write_text("x")
    res = run_backup("--data-dir", str(source.datadir), "--to", str(dest))
    assert res.returncode == 1 and "is not empty" in res.stderr
    ok = run_backup("--data-dir", str(source.datadir), "--to", str(tmp_path / "fresh"))
    assert ok.returncode == 0, ok.stderr


def test_backup_by_server_explains_a_refused_conf_word(tmp_path: Path) -> None:
    proc = ServerProc("pyzk", tmp_path / "wl", host=HOST,
                      cfg={"4lw.commands.whitelist": "srvr"})
    try:
        proc.start()
        res = run_backup("--server", proc.address, "--to", str(tmp_path / "out"))
    finally:
        proc.stop()
    assert res.returncode == 1
    assert "4lw.commands.whitelist" in res.stderr and "--data-dir" in res.stderr
