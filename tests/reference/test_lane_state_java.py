"""pyzk beside Java 3.8.0 on state a session leaves behind: watches with a null path and the
order of a session's auth ids. Both come from long differential fuzz runs (tests/fuzz), where a
lane session carries them from one case to later ones; each test here builds that state
deliberately and sends the same requests to both servers (127.0.65.21 java, .22 pyzk).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.testing.ensemble import four_letter
from tests.integration.itest_util import wait_for
from tests.integration.rawclient import RawClient, connected
from tests.servers import ServerProc, java_available

pytestmark = pytest.mark.java

HOSTS = {"java": "127.0.65.21", "pyzk": "127.0.65.22"}
ANY, DATA, CHILDREN = 3, 1, 2
PERSISTENT, RECURSIVE = 0, 1


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, ServerProc]]:
    """Fresh servers per test: what one test leaks (on purpose) must not reach the next."""
    if not java_available():
        pytest.skip("Debian's Java ZooKeeper is not installed")
    root = tmp_path
    started: dict[str, ServerProc] = {}
    try:
        for kind, host in HOSTS.items():
            started[kind] = ServerProc(kind, root / kind, host=host).start()
        yield started
    finally:
        for srv in started.values():
            srv.stop()


def both(servers: dict[str, ServerProc],
         scenario: Callable[[ServerProc, list[Any]], None]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for kind, srv in servers.items():
        out[kind] = []
        scenario(srv, out[kind])
    return out


def check(c: RawClient, path: str | None, wtype: int) -> int:
    return c.call(Op.CHECK_WATCHES, r.CheckWatchesRequest(path, wtype)).err


def add_watch(c: RawClient, path: str | None, mode: int) -> int:
    return c.call(Op.ADD_WATCH, r.AddWatchRequest(path, mode)).err


def remove(c: RawClient, path: str | None, wtype: int) -> int:
    return c.call(Op.REMOVE_WATCHES, r.RemoveWatchesRequest(path, wtype)).err


def test_null_path_watch_requests_match_java(servers: dict[str, ServerProc]) -> None:
    """A null-path persistent watch is stored, but a second one (or removing it) makes Java's
    WatcherModeManager key compare a null path: NullPointerException, MARSHALLINGERROR."""
    def scenario(srv: ServerProc, out: list[Any]) -> None:
        a = connected(srv.host, srv.port)
        out.append(add_watch(a, None, RECURSIVE))
        out.append(add_watch(a, None, RECURSIVE))  # Java -5: the key is there already
        out.append(add_watch(a, None, PERSISTENT))
        out.append(check(a, " /a", ANY))  # a recursive watch exists: the parent walk throws
        out.append([remove(a, None, ANY) for _ in range(3)])  # -5 (child), -5 (data), -121
        out.append(add_watch(a, None, RECURSIVE))  # the mode outlived the removal: -5
        sw = r.SetWatches2(0, [], [], [], [None], [])
        out.append([a.call(Op.SET_WATCHES2, sw, xid=-8).err for _ in range(2)])
        a.close()
    got = both(servers, scenario)
    assert got["pyzk"] == got["java"]
    assert got["java"][:4] == [0, -5, -5, -5]


def test_closing_a_session_with_a_null_path_watch_leaks_nothing_where_java_leaks(
        servers: dict[str, ServerProc]) -> None:
    """The connection of a session holding a null-path watch closes: Java's removeCnxn throws
    at the null path (seed 2026 case 35404's addWatch, then case 35883's checkWatches on
    " /a"), so its data table keeps the paths after it, its child table all of them and its
    recursive count stays up for ever: later sessions see checkWatches answered from them.
    pyzk drops every watch of a closed connection, deliberately: keeping Java's leak would let
    a client grow the tables without bound by reconnecting. Every answer that does not depend
    on the leak is Java's."""
    def scenario(srv: ServerProc, out: list[Any]) -> None:
        a = connected(srv.host, srv.port)
        for p in ("/x", "/y", "/c", "/p"):
            a.create(p)
        a.get("/x", True)
        a.exists("/nx", True)
        a.children("/c", True)
        out.append(add_watch(a, "/p", PERSISTENT))
        out.append(add_watch(a, None, RECURSIVE))
        a.close()
        # The data table forgets the watcher (watch2Paths) before Java's removal throws.
        wait_for(lambda: four_letter(srv.host, srv.port, "wchs", 10).startswith("0 connections"), 10,
                 f"{srv.kind} to drop the closed connection's watcher")
        b = connected(srv.host, srv.port)
        out.append([check(b, p, t) for p, t in (
            ("/x", DATA), ("/x", CHILDREN), ("/nx", DATA), ("/c", CHILDREN), ("/c", DATA),
            ("/p", DATA), ("/p", CHILDREN), (" /a", ANY), ("/zz", ANY))])
        out.append(remove(b, " /a", ANY))
        out.append(four_letter(srv.host, srv.port, "wchp", 10))
        for p in ("/x", "/y", "/c", "/p"):
            b.delete(p)
        b.close_session()
    got = both(servers, scenario)
    java, pyzk = got["java"], got["pyzk"]
    assert pyzk[:2] == java[:2] == [0, 0]
    nowatcher = -121
    # Nothing of the closed session is left on pyzk; " /a" still walks parents on Java.
    assert pyzk[2] == [nowatcher] * 9 and pyzk[4].strip() == "" and pyzk[3] == java[3]
    assert java[2][7] == -5 and java[4].strip() != ""


def test_auth_acl_expands_in_java_set_order(servers: dict[str, ServerProc]) -> None:
    """An "auth" ACL lists the session's ids in the order Java's authInfo set (a
    ConcurrentHashMap) iterates them, not the order they were added (seed 2026 case 35555)."""
    def scenario(srv: ServerProc, out: list[Any]) -> None:
        a = connected(srv.host, srv.port)
        for cred in (b"\xff\xfe:x", b"alice:pw", b"bob:pw", b":", b"carol:pw"):
            out.append(a.auth("digest", cred).err)
        out.append(a.create("/au", acl=[r.ACL(31, r.Id("auth", ""))]).err)
        acl = a.call(Op.GET_ACL, r.GetACLRequest("/au")).body.acl
        out.append([(x.perms, x.id.scheme, x.id.id) for x in acl])
        out.append(a.delete("/au").err)
        a.close_session()
    got = both(servers, scenario)
    assert got["pyzk"] == got["java"]


def test_get_ephemerals_blank_prefix_is_java_trim_blank(servers: dict[str, ServerProc]) -> None:
    """getEphemerals lists all of the session's ephemerals when the prefix is blank to Java's
    String.trim() (chars up to U+0020, NUL included, Unicode spaces not): a fuzzed prefix
    "\\0\\0" listed an ephemeral an earlier case had left on the lane (seed 2026 case 9634)."""
    def scenario(srv: ServerProc, out: list[Any]) -> None:
        a = connected(srv.host, srv.port)
        out.append(a.create("/eph", flags=1).err)
        for prefix in ("\0\0", "\x1f/\0", " / ", "\u2003", "\u2003/", "\x85", "/e", "/x", ""):
            rep = a.call(Op.GET_EPHEMERALS, r.GetEphemeralsRequest(prefix))
            out.append((prefix, rep.err, rep.body.ephemerals if rep.body else None))
        a.close_session()
    got = both(servers, scenario)
    assert got["pyzk"] == got["java"]
    assert got["java"][1] == ("\0\0", 0, ["/eph"])
