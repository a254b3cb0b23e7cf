"""zkCli.sh's commands with its output formats (org.apache.zookeeper.cli.*, ZooKeeperMain):
stdout for results, stderr for "Created ..." and errors, exit codes 0 / 1 / 127.

Option parsing follows commons-cli's DefaultParser as zkCli uses it: options anywhere, bursting
of short flags ("-es"), "-v 3" or "-v3"; unknown options are "Unrecognized option: -x".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from pyzk.protocol.codes import Err, WatcherType
from pyzk.shell import quota
from pyzk.shell.client import OPEN_ACL_UNSAFE, Client, ZkError
from pyzk.shell.formats import (
    CliError,
    csv_string,
    parse_acl,
    perm_string,
    stat_lines,
    validate_path,
)

EXIT_OK, EXIT_ERROR, EXIT_NOT_FOUND = 0, 1, 127
_ARGS = re.compile(r"""\s*([^"']\S*|"[^"]*"|'[^']*')\s*""")  # MyCommandOptions.ARGS_PATTERN


@dataclass(frozen=True)
class Spec:
    usage: str
    flags: str = ""  # short options without a value
    valued: str = ""  # short options taking a value
    min_args: int = 1  # positional arguments including the command name
    parse_usage_error: bool = True  # too few args: CliParseException(usage) at parse
    group: str = ""  # mutually exclusive options (a commons-cli OptionGroup)
    # the OptionGroup is required: MissingOptionException's option list when none is given
    group_required: str = ""


SPECS: dict[str, Spec] = {
    "addWatch": Spec("[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE]"
                     " - default is PERSISTENT_RECURSIVE", valued="m", min_args=2),
    "addauth": Spec("scheme auth", min_args=2),
    "close": Spec(""),
    "config": Spec("[-c] [-w] [-s]", flags="cws"),
    "connect": Spec("host:port"),
    "create": Spec("[-s] [-e] [-c] [-t ttl] path [data] [acl]", flags="sec", valued="t",
                   min_args=2),
    "delete": Spec("[-v version] path", valued="v", min_args=2),
    "deleteall": Spec("path [-b batch size]", valued="b", min_args=2),
    "get": Spec("[-s] [-w] path", flags="sw", min_args=2),
    "getAcl": Spec("[-s] path", flags="s", min_args=2),
    "getAllChildrenNumber": Spec("path", min_args=2, parse_usage_error=False),
    "getEphemerals": Spec("path"),
    "history": Spec(""),
    "ls": Spec("[-s] [-w] [-R] path", flags="swR?", min_args=2, parse_usage_error=False),
    "printwatches": Spec("on|off"),
    "quit": Spec(""),
    "delquota": Spec("[-n|-b|-N|-B] path", flags="nbNB", group="nbNB", min_args=2),
    "listquota": Spec("path", min_args=2),
    "setquota": Spec("-n|-b|-N|-B val path", valued="nbNB", group="nbNB", min_args=2,
                     group_required="[-n num soft quota, -b bytes soft quota,"
                                    " -N num hard quota, -B bytes hard quota]"),
    "redo": Spec("cmdno"),
    "removewatches": Spec("path [-c|-d|-a] [-l]", flags="cdal", min_args=2),
    "set": Spec("[-s] [-v version] path data", flags="s", valued="v", min_args=3),
    "setAcl": Spec("[-s] [-v version] [-R] path acl", flags="sR", valued="v", min_args=3),
    "stat": Spec("[-w] path", flags="w", min_args=2),
    "sync": Spec("path", min_args=2),
    "version": Spec(""),
    "whoami": Spec(""),
}
STATES = {3: "SyncConnected", 0: "Disconnected", -112: "Expired", 4: "AuthFailed",
          5: "ConnectedReadOnly", 6: "SaslAuthenticated", 7: "Closed", -1: "Unknown",
          1: "NoSyncConnected"}
EVENTS = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
          4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
          7: "PersistentWatchRemoved"}


def split_line(line: str) -> list[str]:
    """MyCommandOptions.parseCommand: whitespace words, '...' / "..." quoted whole."""
    out = []
    for m in _ARGS.finditer(line):
        v = m.group(1)
        if len(v) >= 2 and v[0] in "'\"" and v[-1] == v[0]:
            v = v[1:-1]
        out.append(v)
    return out


def _select(spec: Spec, opts: dict[str, str], name: str) -> None:
    """OptionGroup.setSelected: a second, different option of the group is refused."""
    if name in spec.group:
        chosen = next((o for o in opts if o in spec.group), name)
        if chosen != name:
            raise CliError("org.apache.commons.cli.AlreadySelectedException: The option"
                           f" '{name}' was specified but an option from this group has"
                           f" already been selected: '{chosen}'")


def parse_options(spec: Spec, argv: list[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    args: list[str] = []
    it = iter(argv)
    for tok in it:
        if tok.startswith("-") and len(tok) > 1 and args:
            name = tok[1:]
            if name in spec.valued:
                _select(spec, opts, name)
                try:
                    opts[name] = next(it)
                except StopIteration:
                    raise CliError("org.apache.commons.cli.MissingArgumentException: Missing"
                                   f" argument for option: {name}") from None
            elif name[0] in spec.valued:
                _select(spec, opts, name[0])
                opts[name[0]] = name[1:]
            elif all(c in spec.flags for c in name):
                for c in name:
                    _select(spec, opts, c)
                    opts[c] = ""
            else:
                raise CliError("org.apache.commons.cli.UnrecognizedOptionException:"
                               f" Unrecognized option: {tok}")
        else:
            args.append(tok)
    if spec.group_required and not any(o in spec.group for o in opts):
        raise CliError("org.apache.commons.cli.MissingOptionException: Missing required"
                       f" option: {spec.group_required}")
    return opts, args


@dataclass
class Context:
    """What a command sees: the client, the streams, and the shell's own state."""

    client: Client
    out: TextIO
    err: TextIO
    opts: dict[str, str]
    args: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    def println(self, s: str = "") -> None:
        print(s, file=self.out, flush=True)


Handler = Callable[[Context], None]


def _int_opt(ctx: Context, name: str, default: int, what: str) -> int:
    if name not in ctx.opts:
        return default
    try:
        return int(ctx.opts[name])
    except ValueError:
        raise CliError(what) from None


def do_ls(ctx: Context) -> None:
    if len(ctx.args) < 2:
        raise CliError("ls [-s] [-w] [-R] path")
    path, watch = ctx.args[1], "w" in ctx.opts
    validate_path(path)
    c = ctx.client
    if "R" in ctx.opts:
        c.get_data(path, watch)
        ctx.println(path)

        def visit(p: str) -> None:
            try:
                kids, _ = c.get_children(p, watch)
            except ZkError as e:
                if e.code == Err.NONODE:
                    return
                raise
            kids.sort()
            base = p if p == "/" else p + "/"
            for k in kids:
                ctx.println(base + k)
            for k in kids:
                visit(base + k)
        visit(path)
        return
    children, stat = c.get_children(path, watch)
    ctx.println("[" + ", ".join(sorted(children)) + "]")
    if "s" in ctx.opts:
        for line in stat_lines(stat):
            ctx.println(line)


def do_create(ctx: Context) -> None:
    e, s, cont, t = ("e" in ctx.opts), ("s" in ctx.opts), ("c" in ctx.opts), ("t" in ctx.opts)
    if cont and (e or s):
        raise CliError("-c cannot be combined with -s or -e. Containers cannot be ephemeral or"
                       " sequential.")
    ttl = _int_opt(ctx, "t", 0, "-t argument must be a long value")
    if t and e:
        raise CliError("TTLs cannot be used with Ephemeral znodes")
    if t and cont:
        raise CliError("TTLs cannot be used with Container znodes")
    flags = 3 if e and s else 1 if e else (6 if t else 2) if s else 4 if cont else \
        (5 if t else 0)
    if t and not 0 < ttl <= 0xFFFFFFFFFF:
        raise CliError(f"ttl must be positive and cannot be larger than: {0xFFFFFFFFFF}")
    path = ctx.args[1]
    validate_path(path, s)
    data = ctx.args[2].encode() if len(ctx.args) > 2 else None
    acl = parse_acl(ctx.args[3], ctx.err) if len(ctx.args) > 3 else OPEN_ACL_UNSAFE
    new = ctx.client.create(path, data, acl, flags, ttl)
    print(f"Created {new}", file=ctx.err, flush=True)


def do_get(ctx: Context) -> None:
    path = ctx.args[1]
    validate_path(path)
    data, stat = ctx.client.get_data(path, "w" in ctx.opts)
    ctx.println("null" if data is None else data.decode("utf-8", "replace"))
    if "s" in ctx.opts:
        for line in stat_lines(stat):
            ctx.println(line)


def do_set(ctx: Context) -> None:
    path = ctx.args[1]
    validate_path(path)
    version = _int_opt(ctx, "v", -1, f'For input string: "{ctx.opts.get("v")}"')
    stat = ctx.client.set_data(path, ctx.args[2].encode(), version)
    if "s" in ctx.opts:
        for line in stat_lines(stat):
            ctx.println(line)


def do_stat(ctx: Context) -> None:
    path = ctx.args[1]
    validate_path(path)
    stat = ctx.client.exists(path, "w" in ctx.opts)
    if stat is None:
        raise ZkError(Err.NONODE, path)
    for line in stat_lines(stat):
        ctx.println(line)


def do_delete(ctx: Context) -> None:
    path = ctx.args[1]
    validate_path(path)
    ctx.client.delete(path, _int_opt(ctx, "v", -1, f'For input string: "{ctx.opts.get("v")}"'))


def do_deleteall(ctx: Context) -> None:
    batch = _int_opt(ctx, "b", 1000, "-b argument must be an int value")
    root = ctx.args[1]
    validate_path(root)
    c = ctx.client
    tree, queue = [root], [root]  # ZKUtil.listSubTreeBFS, then delete leaves first
    while queue:
        node = queue.pop(0)
        kids, _ = c.get_children(node)
        for k in kids:
            child = ("" if node == "/" else node) + "/" + k
            queue.append(child)
            tree.append(child)
    ok = True
    for i in range(len(tree) - 1, -1, -max(batch, 1)):
        chunk = tree[max(i - max(batch, 1) + 1, 0):i + 1][::-1]
        try:
            c.multi_delete(chunk)
        except ZkError:
            ok = False
            break
    if not ok:
        print("Failed to delete some node(s) in the subtree!", file=ctx.err, flush=True)


def do_getacl(ctx: Context) -> None:
    path = ctx.args[1]
    validate_path(path)
    acl, stat = ctx.client.get_acl(path)
    for a in acl:
        # Id.toString() is jute's ToStringOutputArchive, which ends a record with a newline.
        ctx.println(f"{csv_string(a.id.scheme)},{csv_string(a.id.id)}\n: {perm_string(a.perms)}")
    if "s" in ctx.opts:
        for line in stat_lines(stat):
            ctx.println(line)


def do_setacl(ctx: Context) -> None:
    path, acl = ctx.args[1], parse_acl(ctx.args[2], ctx.err)
    validate_path(path)
    version = _int_opt(ctx, "v", -1, f'For input string: "{ctx.opts.get("v")}"')
    c = ctx.client
    if "R" in ctx.opts:  # ZKUtil.visitSubTreeDFS, setACL on each node
        todo = [path]
        while todo:
            p = todo.pop(0)
            c.set_acl(p, acl, version)
            try:
                kids, _ = c.get_children(p)
            except ZkError:
                continue
            todo.extend(("" if p == "/" else p) + "/" + k for k in sorted(kids))
        return
    stat = c.set_acl(path, acl, version)
    if "s" in ctx.opts:
        for line in stat_lines(stat):
            ctx.println(line)


def do_addauth(ctx: Context) -> None:
    ctx.client.add_auth(ctx.args[1], ctx.args[2].encode() if len(ctx.args) > 2 else b"")


def do_sync(ctx: Context) -> None:
    path = ctx.args[1]
    validate_path(path)
    try:
        ctx.client.sync(path)
        ctx.println("Sync is OK")
    except ZkError as e:
        ctx.println(f"Sync has failed. rc={e.code}")


def do_addwatch(ctx: Context) -> None:
    mode_name = ctx.opts.get("m", "PERSISTENT_RECURSIVE").upper()
    if mode_name not in ("PERSISTENT", "PERSISTENT_RECURSIVE") or len(ctx.args) != 2:
        raise CliError("addWatch " + SPECS["addWatch"].usage)
    ctx.client.add_watch(ctx.args[1], 1 if mode_name == "PERSISTENT_RECURSIVE" else 0)


def do_removewatches(ctx: Context) -> None:
    path = ctx.args[1]
    validate_path(path)
    wtype = WatcherType.CHILDREN if "c" in ctx.opts else WatcherType.DATA if "d" in ctx.opts \
        else WatcherType.ANY
    events = ctx.client.remove_watches(path, wtype, "l" in ctx.opts)
    notify = ctx.extra.get("notify")
    for etype in events:
        if notify is not None:
            notify(3, etype, path)


def do_config(ctx: Context) -> None:
    data, stat = ctx.client.get_data("/zookeeper/config", "w" in ctx.opts)
    text = "null" if data is None else data.decode("utf-8", "replace")
    if "c" in ctx.opts:  # ConfigUtils.getClientConfigStr: "version hosts"
        version, hosts = "", []
        for line in text.splitlines():
            k, _, v = line.partition("=")
            if k == "version":
                version = v
            elif k.startswith("server.") and ";" in v:
                client = v.rsplit(";", 1)[1]
                hosts.append(client if ":" in client else f"{v.split(':')[0]}:{client}")
        text = f"{version} {','.join(hosts)}"
    ctx.println(text)
    if "s" in ctx.opts:
        for line in stat_lines(stat):
            ctx.println(line)


def do_whoami(ctx: Context) -> None:
    ctx.println("Auth scheme: User")
    for info in ctx.client.who_am_i():
        ctx.println(f"{info.authScheme}: {info.user}")


def do_getephemerals(ctx: Context) -> None:
    prefix = ctx.args[1] if len(ctx.args) > 1 else "/"
    if len(ctx.args) > 1:
        validate_path(prefix)
    ctx.println("[" + ", ".join(ctx.client.get_ephemerals(prefix)) + "]")


def do_getallchildrennumber(ctx: Context) -> None:
    if len(ctx.args) < 2:
        raise CliError("getAllChildrenNumber path")
    path = ctx.args[1]
    validate_path(path)
    ctx.println(str(ctx.client.get_all_children_number(path)))


def do_close(ctx: Context) -> None:
    ctx.client.close()


HANDLERS: dict[str, Handler] = {
    "ls": do_ls, "create": do_create, "get": do_get, "set": do_set, "stat": do_stat,
    "delete": do_delete, "deleteall": do_deleteall, "getAcl": do_getacl, "setAcl": do_setacl,
    "addauth": do_addauth, "sync": do_sync, "addWatch": do_addwatch,
    "removewatches": do_removewatches, "config": do_config, "whoami": do_whoami,
    "getEphemerals": do_getephemerals, "getAllChildrenNumber": do_getallchildrennumber,
    "close": do_close, "setquota": quota.do_setquota, "listquota": quota.do_listquota,
    "delquota": quota.do_delquota,
}


def usage_lines() -> list[str]:
    lines = ["ZooKeeper -server host:port -client-configuration properties-file cmd args"]
    lines += [f"\t{name} {SPECS[name].usage}" for name in sorted(SPECS)]
    return lines
