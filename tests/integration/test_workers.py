"""pyzk.workers on a standalone server: client connections are spread over the member and its
worker processes, and clients cannot tell. The same multi-session scenario runs against Java
ZooKeeper and against pyzk with workers in one test and must give the same transcript; a
killed worker is restarted while its clients reconnect with their sessions; four-letter
words describe the whole server; the workers end with their member, even on kill -9.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from tests.integration.itest_util import wait_for
from tests.integration.rawclient import OPEN_ACL, RawClient
from tests.servers import ServerProc, java_available
from tests.workers_util import children, workers_serving

HOSTS = {"java": "127.0.31.1", "pyzk": "127.0.31.2"}
WORKERS = {"pyzk.workers": "2",
           "metricsProvider.className":
               "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
           "metricsProvider.httpHost": HOSTS["pyzk"], "metricsProvider.httpPort": "7000",
           "admin.enableServer": "true", "admin.serverAddress": HOSTS["pyzk"],
           "admin.serverPort": "8080"}


def log_events(srv: ServerProc, event: str) -> list[dict[str, Any]]:
    out = []
    for line in srv.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"{event}"' in line:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == event:
                out.append(rec)
    return out


def word(host: str, port: int, w: str) -> str:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(w.encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, ServerProc]]:
    started: dict[str, ServerProc] = {}
    try:
        for kind in ("java", "pyzk"):
            if kind == "java" and not java_available():
                continue
            cfg = WORKERS if kind == "pyzk" else {}
            started[kind] = ServerProc(kind, tmp_path / kind, host=HOSTS[kind],
                                       cfg=cfg).start()
        wait_for(lambda: workers_serving(started["pyzk"].log_path.read_text()) == 1, 30, "the worker to serve")
        yield started
    finally:
        for srv in started.values():
            srv.stop()


def clients(srv: ServerProc, n: int) -> list[KazooClient]:
    out = []
    for _ in range(n):
        c = KazooClient(hosts=srv.address, timeout=10.0,
                        connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
        c.start(timeout=15)
        out.append(c)
    return out


def scenario(srv: ServerProc) -> list[Any]:
    """Four sessions (alternately on the member and the worker for pyzk): writes, reads after
    sync, watches set through one session and fired through another, sequential and
    ephemeral nodes, a multi, errors; the transcript leaves out zxids, times and ids."""
    cs = clients(srv, 4)
    out: list[Any] = []
    events: list[list[tuple[str, str]]] = [[] for _ in cs]
    try:
        a, b, c, d = cs
        a.create("/w", b"root")
        for i, cl in enumerate(cs):
            cl.create(f"/w/n{i}", f"v{i}".encode())
        for i, cl in enumerate(cs):
            cl.sync("/w")
            out.append(sorted(cl.get_children("/w")))
            data, st = cl.get(f"/w/n{(i + 1) % 4}")
            out.append((data, st.version, st.cversion, st.numChildren, st.dataLength))
        fired = [threading.Event() for _ in cs]
        for i, cl in enumerate(cs):
            def on(ev: Any, i: int = i) -> None:
                events[i].append((ev.type, ev.path))
                fired[i].set()
            cl.get("/w/n0", watch=on)
        d.set("/w/n0", b"changed")
        for f in fired:
            assert f.wait(10)
        out.append(events)
        seqs = [cl.create("/w/s-", b"", sequence=True) for cl in (b, c, b, a)]
        out.append(seqs)
        e = c.create("/w/eph", b"", ephemeral=True)
        out.append(e)
        try:
            b.create("/w/eph", b"")
        except NodeExistsError:
            out.append("NodeExists")
        t = b.transaction()
        t.create("/w/m1", b"1")
        t.set_data("/w/n1", b"m", version=0)
        t.delete("/w/missing")
        out.append([type(r).__name__ for r in t.commit()])
        c.stop()
        b.sync("/w")
        out.append(b.exists("/w/eph") is None)
        out.append(d.get("/w/n1")[1].version)
        try:
            a.delete("/w/nothing")
        except NoNodeError:
            out.append("NoNode")
    finally:
        for cl in cs:
            cl.stop()
            cl.close()
    return out


def test_clients_see_java_zookeepers_answers_through_member_and_worker(
        servers: dict[str, ServerProc]) -> None:
    if "java" not in servers:
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    assert scenario(servers["pyzk"]) == scenario(servers["java"])


def repeated_xids(host: str, port: int, prefix: str = "/dup") -> list[Any]:
    """Two raw connections (for pyzk one on the member, one on the worker), each sending in
    one write: its ConnectRequest, a create with xid 0, then creates and a delete that reuse
    xids 1 and 2, and an exists. Each reply's (xid, err, created path), in arrival order."""
    out: list[Any] = []
    for i in range(2):
        c = RawClient(host, port)
        try:
            root = f"{prefix}{i}"
            frames = bytearray()
            for xid, op, rec in ((0, Op.CREATE2, r.CreateRequest(root, b"", OPEN_ACL, 0)),
                                 (1, Op.CREATE2, r.CreateRequest(f"{root}/a", b"", OPEN_ACL, 0)),
                                 (2, Op.CREATE2, r.CreateRequest(f"{root}/b", b"", OPEN_ACL, 0)),
                                 (1, Op.DELETE, r.DeleteRequest(f"{root}/none", -1)),
                                 (2, Op.CREATE2, r.CreateRequest(f"{root}/a", b"", OPEN_ACL, 0)),
                                 (3, Op.EXISTS, r.ExistsRequest("/", False))):
                body = r.RequestHeader.to_bytes(r.RequestHeader(xid, int(op)))
                body += type(rec).to_bytes(rec)
                frames += len(body).to_bytes(4, "big") + body
            req = r.ConnectRequest.to_bytes(r.ConnectRequest(0, 0, 30000, 0, b"\0" * 16))
            c.send_raw(len(req).to_bytes(4, "big") + req + bytes(frames))
            r.ConnectResponse.decode(c.read_frame(), 0)
            for op in (Op.CREATE2, Op.CREATE2, Op.CREATE2, Op.DELETE, Op.CREATE2, Op.EXISTS):
                data = c.read_frame()
                hdr, off = r.ReplyHeader.decode(data, 0)
                path = r.Create2Response.decode(data, off)[0].path \
                    if op == Op.CREATE2 and hdr.err == 0 else None
                out.append((hdr.xid, hdr.err, path))
        finally:
            c.close()
    return out


