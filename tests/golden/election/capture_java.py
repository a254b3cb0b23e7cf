"""Record the bytes Java ZooKeeper 3.8 sends on the election port, for the golden tests.

Starts a 3-node Java ensemble on 127.0.0.101-103 (ports 2181/2888/3888) whose config also
lists sid 4 at 127.0.0.104:3888 (as a participant, so the Java servers dial it), and plays sid 4:
records each Java server's initial message when it dials us, then dials each of them as sid 4,
records the LOOKING notifications they push, and once the ensemble is up sends a LOOKING vote
and records the FOLLOWING/LEADING replies. Run: .venv/bin/python -m tests.golden.election.capture_java

JavaEnsemble is also used by tests/reference/test_election_java.py.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import time
from pathlib import Path

from tests.servers import JAVA_CLASSPATH

HERE = Path(__file__).resolve().parent

HOSTS = {1: "127.0.0.101", 2: "127.0.0.102", 3: "127.0.0.103"}
EXTRA_HOST = "127.0.0.104"


class JavaEnsemble:
    """Three QuorumPeerMain processes; `extra` adds `server.4=...` lines (participant/observer)."""

    def __init__(self, workdir: Path, extra_type: str | None = "participant",
                 ports: tuple[int, int, int] = (2181, 2888, 3888)) -> None:
        self.workdir = workdir
        self.client_port, self.quorum_port, self.election_port = ports
        self.extra_type = extra_type
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def server_lines(self) -> list[str]:
        lines = [f"server.{sid}={h}:{self.quorum_port}:{self.election_port}"
                 for sid, h in HOSTS.items()]
        if self.extra_type:
            lines.append(f"server.4={EXTRA_HOST}:{self.quorum_port}:{self.election_port}"
                         f":{self.extra_type}")
        return lines

    def start(self) -> None:
        for sid, host in HOSTS.items():
            d = self.workdir / f"java{sid}"
            (d / "data").mkdir(parents=True, exist_ok=True)
            (d / "data" / "myid").write_text(f"{sid}\n")
            cfg = ["tickTime=2000", "initLimit=5", "syncLimit=2", f"dataDir={d / 'data'}",
                   f"clientPort={self.client_port}", f"clientPortAddress={host}",
                   "4lw.commands.whitelist=*", "admin.enableServer=false",
                   *self.server_lines()]
            (d / "zoo.cfg").write_text("\n".join(cfg) + "\n")
            log = open(d / "java.log", "ab")  # noqa: SIM115 - handed to the child
            self.procs[sid] = subprocess.Popen(
                ["java", "-Xmx256m", "-cp", JAVA_CLASSPATH, "-Dzookeeper.admin.enableServer=false",
                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(d / "zoo.cfg")],
                stdout=log, stderr=subprocess.STDOUT, cwd=d, start_new_session=True)
            log.close()

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(15)

    def fourlw(self, sid: int, cmd: str) -> str:
        try:
            with socket.create_connection((HOSTS[sid], self.client_port), timeout=2) as s:
                s.sendall(cmd.encode())
                out = b""
                while chunk := s.recv(4096):
                    out += chunk
                return out.decode(errors="replace")
        except OSError:
            return ""

    def modes(self) -> dict[int, str]:
        out = {}
        for sid in HOSTS:
            for line in self.fourlw(sid, "srvr").splitlines():
                if line.startswith("Mode:"):
                    out[sid] = line.split(":", 1)[1].strip()
        return out

    def wait_elected(self, timeout: float = 60.0) -> dict[int, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.modes()
            if len(m) == 3 and sorted(m.values()) == ["follower", "follower", "leader"]:
                return m
            time.sleep(0.2)
        raise TimeoutError(f"no leader: {self.modes()}")

    def zxid(self, sid: int) -> int:
        for line in self.fourlw(sid, "srvr").splitlines():
            if line.startswith("Zxid:"):
                return int(line.split(":", 1)[1].strip(), 16)
        raise ValueError("no zxid")


def read_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def read_frame(s: socket.socket) -> bytes:
    (n,) = struct.unpack(">i", read_exact(s, 4))
    return read_exact(s, n)


def main() -> None:
    from pyzk.zab.packets_election import InitialMessage, Notification

    work = Path("/tmp/pyzk-election-capture")
    subprocess.run(["rm", "-rf", str(work)], check=True)
    ens = JavaEnsemble(work)
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((EXTRA_HOST, ens.election_port))
    lst.listen(8)
    lst.settimeout(60)
    ens.start()
    meta: dict[str, object] = {"config_lines": ens.server_lines()}
    try:
        initial: dict[int, bytes] = {}
        while len(initial) < 3:
            c, _ = lst.accept()
            c.settimeout(10)
            head = read_exact(c, 20)
            _, sid, n = struct.unpack(">qqi", head)
            initial[sid] = head + read_exact(c, n)
            c.close()
        for sid, b in initial.items():
            (HERE / f"initial_from_sid{sid}.bin").write_bytes(b)
        # Dial each as sid 4 and collect what they push while looking.
        conns = {}
        for sid, host in HOSTS.items():
            s = socket.create_connection((host, ens.election_port), timeout=10)
            s.sendall(InitialMessage(4, f"{EXTRA_HOST}:{ens.election_port}").encode())
            conns[sid] = s
        looking: dict[int, bytes] = {}
        for sid, s in conns.items():
            looking[sid] = read_frame(s)
            (HERE / f"looking_from_sid{sid}.bin").write_bytes(looking[sid])
        modes = ens.wait_elected()
        meta["modes"] = {str(k): v for k, v in modes.items()}
        time.sleep(1.0)   # let the leader's updateElectionVote happen everywhere
        # Drain anything queued, then ask with a LOOKING vote of round 1.
        ask = Notification(0, 4, 0, 1, 0, 2, "\n".join(ens.server_lines()).encode()).encode()
        for sid, s in conns.items():
            s.settimeout(0.5)
            try:
                while True:
                    read_frame(s)
            except TimeoutError:
                pass
            s.settimeout(10)
            s.sendall(struct.pack(">i", len(ask)) + ask)
            reply = read_frame(s)
            name = "leading" if modes[sid] == "leader" else "following"
            (HERE / f"{name}_from_sid{sid}.bin").write_bytes(reply)
            meta[f"reply_sid{sid}"] = name
            s.close()
        (HERE / "capture.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    finally:
        lst.close()
        ens.stop()
    for p in sorted(HERE.glob("*.bin")):
        print(p.name, len(p.read_bytes()))


if __name__ == "__main__":
    main()
