"""zkCli's quota commands (SetQuotaCommand, ListQuotaCommand, DelQuotaCommand): client-side
edits of the zookeeper_limits / zookeeper_stats znodes under /zookeeper/quota, with zkCli's
checks, messages, streams and exit codes. The server keeps the stats (pyzk.tree.quota).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyzk.protocol.codes import Err
from pyzk.shell.client import OPEN_ACL_UNSAFE, ZkError
from pyzk.shell.formats import CliError, validate_path
from pyzk.tree.quota import (
    BYTE_HARD,
    BYTES,
    COUNT,
    COUNT_HARD,
    LIMIT_NODE,
    QUOTA_ROOT,
    STAT_NODE,
    StatsTrack,
    limit_path,
    stat_path,
)

if TYPE_CHECKING:
    from pyzk.shell.commands import Context

_JAVA_INT = re.compile(r"[+-]?[0-9]+")
_OPTION_KEY = {"n": COUNT, "b": BYTES, "N": COUNT_HARD, "B": BYTE_HARD}


def _java_split(path: str) -> list[str]:
    """String.split("/"): trailing empty fields dropped."""
    parts = path.split("/")
    while parts and not parts[-1]:
        parts.pop()
    return parts


def _option_value(ctx: Context) -> tuple[str, int] | None:
    """checkOptionValue: the chosen limit, or None after printing why it is refused."""
    name = next(o for o in ctx.opts if o in _OPTION_KEY)
    text = ctx.opts[name]
    hi = 2**31 - 1 if name in "nN" else 2**63 - 1  # Integer.parseInt / Long.parseLong
    if not _JAVA_INT.fullmatch(text) or not -hi - 1 <= int(text) <= hi:
        print("NumberFormatException happens when parsing the option value", file=ctx.err,
              flush=True)
        return None
    value = int(text)
    if name in "nN" and value <= 0:
        print("the num quota must be greater than zero", file=ctx.err, flush=True)
        return None
    if name in "bB" and value < 0:
        print("the bytes quota must be greater than or equal to zero", file=ctx.err, flush=True)
        return None
    return _OPTION_KEY[name], value


def _children(ctx: Context, path: str) -> list[str] | None:
    try:
        return ctx.client.get_children(path)[0]
    except ZkError as e:
        if e.code != Err.NONODE:
            raise
        return None


def _check_child_quota(ctx: Context, path: str) -> None:
    """checkIfChildQuota: ZKUtil.visitSubTreeDFS over /zookeeper/quota<path> (each level's
    children in sorted order, then their subtrees); a limits node below path refuses."""
    real = QUOTA_ROOT + path
    validate_path(real)
    try:
        ctx.client.get_data(real)
    except ZkError as e:
        if e.code == Err.NONODE:
            return
        raise

    def visit(node: str) -> None:
        for child in _children(ctx, node) or ():
            if node != real and child == LIMIT_NODE:
                raise CliError(f"{path} has a child {node[len(QUOTA_ROOT):]} which has a quota")

    visit(real)
    stack = [real]
    for _ in range(1_000_000):
        if not stack:
            return
        node = stack.pop()
        kids = _children(ctx, node)
        if kids is None:
            continue
        paths = [f"{node}/{c}" for c in sorted(kids)]
        for p in paths:
            visit(p)
        stack.extend(reversed(paths))  # depth first, in sorted order


def _check_parent_quota(ctx: Context, path: str) -> None:
    """checkIfParentQuota: a limits node at a proper ancestor's quota node refuses."""
    splits = _java_split(path)
    quota_path = QUOTA_ROOT
    for i in range(1, len(splits) - 1):
        quota_path += "/" + splits[i]
        kids = _children(ctx, quota_path)
        if not kids:
            return
        for child in kids:
            if quota_path != QUOTA_ROOT + path and child == LIMIT_NODE:
                raise CliError(f"{path} has a parent {quota_path[len(QUOTA_ROOT):]} which has"
                               " a quota")


def _warn_below_usage(ctx: Context, limits: StatsTrack, usage: StatsTrack) -> None:
    if (limits.count > -1 and limits.count < usage.count) or \
            (limits.count_hard_limit > -1 and limits.count_hard_limit < usage.count):
        ctx.println("[Warning]: the count quota you create is less than the existing count:"
                    f"{usage.count}")
    if (limits.byte_count > -1 and limits.byte_count < usage.byte_count) or \
            (limits.byte_hard_limit > -1 and limits.byte_hard_limit < usage.byte_count):
        ctx.println("[Warning]: the bytes quota you create is less than the existing bytes:"
                    f"{usage.byte_count}")