def test_repeated_xids_are_answered_in_order_as_by_java(servers: dict[str, ServerProc]) -> None:
    """A worker forwards writes and answers each when its txn comes back: it must match the
    txn to the request in the session's forwarding order (CommitProcessor), not by xid: looked
    up by (session, xid), a repeated xid answered the wrong request and left another one
    unanswered, and the connection hung (seed 1 case 371 of the differential fuzzer with
    pyzk.workers=2). Followers and observers forward the same way (forwarding.py)."""
    if "java" not in servers:
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    pyzk, java = servers["pyzk"], servers["java"]
    assert repeated_xids(pyzk.host, pyzk.port) == repeated_xids(java.host, java.port)


def test_words_describe_the_whole_server_and_a_killed_worker_comes_back(
        servers: dict[str, ServerProc]) -> None:
    srv = servers["pyzk"]
    cs = clients(srv, 6)
    try:
        for i, cl in enumerate(cs):
            cl.exists(f"/watched{i}", watch=lambda e: None)
        cons = word(srv.host, srv.port, "cons")
        assert cons.count("queued=") == 7, cons  # six clients and this word's connection
        mntr = dict(ln.split("\t", 1) for ln in word(srv.host, srv.port, "mntr").splitlines()
                    if "\t" in ln)
        assert mntr["zk_num_alive_connections"] == "7" and mntr["zk_watch_count"] == "6", mntr
        assert "6 connections watching 6 paths" in word(srv.host, srv.port, "wchs")
        assert "Connections: 7" in word(srv.host, srv.port, "srvr")
        for cl in cs:
            cl.get_children("/")
        scraped = urllib.request.urlopen(f"http://{srv.host}:7000/metrics", timeout=10).read()
        samples = dict(ln.rsplit(" ", 1) for ln in scraped.decode().splitlines()
                       if ln and not ln.startswith("#"))
        assert float(samples["num_alive_connections"]) == 6, samples  # the scrape is HTTP
        assert float(samples["watch_count"]) == 6, samples
        assert float(samples["readlatency_count"]) == 12, samples  # 6 exists + 6 getChildren
        admin = json.loads(urllib.request.urlopen(
            f"http://{srv.host}:8080/commands/connections", timeout=10).read())
        assert len(admin["connections"]) == 6, admin  # the AdminServer's own is HTTP

        eph = cs[1].create("/kept", b"", ephemeral=True)
        sessions = [cl.client_id[0] for cl in cs]
        assert srv.proc is not None
        (worker,) = children(srv.proc.pid)
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: log_events(srv, "worker process ended; restarting"), 15,
                   "the restart")
        wait_for(lambda: len(log_events(srv, "worker process started")) == 2, 15,
                   "a new worker")
        wait_for(lambda: workers_serving(srv.log_path.read_text()) == 1, 30, "the new worker to serve")
        for cl in cs:  # every session lives on, reconnected wherever it landed
            cl.sync("/")
            assert cl.exists(eph) is not None
        assert [cl.client_id[0] for cl in cs] == sessions
        later = clients(srv, 2)  # new connections reach the new worker too
        for cl in later:
            cl.create("/later-", b"", sequence=True, ephemeral=True)
            cl.stop()
            cl.close()
        assert word(srv.host, srv.port, "cons").count("queued=") == 7
    finally:
        for cl in cs:
            cl.stop()
            cl.close()


