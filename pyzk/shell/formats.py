"""zkCli's text formats and client-side checks: StatPrinter lines, Date.toString, ACL strings
(Id.toString, ZKUtil.getPermString, AclParser), PathUtils.validatePath, CliWrapperException.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.shell.client import ZkError


class CliError(Exception):
    """A CliException: its message goes to stderr, its code becomes the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def stat_lines(stat: Any) -> list[str]:
    """StatPrinter: zxids in hex, times as java.util.Date.toString() in local time."""
    return [
        f"cZxid = 0x{stat.czxid & (2**64 - 1):x}", f"ctime = {java_date(stat.ctime)}",
        f"mZxid = 0x{stat.mzxid & (2**64 - 1):x}", f"mtime = {java_date(stat.mtime)}",
        f"pZxid = 0x{stat.pzxid & (2**64 - 1):x}", f"cversion = {stat.cversion}",
        f"dataVersion = {stat.version}", f"aclVersion = {stat.aversion}",
        f"ephemeralOwner = 0x{stat.ephemeralOwner & (2**64 - 1):x}",
        f"dataLength = {stat.dataLength}", f"numChildren = {stat.numChildren}",
    ]


def java_date(ms: int) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(ms / 1000))


def perm_string(perms: int) -> str:
    return "".join(c for c, bit in (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16))
                   if perms & bit)


def csv_string(s: str) -> str:
    """jute ToStringOutputArchive.escapeString, which Id.toString() uses."""
    table = {"\0": "%00", "\n": "%0A", "\r": "%0D", ",": "%2C", "}": "%7D", "%": "%25"}
    return "'" + "".join(table.get(c, c) for c in s)


def parse_acl(text: str, err: TextIO) -> list[Any]:
    """AclParser.parse: "scheme:id:perms,..." (id may contain ':'), bad entries skipped."""
    acl = []
    for a in text.split(","):
        first, last = a.find(":"), a.rfind(":")
        if first == -1 or first == last:
            print(f"{a} does not have the form scheme:id:perm", file=err)
            continue
        perms = 0
        for c in a[last + 1:]:
            bit = {"r": 1, "w": 2, "c": 4, "d": 8, "a": 16}.get(c)
            if bit is None:
                print(f"Unknown perm type: {c}", file=err)
            else:
                perms |= bit
        acl.append(r.ACL(perms, r.Id(a[:first], a[first + 1:last])))
    return acl


def validate_path(path: str, sequential: bool = False) -> None:
    """PathUtils.validatePath; raises CliError with Java's IllegalArgumentException text."""
    p = path + "1" if sequential else path
    if not p:
        raise CliError("Path length must be > 0")
    if p[0] != "/":
        raise CliError("Path must start with / character")
    if len(p) == 1:
        return
    if p[-1] == "/":
        raise CliError("Path must not end with / character")
    reason = None
    for i in range(1, len(p)):
        c, last = p[i], p[i - 1]
        nxt_end = i + 1 == len(p) or p[i + 1] == "/"
        if c == "\0":
            reason = f"null character not allowed @{i}"
        elif c == "/" and last == "/":
            reason = f"empty node name specified @{i}"
        elif c == "." and last == "." and p[i - 2] == "/" and nxt_end:
            reason = f"relative paths not allowed @{i}"
        elif c == "." and last == "/" and nxt_end:
            reason = f"relative paths not allowed @{i}"
        elif ("\x00" < c <= "\x1f" or "\x7f" <= c <= "\x9f" or "\ud800" <= c <= "\uf8ff"
              or "\ufff0" <= c <= "\uffff"):
            reason = f"invalid character @{i}"
        if reason:
            raise CliError(f'Invalid path string "{p}" caused by {reason}')


def keeper_message(e: ZkError) -> str:
    """CliWrapperException.getMessage for a KeeperException."""
    p = e.path
    msgs = {Err.NONODE: f"Node does not exist: {p}",
            Err.NOCHILDRENFOREPHEMERALS: f"Ephemerals cannot have children: {p}",
            Err.NODEEXISTS: f"Node already exists: {p}", Err.NOTEMPTY: f"Node not empty: {p}",
            Err.NOTREADONLY: f"Not a read-only call: {p}",
            Err.INVALIDACL: f"Acl is not valid : {p}",
            Err.NOAUTH: f"Insufficient permission : {p}",
            Err.BADARGUMENTS: f"Arguments are not valid : {p}",
            Err.BADVERSION: f"version No is not valid : {p}",
            Err.QUOTAEXCEEDED: f"Quota has exceeded : {p}"}
    return msgs.get(e.code, str(e))  # type: ignore[call-overload]
