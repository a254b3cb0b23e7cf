"""The real Java client (Debian's ZooKeeper 3.8 jar) runs Kafka's ZooKeeper flows and zkCli.sh
one-shot commands against each server kind, and sees what it sees against Java ZooKeeper.

tests/java/KafkaFlows.java is compiled at test time (cached by source hash in tests/.work/java).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.servers import JAVA_CLASSPATH, ServerProc, compile_java

TESTS = Path(__file__).resolve().parent.parent
SOURCE = TESTS / "java" / "KafkaFlows.java"
RUN_CP = JAVA_CLASSPATH + ":/usr/share/java/slf4j-api.jar"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"

KAFKA_STEPS = [
    "connect", "layout", "broker_register", "null_data_roundtrip", "broker_child_watch",
    "controller_election", "controller_lost_race", "topic_create", "isr_update",
    "config_change_sequential", "children2_async", "broker_session_close_watch",
    "create2_stat", "create_container", "exists_watch", "digest_acl", "sync", "stat_printout",
    "session_close",
]


def compiled_classes() -> Path:
    """Directory holding KafkaFlows*.class for the current source, compiling once per hash."""
    return compile_java(SOURCE, "KafkaFlows", "")


def test_kafka_flows_through_java_client_behave_as_on_java_zookeeper(
        ref_server: ServerProc) -> None:
    classes = compiled_classes()
    proc = subprocess.run(
        ["java", "-cp", f"{RUN_CP}:{classes}", "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
         "KafkaFlows", ref_server.address],
        capture_output=True, text=True, timeout=180)
    report = f"stdout:\n{proc.stdout}\nstderr (tail):\n{proc.stderr[-4000:]}\n" \
             f"server log:\n{ref_server.tail_log()}"
    assert proc.returncode == 0, report
    ok_steps = [m.group(1) for m in re.finditer(r"^STEP (\S+) OK", proc.stdout, re.M)]
    assert ok_steps == KAFKA_STEPS, report
    assert proc.stdout.rstrip().endswith("ALL OK"), report


STAT_LINES = [r"cZxid = 0x[0-9a-f]+", r"ctime = .+", r"mZxid = 0x[0-9a-f]+", r"mtime = .+",
              r"pZxid = 0x[0-9a-f]+", r"cversion = \d+", r"dataVersion = \d+",
              r"aclVersion = \d+", r"ephemeralOwner = 0x[0-9a-f]+", r"dataLength = \d+",
              r"numChildren = \d+"]


def zkcli(server: ServerProc, *cmd: str) -> tuple[int, list[str]]:
    """Run one zkCli.sh command; return its exit code and its result lines (banner dropped)."""
    proc = subprocess.run([ZKCLI, "-server", server.address, *cmd], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    # zkCli's watcher thread prints "\nWATCHER::" and "\n" + the connect event (each one
    # println) while the main thread may already print the command's result, even inside one
    # of its lines (CI saw the result before them, and "[" + them + "e, s0000000000]"): each is
    # cut out of the text wherever it fell, then the "Connecting to" line is dropped.
    out = proc.stdout
    for printed in ("\nWATCHER::\n", "\nWatchedEvent state:SyncConnected type:None path:null\n"):
        assert printed in out, f"zkCli did not connect:\n{proc.stdout}\n{proc.stderr}"
        out = out.replace(printed, "", 1)
    lines = out.splitlines()
    assert lines and lines[0].startswith("Connecting to "), lines
    lines = lines[1:]
    lines += [ln for ln in proc.stderr.splitlines() if not ln.startswith("SLF4J:")]
    return proc.returncode, lines


def assert_stat(lines: list[str], **fields: str) -> None:
    assert len(lines) == len(STAT_LINES), lines
    for pattern, line in zip(STAT_LINES, lines, strict=True):
        assert re.fullmatch(pattern, line), (pattern, line)
    got = dict(line.split(" = ", 1) for line in lines)
    for key, value in fields.items():
        assert got[key] == value, (key, got)


@pytest.mark.skipif(not Path(ZKCLI).exists(), reason="zkCli.sh not installed")
def test_zkcli_one_shot_commands_print_what_java_zookeeper_gives(ref_server: ServerProc) -> None:
    assert zkcli(ref_server, "create", "/a", "hello") == (0, ["Created /a"])
    assert zkcli(ref_server, "create", "-s", "/a/s", "") == (0, ["Created /a/s0000000000"])
    assert zkcli(ref_server, "create", "-e", "/a/e", "x") == (0, ["Created /a/e"])
    assert zkcli(ref_server, "create", "/a", "again") == (1, ["Node already exists: /a"])

    rc, lines = zkcli(ref_server, "get", "-s", "/a")
    assert rc == 0 and lines[0] == "hello", lines
    # zkCli exits without closing its session, so the ephemeral /a/e lives on until expiry.
    assert_stat(lines[1:], dataVersion="0", dataLength="5", numChildren="2", cversion="2",
                ephemeralOwner="0x0", aclVersion="0")

    assert zkcli(ref_server, "ls", "/a") == (0, ["[e, s0000000000]"])
    rc, lines = zkcli(ref_server, "ls", "-s", "/")
    assert rc == 0 and lines[0] == "[a, zookeeper]", lines
    assert_stat(lines[1:], numChildren="2", cZxid="0x0", ctime="Thu Jan 01 00:00:00 UTC 1970")

    assert zkcli(ref_server, "set", "/a", "v2") == (0, [])
    rc, lines = zkcli(ref_server, "stat", "/a")
    assert rc == 0
    assert_stat(lines, dataVersion="1", dataLength="2", numChildren="2")

    assert zkcli(ref_server, "get", "/nope") == (1, ["Node does not exist: /nope"])
    assert zkcli(ref_server, "delete", "/a") == (1, ["Node not empty: /a"])
    assert zkcli(ref_server, "delete", "/a/s0000000000") == (0, [])
    assert zkcli(ref_server, "delete", "/a/e") == (0, [])
    assert zkcli(ref_server, "delete", "/a") == (0, [])
    assert zkcli(ref_server, "ls", "/") == (0, ["[zookeeper]"])