def test_workers_end_with_their_member_even_on_kill_and_start_again_with_it(
        servers: dict[str, ServerProc]) -> None:
    srv = servers["pyzk"]
    assert srv.proc is not None
    (c,) = clients(srv, 1)
    c.create("/durable", b"kept")
    c.stop()
    c.close()
    (worker,) = children(srv.proc.pid)
    srv.kill9()

    def gone() -> bool:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{worker}/stat").read_text().split(") ")[1].startswith("Z")

    wait_for(gone, 15, "the worker to exit")
    srv.start()  # the same data directory: the restarted member starts new workers
    wait_for(lambda: log_events(srv, "worker process started")[1:], 15, "a new worker")
    cs = clients(srv, 2)  # one on the member, one on the new worker
    try:
        for cl in cs:
            wait_for(lambda cl=cl: cl.exists("/durable") is not None, 15, "the replica")
            assert cl.get("/durable")[0] == b"kept"
    finally:
        for cl in cs:
            cl.stop()
            cl.close()


def test_connection_limits_hold_for_the_whole_server(tmp_path: Path) -> None:
    """maxClientCnxns counts one address's connections over every process: the member counts
    those it hands out until the worker says they ended."""
    srv = ServerProc("pyzk", tmp_path / "limits", host="127.0.31.3",
                     cfg={"pyzk.workers": "2", "maxClientCnxns": "3"}).start()
    try:
        wait_for(lambda: workers_serving(srv.log_path.read_text()) == 1, 30, "the worker")
        socks = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(4)]
        # The fourth is closed by the server (Java: "Too many connections from /ip - max is 3").
        socks[3].settimeout(5)
        assert socks[3].recv(1) == b""
        for s in socks[:3]:
            s.close()
        # Once they end (the worker tells the member of its own), three fit again.
        def three_fit() -> bool:
            trial = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(3)]
            try:
                return all(_open(s) for s in trial)
            finally:
                for s in trial:
                    s.close()
        wait_for(three_fit, 10, "the counts to drop")
    finally:
        srv.stop()


def _open(s: socket.socket) -> bool:
    """Still open a moment after connecting (not closed as one too many)."""
    s.settimeout(0.3)
    try:
        return s.recv(1) != b""
    except TimeoutError:
        return True
