"""Four-letter-word text, line for line as Java prints it (S/server/command/*.java,
ServerStats.toString, ServerCnxn.dumpConnectionInfo, ZooKeeperServer.dumpConf, DataTree and
ExpiryQueue dumps, MonitorCommand). Each renderer takes a ServerView and returns the full reply.
"""

from __future__ import annotations

from typing import Any

from pyzk.fourlw.info import ConnectionInfo, ServerView
from pyzk.fourlw.javafmt import hex_long, java_date, java_double
from pyzk.metrics import ordered_gauges

ZK_NOT_SERVING = "This ZooKeeper instance is not currently serving requests"


def not_in_whitelist(word: str) -> str:
    """NIOServerCnxn.checkFourLetterWord -> NopCommand."""
    return f"{word} is not executed because it is not in the whitelist.\n"


def connection_line(c: ConnectionInfo, brief: bool) -> str:
    """ServerCnxn.dumpConnectionInfo (no trailing newline; callers add it)."""
    ops = "0" if c.interest_ops == 0 else format(c.interest_ops, "x")
    s = (f" /{c.host}:{c.port}[{ops}](queued={c.outstanding_requests},"
         f"recved={c.packets_received},sent={c.packets_sent}")
    if not brief and c.session_id != 0:
        s += (f",sid=0x{hex_long(c.session_id)},lop={c.last_operation},est={c.established},"
              f"to={c.session_timeout}")
        if c.last_cxid >= 0:
            s += f",lcxid=0x{hex_long(c.last_cxid)}"
        s += (f",lzxid=0x{hex_long(c.last_zxid)},lresp={c.last_response_time},"
              f"llat={c.last_latency},minlat={c.min_latency},avglat={c.avg_latency},"
              f"maxlat={c.max_latency}")
    return s + ")"


def srvr_text(v: ServerView, word: str = "srvr") -> str:
    """StatCommand: srvr, and stat with the brief Clients list."""
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    out = [f"Zookeeper version: {v.version}\n"]
    if v.is_read_only:
        out.append("READ-ONLY mode; serving only read-only clients\n")
    if word == "stat":
        out.append("Clients:\n")
        out.extend(connection_line(c, True) + "\n" for c in v.connections)
        out.append("\n")
    s = v.stats
    out.append(f"Latency min/avg/max: {s.min_latency}/{java_double(s.avg_latency)}/"
               f"{s.max_latency}\n")
    out.append(f"Received: {s.packets_received}\nSent: {s.packets_sent}\n"
               f"Connections: {s.num_alive_client_connections}\n")
    out.append(f"Outstanding: {s.outstanding_requests}\n"
               f"Zxid: 0x{hex_long(s.last_processed_zxid)}\n")
    out.append(f"Mode: {s.server_state}\nNode count: {v.node_count}\n")
    if s.server_state == "leader" and v.proposal_sizes is not None:
        last, lo, hi = v.proposal_sizes
        out.append(f"Proposal sizes last/min/max: {last}/{lo}/{hi}\n")
    return "".join(out)


def conf_text(v: ServerView, word: str = "conf") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    c, s = v.conf, v.stats
    lines = [f"clientPort={c.client_port}", f"secureClientPort={c.secure_client_port}",
             f"dataDir={c.data_dir}", f"dataDirSize={s.data_dir_size}",
             f"dataLogDir={c.data_log_dir}", f"dataLogSize={s.log_dir_size}",
             f"tickTime={c.tick_time}", f"maxClientCnxns={c.max_client_cnxns}",
             f"minSessionTimeout={c.min_session_timeout}",
             f"maxSessionTimeout={c.max_session_timeout}",
             f"clientPortListenBacklog={c.client_port_listen_backlog}",
             f"serverId={c.server_id}"]
    text = "".join(line + "\n" for line in lines)
    q = c.quorum
    if q is not None:  # QuorumZooKeeperServer.dumpConf
        text += (f"initLimit={q.init_limit}\nsyncLimit={q.sync_limit}\n"
                 f"electionAlg={q.election_alg}\n"
                 f"electionPort={'|'.join(map(str, q.election_ports))}\n"
                 f"quorumPort={'|'.join(map(str, q.quorum_ports))}\n"
                 f"peerType={q.peer_type}\nmembership: \n{q.membership}")
    return text


def cons_text(v: ServerView, word: str = "cons") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    return "".join(connection_line(c, False) + "\n" for c in v.connections) + "\n"


def crst_text(v: ServerView, word: str = "crst") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    v.reset_connection_stats()
    return "Connection stats reset.\n"


def srst_text(v: ServerView, word: str = "srst") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    v.reset_stats()
    return "Server stats reset.\n"


def dirs_text(v: ServerView, word: str = "dirs") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    s = v.stats
    return f"datadir_size: {s.data_dir_size}\nlogdir_size: {s.log_dir_size}\n"