def _create_if_missing(ctx: Context, path: str, data: bytes | None) -> None:
    if ctx.client.exists(path) is None:
        try:
            ctx.client.create(path, data, OPEN_ACL_UNSAFE, 0)
        except ZkError as e:
            if e.code != Err.NODEEXISTS:
                raise


def do_setquota(ctx: Context) -> None:
    path = ctx.args[1]
    if path.startswith(QUOTA_ROOT):
        print(f"cannot set a quota under the path: {QUOTA_ROOT}", file=ctx.err, flush=True)
        return
    chosen = _option_value(ctx)
    if chosen is None:
        return
    quota = StatsTrack()
    quota.stats.update({COUNT: -1, BYTES: -1, COUNT_HARD: -1, BYTE_HARD: -1})
    quota.stats[chosen[0]] = chosen[1]
    c = ctx.client
    validate_path(path)
    if c.exists(path) is None:
        raise CliError(f"{path} does not exist.")
    _check_child_quota(ctx, path)
    _check_parent_quota(ctx, path)
    node = QUOTA_ROOT
    for name in _java_split(path)[1:]:
        node += "/" + name
        _create_if_missing(ctx, node, None)
    lpath, spath = f"{node}/{LIMIT_NODE}", f"{node}/{STAT_NODE}"
    if c.exists(lpath) is None:
        c.create(lpath, quota.to_bytes(), OPEN_ACL_UNSAFE, 0)
        c.create(spath, StatsTrack(f"{COUNT}=0,{BYTES}=0").to_bytes(), OPEN_ACL_UNSAFE, 0)
        limits = StatsTrack.of(c.get_data(lpath)[0])
        _warn_below_usage(ctx, limits, StatsTrack.of(c.get_data(spath)[0]))
        return
    limits = StatsTrack.of(c.get_data(lpath)[0])
    for key, value in quota.stats.items():
        if value > -1:
            limits.stats[key] = value
    _warn_below_usage(ctx, limits, StatsTrack.of(c.get_data(spath)[0]))
    c.set_data(lpath, limits.to_bytes(), -1)


def do_listquota(ctx: Context) -> None:
    path = ctx.args[1]
    lpath = limit_path(path)
    print(f"absolute path is {lpath}", file=ctx.err, flush=True)
    try:
        validate_path(lpath)
        limits = StatsTrack.of(ctx.client.get_data(lpath)[0])
        spath = stat_path(path)
        validate_path(spath)
        usage = StatsTrack.of(ctx.client.get_data(spath)[0])
    except ZkError as e:
        if e.code != Err.NONODE:
            raise
        print(f"quota for {path} does not exist.", file=ctx.err, flush=True)
        return
    ctx.println(f"Output quota for {path} {limits}")
    ctx.println(f"Output stat for {path} {usage}")


def do_delquota(ctx: Context) -> None:
    path = ctx.args[1]
    try:
        _delete_quota(ctx, path, [k for o, k in _OPTION_KEY.items() if o in ctx.opts])
    except ZkError as e:
        if e.code != Err.NONODE:
            raise
        print(f"quota for {path} does not exist.", file=ctx.err, flush=True)


def _delete_quota(ctx: Context, path: str, keys: list[str]) -> None:
    """delQuota: with no option the whole quota (its znodes, then empty ancestors up to
    /zookeeper/quota: trimProcQuotas); with options those limits become -1."""
    c = ctx.client
    parent, lpath = QUOTA_ROOT + path, limit_path(path)
    validate_path(lpath)
    if c.exists(lpath) is None:
        ctx.println(f"Quota does not exist for {path}")
        return
    limits = StatsTrack.of(c.get_data(lpath)[0])
    if keys:
        for key in keys:
            limits.stats[key] = -1
        c.set_data(lpath, limits.to_bytes(), -1)
        return
    for child in c.get_children(parent)[0]:
        c.delete(f"{parent}/{child}", -1)
    node = parent
    for _ in range(10_000):
        if node == QUOTA_ROOT or c.get_children(node)[0]:
            return
        c.delete(node, -1)
        node = node[:node.rfind("/")]
