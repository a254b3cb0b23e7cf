"""`pyzk shell` against running servers: the one-shot mode's output and exit codes, the same
scripted session printing exactly what Apache's zkCli.sh prints (against a Java server), and the
interactive mode driven through a pseudo-terminal (prompt, every command, watches, completion,
history file).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.servers import REPO, ServerProc, java_available

HOST = "127.0.0.151"  # this suite's loopback address
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
_n = itertools.count()


def start(kind: str, base: Path) -> ServerProc:
    if kind == "java" and not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    return ServerProc(kind, base / f"{kind}-{next(_n)}", host=HOST).start()


@pytest.fixture(scope="module")
def pyzk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    srv = start("pyzk", tmp_path_factory.mktemp("shell"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def java_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    srv = start("java", tmp_path_factory.mktemp("shell"))
    yield srv
    srv.stop()


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), TZ="UTC")


def shell(srv: ServerProc, *cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyzk", "shell", "-server", srv.address, *cmd],
                          input=stdin, capture_output=True, text=True, timeout=60, env=env())


CONNECTED = "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n"


def test_one_shot_prints_results_and_exits_zero(pyzk_server: ServerProc) -> None:
    res = shell(pyzk_server, "create", "/oneshot", "hello")
    assert (res.returncode, res.stderr) == (0, "Created /oneshot\n")
    assert res.stdout == f"Connecting to {pyzk_server.address}\n{CONNECTED}"
    res = shell(pyzk_server, "get", "/oneshot")
    assert res.returncode == 0 and res.stdout.endswith(CONNECTED + "hello\n")
    res = shell(pyzk_server, "stat", "/oneshot")
    fields = [line.split(" = ")[0] for line in res.stdout.splitlines() if " = " in line]
    assert fields == ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion",
                      "aclVersion", "ephemeralOwner", "dataLength", "numChildren"]
    assert re.search(r"^cZxid = 0x[0-9a-f]+$", res.stdout, re.M)
    assert re.search(r"^ctime = \w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}$", res.stdout, re.M)
    res = shell(pyzk_server, "ls", "/")
    assert res.stdout.splitlines()[-1].startswith("[") and "oneshot" in res.stdout


def test_one_shot_failures_exit_non_zero_as_zkcli(pyzk_server: ServerProc) -> None:
    res = shell(pyzk_server, "get", "/no/such/node")
    assert (res.returncode, res.stderr) == (1, "Node does not exist: /no/such/node\n")
    res = shell(pyzk_server, "ls")
    assert (res.returncode, res.stderr) == (1, "ls [-s] [-w] [-R] path\n")
    res = shell(pyzk_server, "create", "-c", "-e", "/x")
    assert res.returncode == 1 and "Containers cannot be ephemeral" in res.stderr
    res = shell(pyzk_server, "nosuchcmd")
    assert res.returncode == 127
    assert res.stderr.endswith("Command not found: Command not found nosuchcmd\n")
    res = shell(pyzk_server, "create", "relative")
    assert (res.returncode, res.stderr) == (1, "Path must start with / character\n")


# One session exercising every command whose output scripts parse; run through zkCli.sh and
# pyzk shell against the same Java server (each under its own root) and compared line by line.
SESSION = """create {r} hello
create -e {r}/e1 x
create -s {r}/s- y
create -c {r}c
get -s {r}
ls {r}
ls -s {r}
ls -R {r}
get {r}/nonexist
set -v 99 {r} x
set -s {r} again
getAcl -s {r}
setAcl {r} world:anyone:cdrwa
getAcl {r}
getEphemerals {r}
getAllChildrenNumber {r}
sync {r}
get -w {r}
set {r} changed
ls -w {r}
create {r}/new
stat -w {r}/new
delete {r}/new
addWatch {r}
create {r}/p
removewatches {r}
removewatches {r}
delete {r}
delete -v 7 {r}/p
deleteall {r}
stat {r}
ls -x /
history
redo 0
whoami
badcmd
quit
"""


def normalise(text: str, root: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("SLF4J", "\t")) or " INFO " in line:
            continue
        line = line.replace(root, "{r}")
        line = re.sub(r"(Zxid|ephemeralOwner) = 0x[0-9a-f]+", r"\1 = X", line)
        line = re.sub(r"time = .*", "time = T", line)
        line = re.sub(r"^Connecting to .*", "Connecting to S", line)
        line = re.sub(r"^ip: .*", "ip: I", line)
        out.append(line)
    return out


@pytest.mark.java
@pytest.mark.skipif(not Path(ZKCLI).exists(), reason=f"{ZKCLI} missing")
def test_session_output_matches_zkcli(java_server: ServerProc) -> None:
    def run(cmd: list[str], root: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, input=SESSION.format(r=root), capture_output=True,
                              text=True, timeout=120, env=env())

    java = run([ZKCLI, "-server", java_server.address], "/javacli")
    ours = run([sys.executable, "-m", "pyzk", "shell", "-server", java_server.address],
               "/pyzkcli")
    # stdout and stderr interleave differently (two pipes); compare each stream on its own.
    assert normalise(ours.stdout, "/pyzkcli") == normalise(java.stdout, "/javacli")
    java_err = [ln for ln in normalise(java.stderr, "/javacli") if not ln.startswith("at ")]
    assert normalise(ours.stderr, "/pyzkcli") == java_err
    assert ours.returncode == java.returncode


# zkCli's quota commands, every message and both outcomes of each check.
QUOTA_SESSION = """create {r}
create {r}/a x
create {r}/a/b yy
create {r}/c
create {r}/c/d
setquota {r}/a
setquota -n 1 -b 2 {r}/a
setquota -n
setquota -n 1
setquota -x 1 {r}/a
setquota -n abc {r}/a
setquota -N 0 {r}/a
setquota -B -5 {r}/a
setquota -n 1 /zookeeper/quota/x
setquota -n 1 {r}/nope
setquota -n 1 rel
setquota -n 3 {r}/a
listquota {r}/a
setquota -N 4 {r}/a
setquota -B 1 {r}/a
listquota {r}/a
setquota -n 1 {r}/a/b
setquota -b 1 {r}/c/d
setquota -b 1 {r}/c
setquota -n 1 {r}
listquota {r}/c
listquota
listquota -x {r}/a
listquota {r}/zz
listquota {r}//zz
delquota -n -b {r}/a
delquota
delquota {r}/zz
delquota -B {r}/a
listquota {r}/a
delquota {r}/a
listquota {r}/a
delquota {r}/c/d
ls /zookeeper/quota{r}
delquota {r}/c
ls /zookeeper/quota
"""


@pytest.mark.java
@pytest.mark.skipif(not Path(ZKCLI).exists(), reason=f"{ZKCLI} missing")
def test_quota_commands_match_zkcli(java_server: ServerProc) -> None:
    def run(cmd: list[str], root: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, input=QUOTA_SESSION.format(r=root), capture_output=True,
                              text=True, timeout=120, env=env())

    java = run([ZKCLI, "-server", java_server.address], "/javaquota")
    ours = run([sys.executable, "-m", "pyzk", "shell", "-server", java_server.address],
               "/pyzkquota")
    assert normalise(ours.stdout, "/pyzkquota") == normalise(java.stdout, "/javaquota")
    assert normalise(ours.stderr, "/pyzkquota") == normalise(java.stderr, "/javaquota")
    assert "Output quota for {r}/a count=3,bytes=-1=;byteHardLimit=1;countHardLimit=4" in \
        normalise(java.stdout, "/javaquota")
    assert ours.returncode == java.returncode


@pytest.fixture
def pty_shell(pyzk_server: ServerProc, tmp_path: Path) -> Iterator[pexpect.spawn]:
    e = env()
    e["PYZK_SHELL_HISTORY"] = str(tmp_path / "history")
    child = pexpect.spawn(sys.executable, ["-m", "pyzk", "shell", "-server", pyzk_server.address],
                          env=e, encoding="utf-8", timeout=20, dimensions=(50, 250))
    yield child
    if child.isalive():
        child.terminate(force=True)


def prompt(srv: ServerProc, n: int) -> str:
    return re.escape(f"[zk: {srv.address}(CONNECTED) {n}] ")


def run_cmd(child: pexpect.spawn, srv: ServerProc, n: int, line: str) -> str:
    """Send one command at prompt n; the text printed before prompt n+1."""
    child.sendline(line)
    child.expect(prompt(srv, n + 1))
    out = str(child.before).replace("\r\n", "\n")
    assert out.startswith(line + "\n"), out  # the terminal echo
    return out[len(line) + 1:]


def test_interactive_session_through_a_pty(pyzk_server: ServerProc, pty_shell: pexpect.spawn,
                                           tmp_path: Path) -> None:
    child, srv = pty_shell, pyzk_server
    child.expect("Welcome to ZooKeeper!")
    child.expect("JLine support is enabled")
    child.expect("WatchedEvent state:SyncConnected type:None path:null")
    child.expect(prompt(srv, 0))
    steps = [
        ("create /pty data1", "Created /pty\n"),
        ("create /pty/child", "Created /pty/child\n"),
        ("get /pty", "data1\n"),
        ("ls /pty", "[child]\n"),
        ("set /pty data2", ""),
        ("getAcl /pty", "'world,'anyone\n: cdrwa\n"),
        ("getAllChildrenNumber /pty", "1\n"),
        ("sync /pty", "Sync is OK\n"),
        ("addauth digest user:pw", ""),
        ("get /missing", "Node does not exist: /missing\n"),
    ]
    n = 0
    for line, expected in steps:
        assert run_cmd(child, srv, n, line) == expected, line
        n += 1
    out = run_cmd(child, srv, n, "whoami")
    n += 1
    assert out.startswith("Auth scheme: User\n") and "digest: user\n" in out
    out = run_cmd(child, srv, n, "stat /pty")
    n += 1
    assert "dataVersion = 1\n" in out and "numChildren = 1\n" in out
    # A data watch fires when another client changes the node.
    assert run_cmd(child, srv, n, "get -w /pty") == "data2\n"
    n += 1
    assert shell(srv, "set", "/pty", "data3").returncode == 0
    child.expect(re.escape("WATCHER::"))
    child.expect(re.escape("WatchedEvent state:SyncConnected type:NodeDataChanged path:/pty"))
    # Tab completion of a command name and of a znode path.
    child.send("getAllCh\t")
    child.expect("getAllChildrenNumber")
    child.send(" /pt\t")
    child.expect("/pty")
    child.sendline("")
    child.expect(prompt(srv, n + 1))
    n += 1
    out = run_cmd(child, srv, n, "history")
    # zkCli's history: the last ten commands and this one, "N - line".
    lines = out.splitlines()
    assert lines[0].startswith(f"{n - 10} - ") and lines[-1] == f"{n} - history"
    assert len(lines) == 11
    n += 1
    assert run_cmd(child, srv, n, "deleteall /pty") == ""
    n += 1
    child.sendline("quit")
    child.expect(re.escape("WatchedEvent state:Closed type:None path:null"))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "history").read_text()
    assert "create /pty data1" in history and "deleteall /pty" in history


def test_piped_session_has_no_prompt_and_reports_last_status(pyzk_server: ServerProc) -> None:
    res = shell(pyzk_server, stdin="create /piped v\nget /piped\ndelete /piped\nquit\n")
    assert res.returncode == 0
    assert res.stdout.splitlines()[1:3] == ["Welcome to ZooKeeper!", "JLine support is disabled"]
    assert "v\n" in res.stdout and "[zk:" not in res.stdout


def test_connect_string_with_a_dead_server_falls_back(pyzk_server: ServerProc) -> None:
    from tests.servers import free_port

    dead = f"{HOST}:{free_port(HOST)}"
    res = subprocess.run([sys.executable, "-m", "pyzk", "shell", "-server",
                          f"{dead},{pyzk_server.address}", "ls", "/zookeeper"],
                         capture_output=True, text=True, timeout=60, env=env())
    assert res.returncode == 0 and "config" in res.stdout


def test_shell_binary_is_on_path() -> None:
    pyzk = shutil.which("pyzk", path=str(Path(sys.executable).parent))
    if pyzk is None:
        pytest.skip("pyzk console script not installed in this environment")
    res = subprocess.run([pyzk, "--help"], capture_output=True, text=True, timeout=30)
    assert "shell" in res.stdout and "ctl" in res.stdout


def test_dead_server_and_usage_errors_fail_fast_without_waiting_for_a_session() -> None:
    """zkCli reports ConnectionLoss for a dead server within a second and usage errors
    without connecting; pyzk shell did nothing for 40 s first."""
    import time

    env = dict(os.environ, PYTHONPATH=str(REPO))
    for args, code, text in ((["ls", "/"], 1, "ConnectionLoss"),
                             (["lss", "/"], 127, "Command not found"),
                             (["get"], 1, "get [-s] [-w] path")):
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pyzk", "shell", "-server",
                               "127.0.0.1:1", *args], capture_output=True, text=True,
                              timeout=60, env=env)
        assert time.monotonic() - t0 < 5, args
        assert proc.returncode == code and text in proc.stderr, (args, proc.stderr)
