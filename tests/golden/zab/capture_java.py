"""Record what a Java 3.8 leader sends an observer on the quorum port (2888).

Starts a 3-node Debian Java ensemble on 127.0.0.111-113 (server.4 = observer on .114 in the
config), writes some znodes with kazoo, then connects to the leader's quorum port as observer 4,
driven by pyzk's LearnerCore, and saves the raw bytes both ways. Run from the repo root:

    .venv/bin/python -m tests.golden.zab.capture_java

Writes tests/golden/zab/{diff,snap}.{leader,learner}.bin and capture.json.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

from pyzk.zab import learner as L
from pyzk.zab.packets import QuorumStreamReader, encode_packet
from tests.servers import ServerProc, free_port

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent.parent

HOSTS = ["127.0.0.111", "127.0.0.112", "127.0.0.113"]
OBSERVER_HOST = "127.0.0.114"
QUORUM_PORT = 2888
ELECTION_PORT = 3888


class Ensemble:
    """Three Java QuorumPeerMain processes plus an observer slot (sid 4) in the config."""

    def __init__(self, root: Path, tick_ms: int = 1000) -> None:
        servers = {f"server.{i + 1}": f"{h}:{QUORUM_PORT}:{ELECTION_PORT}"
                   for i, h in enumerate(HOSTS)}
        servers["server.4"] = f"{OBSERVER_HOST}:{QUORUM_PORT}:{ELECTION_PORT}:observer"
        self.procs = []
        for i, h in enumerate(HOSTS):
            cfg = dict(servers, tickTime=str(tick_ms), initLimit="10", syncLimit="5")
            p = ServerProc("java", root / f"s{i + 1}", host=h, port=free_port(h), cfg=cfg)
            p.write_cfg()
            (p.datadir / "myid").write_text(f"{i + 1}\n")
            self.procs.append(p)

    def start(self, timeout: float = 60.0) -> Ensemble:
        errors: list[BaseException] = []

        def run(p: ServerProc) -> None:
            try:
                p.start(timeout)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        ts = [threading.Thread(target=run, args=(p,)) for p in self.procs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            self.stop()
            raise errors[0]
        return self

    def stop(self) -> None:
        for p in self.procs:
            p.stop()

    @property
    def hosts(self) -> str:
        return ",".join(p.address for p in self.procs)

    def leader(self, timeout: float = 30.0) -> ServerProc:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                try:
                    with socket.create_connection((p.host, p.port), timeout=2) as s:
                        s.sendall(b"srvr")
                        got = b""
                        while chunk := s.recv(4096):
                            got += chunk
                    if b"Mode: leader" in got:
                        return p
                except OSError:
                    pass
            time.sleep(0.2)
        raise TimeoutError("no leader")


class ObserverSession:
    """A blocking socket loop around LearnerCore, recording the bytes."""

    def __init__(self, host: str, accepted_epoch: int, current_epoch: int, last_zxid: int,
                 host_apply: Any = None) -> None:
        self.sock = socket.create_connection((host, QUORUM_PORT), timeout=10)
        self.core = L.LearnerCore(4, True, accepted_epoch, current_epoch, last_zxid,
                                  tick_ms=1000)
        self.reader = QuorumStreamReader()
        self.rx = bytearray()
        self.tx = bytearray()
        self.items: list[Any] = []
        self.actions: list[Any] = []
        self.host_apply = host_apply
        self._do(self.core.connected(0))

    def _do(self, actions: list[Any]) -> None:
        for a in actions:
            self.actions.append(a)
            if isinstance(a, L.Send):
                b = encode_packet(a.qp)
                self.tx += b
                self.sock.sendall(b)
            elif isinstance(a, L.Persist):
                if self.host_apply is not None:
                    self.host_apply(a)
                self._do(self.core.persisted(a.seq))
            elif isinstance(a, L.Disconnected):
                raise ConnectionError(a.reason)
            elif self.host_apply is not None:
                self.host_apply(a)

    def pump(self, until: Any, timeout: float = 15.0) -> None:
        """Read and handle packets until until(self) is true."""
        deadline = time.monotonic() + timeout
        while not until(self):
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("leader closed")
            self.rx += data
            for it in self.reader.feed(data):
                self.items.append(it)
                self._do(self.core.on_packet(it.qp, 0, it.snapshot))

    def close(self) -> None:
        self.sock.close()


def _serving(s: ObserverSession) -> bool:
    return any(isinstance(a, L.StartServing) for a in s.actions)


def main() -> None:
    import shutil

    from kazoo.client import KazooClient

    root = TESTS / ".work" / "zab-golden"
    shutil.rmtree(root, ignore_errors=True)
    ens = Ensemble(root).start()
    try:
        leader = ens.leader()
        zk = KazooClient(hosts=ens.hosts)
        zk.start(timeout=30)
        zk.create("/golden", b"root")
        for i in range(3):
            zk.create(f"/golden/n{i}", f"v{i}".encode())
        zk.set("/golden/n1", b"changed")
        epoch = int(zk.get("/golden")[1].czxid) >> 32
        meta: dict[str, Any] = {"epoch": epoch}
        golden_czxid = int(zk.get("/golden")[1].czxid)
        # snap: a fresh observer (peer zxid 0 is not in the leader's log -> SNAP), then INFORMs
        # and PINGs; diff: an observer that already has /golden's create (-> DIFF + pairs).
        for name, acc, last in (("snap", 0, 0), ("diff", epoch, golden_czxid)):
            s = ObserverSession(leader.host, acc, acc, last)
            s.pump(_serving)
            if name == "snap":
                zk.create("/golden/after", b"inform me")
                zk.set("/golden/after", b"again")
                zk.delete("/golden/n0")
                s.pump(lambda s: sum(it.qp.type == 8 for it in s.items) >= 3)
                # PINGs come every tickTime/2; wait for two.
                s.pump(lambda s: sum(it.qp.type == 5 for it in s.items) >= 2)
            s.close()
            (HERE / f"{name}.leader.bin").write_bytes(bytes(s.rx))
            (HERE / f"{name}.learner.bin").write_bytes(bytes(s.tx))
            meta[name] = {"peer_last_zxid": last,
                          "types": [it.qp.type for it in s.items]}
        zk.stop()
        zk.close()
        (HERE / "capture.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(json.dumps(meta))
    finally:
        ens.stop()


if __name__ == "__main__":
    main()
