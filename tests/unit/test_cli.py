"""The pyzk command: config errors are one line on stderr with exit status 2 and never a
traceback; a good config reaches pyzk.server.runtime.run."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

import pyzk.server
from pyzk import cli
from pyzk.config import Config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """cli.main configures process-wide logging; undo it for the tests that follow."""
    yield
    root = logging.getLogger()
    for h in [h for h in root.handlers if h.get_name() == "pyzk"]:
        root.removeHandler(h)
    structlog.reset_defaults()


def run_pyzk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("ZOO_", "ZOOKEEPER_", "PYZK_"))}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "pyzk", *args], capture_output=True, text=True,
                          timeout=60, env=full_env, cwd=REPO)


def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text(f"dataDir={tmp_path}\nclientPort=2181\n\n# typo below\ntickTme=2000\n")
    proc = run_pyzk("--config", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"pyzk: error: {bad}:5: unknown key 'tickTme' (did you mean 'tickTime'?)"]


def test_bare_positional_config_path_like_quorum_peer_main(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text("clientPort=2181\n")
    proc = run_pyzk(str(bad))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"pyzk: error: {bad}: dataDir is not set"


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    proc = run_pyzk("--config", str(tmp_path / "none.cfg"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "file is missing" in proc.stderr


def test_json_log_format_reports_the_error_as_one_json_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text(f"dataDir={tmp_path}\nclientPort=abc\n")
    proc = run_pyzk("--log-format", "json", "--config", str(bad))
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    record = json.loads(line)
    assert record["event"] == "config_error" and record["level"] == "error"
    assert (record["source"], record["line"], record["key"]) == (str(bad), 2, "clientPort")


def test_bad_environment_value_exits_2(tmp_path: Path) -> None:
    good = tmp_path / "zoo.cfg"
    good.write_text(f"dataDir={tmp_path}\nclientPort=2181\n")
    proc = run_pyzk("check", str(good), env={"ZOO_TICK_TIME": "x"})
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("pyzk: error: env ZOO_TICK_TIME:")


def test_check_prints_effective_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "zoo.cfg"
    good.write_text(f"dataDir={tmp_path}\nclientPort=2199\n")
    assert cli.main(["check", "--no-env", str(good)]) == 0
    out = capsys.readouterr().out
    assert "mode=standalone" in out and "client_port=2199" in out


def test_keys_lists_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "--status", "refused"]) == 0
    out = capsys.readouterr().out
    assert "ssl.crl" in out and "tickTime " not in out


def test_serve_hands_the_config_to_the_runtime(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Config] = []
    fake = types.ModuleType("pyzk.server.runtime")

    def run(config: Config) -> int:
        seen.append(config)
        return 0

    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyzk.server.runtime", fake)
    monkeypatch.setattr(pyzk.server, "runtime", fake, raising=False)
    monkeypatch.setenv("PYZK_NO_UVLOOP", "1")
    good = tmp_path / "zoo.cfg"
    good.write_text(f"dataDir={tmp_path}\nclientPort=2199\npyzk.log.format=json\n")
    assert cli.main(["--no-env", "--config", str(good), "--myid", "7"]) == 0
    (config,) = seen
    assert config.client_port == 2199 and config.my_id == 7 and config.source == good


def test_server_config_style_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Config] = []
    fake = types.ModuleType("pyzk.server.runtime")
    fake.run = lambda config: seen.append(config)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyzk.server.runtime", fake)
    monkeypatch.setattr(pyzk.server, "runtime", fake, raising=False)
    monkeypatch.setenv("PYZK_NO_UVLOOP", "1")
    assert cli.main(["serve", "2200", str(tmp_path), "1000", "5"]) == 0
    (config,) = seen
    assert (config.client_port, config.data_dir, config.tick_time_ms,
            config.max_client_cnxns) == (2200, tmp_path, 1000, 5)


def test_unknown_command_is_named_not_taken_for_a_config_file() -> None:
    proc = run_pyzk("chek")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "pyzk: error: unknown command 'chek' (did you mean 'check'?); commands: serve, check,"
        " keys, tools, backup, shell, ctl (a config file: pyzk --config FILE)"]
    # a name that looks like a file is still a (missing) config file
    assert "file is missing" in run_pyzk("zoo.cfg").stderr


def test_tools_subcommand_runs_the_offline_tools(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tools", "check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"pyzk tools check: error: {tmp_path} is not a ZooKeeper data "
                           "directory: it has no version-2 directory")
    (tmp_path / "version-2").mkdir()
    assert cli.main(["tools", "check", str(tmp_path)]) == 0
    assert "recovery: ok" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["dump-log", "/nonexistent"], ["dump-snapshot", "/nonexistent"],
                                  ["check", "/nonexistent"], ["dump-log", "/"]])
def test_tools_report_unreadable_paths_in_one_line(args: list[str]) -> None:
    proc = run_pyzk("tools", *args)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"pyzk tools {args[0]}: error: ")


def test_output_into_a_closed_pipe_is_quiet() -> None:
    """`pyzk keys | head -1`: no BrokenPipeError traceback."""
    proc = subprocess.run(f"{sys.executable} -m pyzk keys | head -1", shell=True,
                          capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.startswith("clientPort")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_startup_failures_are_one_line_naming_the_cause(tmp_path: Path) -> None:
    """A second server on a dataDir in use, a port in use, an unusable dataDir: one line each
    (no "starting"/"stopped" around it), exit status 1."""
    port = _free_port()
    cfg = tmp_path / "a.cfg"
    cfg.write_text(f"dataDir={tmp_path / 'data'}\nclientPort={port}\n"
                   "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "ZOOKEEPER_", "PYZK_"))}
    env["PYTHONPATH"] = str(REPO)
    first = subprocess.Popen([sys.executable, "-m", "pyzk", "--config", str(cfg),
                              "--log-format", "json"], stderr=subprocess.PIPE, text=True,
                             env=env, cwd=REPO)
    try:
        assert first.stderr is not None
        for line in first.stderr:
            if '"serving"' in line:
                break
        other_port = tmp_path / "b.cfg"
        other_port.write_text(f"dataDir={tmp_path / 'data'}\nclientPort={_free_port()}\n"
                              "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n")
        other_dir = tmp_path / "c.cfg"
        other_dir.write_text(f"dataDir={tmp_path / 'data2'}\nclientPort={port}\n"
                             "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n")
        bad_dir = tmp_path / "d.cfg"
        (tmp_path / "file").write_text("")
        bad_dir.write_text(f"dataDir={tmp_path / 'file' / 'data'}\nclientPort={port}\n"
                           "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n")
        expect = {
            other_port: f"cannot use the data directory: {tmp_path / 'data'} is in use by another"
                        f" pyzk server (pid {first.pid} holds",
            other_dir: f"cannot listen on the client port 127.0.0.1:{port}: Address already in use",
            bad_dir: f"cannot use the data directory: cannot create {tmp_path / 'file' / 'data'}",
        }
        for path, message in expect.items():
            proc = run_pyzk("--config", str(path), "--log-format", "json")
            assert proc.returncode == 1
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1, proc.stderr
            record = json.loads(lines[0])
            assert record["event"] == "startup failed"
            assert record["error"].startswith(message), record["error"]
    finally:
        first.terminate()
        first.wait(30)
