"""Network namespaces for real network cuts (root only): one namespace per host on a shared
bridge, per-namespace /etc/hosts naming the hosts, links cut by downing a bridge port, in-process
code run inside a namespace from a setns()'d worker thread, and TCP forwarders into namespaces.

The bridge lives in the first host's namespace, so no interface or address is added to the
root namespace: every host (the first included) reaches it through its own veth pair.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000  # <sched.h>
NETNS_ETC = Path("/etc/netns")  # `ip netns exec NS` bind-mounts /etc/netns/NS/* over /etc/*
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20,
                          check=check)


def unavailable_reason(probe: str) -> str | None:
    """Why namespaces and veth pairs cannot be made here (e.g. not root), or None."""
    if shutil.which("ip") is None:
        return "iproute2 `ip` is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_SYS_ADMIN + CAP_NET_ADMIN); euid is not 0"
    try:
        r = ip("netns", "add", probe, check=False)
        if r.returncode != 0:
            return f"`ip netns add` is not permitted here: {r.stderr.strip()}"
        r = ip("link", "add", "name", "a", "netns", probe, "type", "veth", "peer", "name", "b",
               "netns", probe, check=False)
        if r.returncode != 0:
            return f"cannot create veth pairs: {r.stderr.strip()}"
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run `ip`: {e}"
    finally:
        ip("netns", "del", probe, check=False)


def _enter(name: str) -> None:
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


class NsThread:
    """A worker thread inside namespace `name` (threads it starts inherit the namespace)."""

    def __init__(self, name: str) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_enter,
                                       initargs=(name,))

    def run(self, fn: Callable[..., T], *args: Any, timeout: float = 30) -> T:
        return self.pool.submit(fn, *args).result(timeout)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def wire_to_bridge(hub: str, ports: list[tuple[int, str, str]], made: list[str],
                   dev: str = "eth0") -> None:
    """A star: netns `hub` holds bridge br0; each (n, namespace, address) gets its own
    namespace (appended to `made` for teardown; one already in `made` is reused, so a second
    star gives every host a second link) with lo up and `dev` at address/24, whose veth peer
    pN is a port of br0. Both veth ends are created inside their namespaces, so nothing
    touches the root namespace."""
    ip("netns", "add", hub)
    made.append(hub)
    ip("-n", hub, "link", "add", "br0", "type", "bridge")
    ip("-n", hub, "link", "set", "br0", "up")
    for n, ns, addr in ports:
        if ns not in made:
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", "name", dev, "netns", ns, "type", "veth",
           "peer", "name", f"p{n}", "netns", hub)
        ip("-n", hub, "link", "set", f"p{n}", "master", "br0")
        ip("-n", hub, "link", "set", f"p{n}", "up")
        ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
        ip("-n", ns, "link", "set", dev, "up")


class BridgeNet:
    """Hosts `hostnames` (zk1, zk2, ...) as namespaces `prefix + hostname`, addresses
    `subnet`.11, .12, ... on one bridge, each with an /etc/hosts naming every host."""

    def __init__(self, hostnames: list[str], prefix: str, subnet: str) -> None:
        self.hostnames = hostnames
        self.ns = {h: prefix + h for h in hostnames}
        self.addr = {h: f"{subnet}.{10 + i}" for i, h in enumerate(hostnames, 1)}
        self.hub = self.ns[hostnames[0]]
        self.threads: dict[str, NsThread] = {}
        self._made: list[str] = []
        self._etc_made: list[Path] = []
        self._netns_etc_created = False

    def hosts_file(self, own: str) -> str:
        # What Docker writes into a container's /etc/hosts, plus the other services (which
        # Docker's embedded DNS would resolve on a user-defined network).
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{self.addr[h]}\t{h}" for h in [own] + [x for x in self.hostnames if x != own]]
        return "\n".join(lines) + "\n"

    def create(self) -> None:
        # The bridge lives in the first host's own namespace (no separate hub), so this star
        # is wired here rather than by wire_to_bridge.
        for ns in self.ns.values():
            ip("netns", "add", ns)
            self._made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for i, (h, ns) in enumerate(self.ns.items(), 1):
            # eth0 in the service's namespace, its peer pN a port of the bridge in the hub.
            ip("link", "add", "name", "eth0", "netns", ns, "type", "veth",
               "peer", "name", f"p{i}", "netns", self.hub)
            ip("-n", self.hub, "link", "set", f"p{i}", "master", "br0")
            ip("-n", self.hub, "link", "set", f"p{i}", "up")
            ip("-n", ns, "addr", "add", f"{self.addr[h]}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            self.threads[h] = NsThread(ns)
        if not NETNS_ETC.exists():
            NETNS_ETC.mkdir()
            self._netns_etc_created = True
        for h, ns in self.ns.items():
            d = NETNS_ETC / ns
            d.mkdir(exist_ok=True)
            self._etc_made.append(d)
            (d / "hosts").write_text(self.hosts_file(h))
            (d / "hostname").write_text(h + "\n")

    def cut(self, hostname: str) -> None:
        """Partition `hostname` from every other host: its bridge port drops all packets."""
        ip("-n", self.hub, "link", "set", f"p{self.hostnames.index(hostname) + 1}", "down")

    def heal(self, hostname: str) -> None:
        ip("-n", self.hub, "link", "set", f"p{self.hostnames.index(hostname) + 1}", "up")

    def exec_prefix(self, hostname: str) -> list[str]:
        """Run a command as in the container: its namespace (with its /etc/hosts) and its
        own UTS namespace carrying the service's hostname; every step execs, so the PID of
        the Popen is the command's own."""
        return ["ip", "netns", "exec", self.ns[hostname], "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', hostname]

    def run(self, hostname: str, fn: Callable[..., T], *args: Any, timeout: float = 30) -> T:
        return self.threads[hostname].run(fn, *args, timeout=timeout)

    def destroy(self) -> None:
        for t in self.threads.values():
            t.close()
        for ns in reversed(self._made):
            ip("netns", "del", ns, check=False)  # takes its veth ends (and peers) with it
        self._made.clear()
        for d in self._etc_made:
            shutil.rmtree(d, ignore_errors=True)
        self._etc_made.clear()
        if self._netns_etc_created:
            try:
                NETNS_ETC.rmdir()
            except OSError:
                pass  # someone else put a namespace's files there meanwhile


class Forwarder:
    """A TCP listener in this (root) namespace relaying each connection to `target` as seen
    from inside a namespace, so clients in the test process reach a namespaced server."""

    def __init__(self, listen: tuple[str, int], inside: NsThread,
                 target: tuple[str, int]) -> None:
        self.inside, self.target = inside, target
        self.sock = socket.create_server(listen)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="pyzk-fwd").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                # Created in the namespace's thread, the socket belongs to that namespace.
                server = self.inside.run(socket.create_connection, self.target, 2.0)
            except (OSError, TimeoutError):
                client.close()  # as a refused connection: nothing listening inside
                continue
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self.sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class MemberLinks:
    """`n` member namespaces `<tag>-m<i>`, each wired to one bridge per subnet in `subnets`
    (hub namespaces `<tag>-h<k>`, member i at `<subnet>.i` on eth<k>), with a worker thread
    inside each member namespace. `cut(k)` downs bridge k as a failed switch would."""

    def __init__(self, prefix: str, subnets: tuple[str, ...], n: int) -> None:
        tag = f"{prefix}{os.getpid() % 100000}"
        self.subnets = subnets
        self.hubs = tuple(f"{tag}-h{k + 1}" for k in range(len(subnets)))
        self.names = {i: f"{tag}-m{i}" for i in range(1, n + 1)}
        self.threads: dict[int, NsThread] = {}
        self.made: list[str] = []

    def create(self) -> None:
        for k, (hub, subnet) in enumerate(zip(self.hubs, self.subnets, strict=True)):
            wire_to_bridge(hub, [(i, ns, f"{subnet}.{i}") for i, ns in self.names.items()],
                           self.made, dev=f"eth{k}")
        self.threads = {i: NsThread(ns) for i, ns in self.names.items()}

    def cut(self, link: int) -> None:
        ip("-n", self.hubs[link], "link", "set", "br0", "down")

    def heal(self, link: int) -> None:
        ip("-n", self.hubs[link], "link", "set", "br0", "up")

    def destroy(self) -> None:
        for t in self.threads.values():
            t.close()
        for ns in reversed(self.made):
            ip("netns", "del", ns, check=False)
        self.made.clear()