def _expiry_dump(buckets: list[tuple[int, list[str]]], offset: int) -> str:
    """ExpiryQueue.dump: 'Sets (buckets)/(elements):' then each bucket by time."""
    total = sum(len(items) for _, items in buckets)
    out = [f"Sets ({len(buckets)})/({total}):\n"]
    for t, items in sorted(buckets, key=lambda b: b[0]):
        out.append(f"{len(items)} expire at {java_date(t + offset)}:\n")
        out.extend(f"\t{item}\n" for item in items)
    return "".join(out)


def _session_dump(v: ServerView, off: int) -> list[str]:
    """SessionTracker.dumpSessions: SessionTrackerImpl's "Session " + its expiry queue; with
    local sessions "Local " + the local tracker's first (the leader then "Global " + its
    global tracker's); a learner lists its global sessions with their timeouts, in id order
    (LearnerSessionTracker: a TreeSet of longs), as it tracks no expiry for them."""
    out: list[str] = []
    local = v.local_session_expiry
    if local is not None:
        out += ["Local Session ", _expiry_dump([(t, [f"0x{hex_long(s)}" for s in ids])
                                                for t, ids in local], off)]
    learner = v.learner_sessions
    if learner is not None:
        out.append(f"Global Sessions({len(learner)}):\n")
        out.extend(f"0x{hex_long(sid)}\t{timeout}ms\n" for sid, timeout in sorted(learner))
        return out
    if local is not None:
        out.append("Global ")
    out += ["Session ", _expiry_dump([(t, [f"0x{hex_long(s)}" for s in ids])
                                      for t, ids in v.session_expiry], off)]
    return out


def dump_text(v: ServerView, word: str = "dump") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    off = v.wall_minus_elapsed_ms
    out = ["SessionTracker dump:\n", *_session_dump(v, off)]
    eph = v.ephemerals
    out.append("ephemeral nodes dump:\n")
    out.append(f"Sessions with Ephemerals ({len(eph)}):\n")
    for sid, paths in eph.items():
        out.append(f"0x{hex_long(sid)}:\n")
        out.extend(f"\t{p}\n" for p in paths)
    out.append("Connections dump:\n")
    # NIOServerCnxnFactory.dumpConnections; elements are NIOServerCnxn.toString.
    out.append("Connections ")
    out.append(_expiry_dump([(t, [f"ip: /{c.host}:{c.port} sessionId: 0x{hex_long(c.session_id)}"
                                  for c in cs]) for t, cs in v.connection_expiry], off))
    return "".join(out)


def envi_text(v: ServerView, word: str = "envi") -> str:
    return "Environment:\n" + "".join(f"{k}={val}\n" for k, val in v.env)


def _paths_by_watch(v: ServerView) -> dict[str, list[int]]:
    by_path: dict[str, list[int]] = {}
    for sid, paths in v.data_watches.items():
        for p in paths:
            by_path.setdefault(p, []).append(sid)
    return by_path


def watch_text(v: ServerView, word: str = "wchs") -> str:
    """WatchCommand -> DataTree.dumpWatchesSummary / dumpWatches (data watches only)."""
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    w = v.data_watches
    if word == "wchs":
        total = sum(len(p) for p in w.values())
        return (f"{len(w)} connections watching {len(_paths_by_watch(v))} paths\n"
                f"Total watches:{total}\n")
    out = []
    if word == "wchp":
        for path, sids in _paths_by_watch(v).items():
            out.append(path + "\n")
            out.extend(f"\t0x{hex_long(s)}\n" for s in sids)
    else:
        for sid, paths in w.items():
            out.append(f"0x{hex_long(sid)}\n")
            out.extend(f"\t{p}\n" for p in paths)
    return "".join(out) + "\n"


def monitor_items(v: ServerView) -> list[tuple[str, Any]]:
    """dumpMonitorValues (version, server_state, quorum peer_state) then the provider's dump."""
    items: list[tuple[str, Any]] = [("version", v.version), ("server_state", v.stats.server_state)]
    if v.peer_state is not None:
        items.append(("peer_state", v.peer_state))
    items.extend(ordered_gauges(v.monitor_gauges))
    # DefaultMetricsContext.dump: gauge sets after the gauges, as key_name.
    for name, values in v.gauge_sets.items():
        items.extend((f"{key}_{name}", val) for key, val in values.items())
    m = v.metrics
    if m is not None:
        items.extend(m.dump())
    return items


def mntr_value(value: Any) -> str:
    """MonitorCommand.print: integers as is, other numbers as double, null as 'null'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    return str(value)


def mntr_text(v: ServerView, word: str = "mntr") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING + "\n"
    return "".join(f"zk_{k}\t{mntr_value(val)}\n" for k, val in monitor_items(v))


def isro_text(v: ServerView, word: str = "isro") -> str:
    if not v.is_serving:
        return "null"
    return "ro" if v.is_read_only else "rw"


def hash_text(v: ServerView, word: str = "hash") -> str:
    if not v.is_serving:
        return ZK_NOT_SERVING  # DigestCommand uses print, not println
    return "".join(f"{hex_long(z)}: {d}\n" for z, d in v.digests)


def ruok_text(v: ServerView, word: str = "ruok") -> str:
    return "imok"


def gtmk_text(v: ServerView, word: str = "gtmk") -> str:
    return str(v.trace_mask)
