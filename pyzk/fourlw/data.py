"""AdminServer command bodies (S/server/admin/Commands.java): each returns the response's data map
with Java's field names and order; `command`/`error` are added by pyzk.fourlw.commands.
Bean-valued fields follow the order Jackson used for ServerStats/BufferStats (golden capture).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyzk.fourlw.info import ConnectionInfo, ServerView
from pyzk.fourlw.javafmt import hex_long
from pyzk.fourlw.text import _paths_by_watch, monitor_items

Data = dict[str, Any]


def connection_info(c: ConnectionInfo, brief: bool) -> Data:
    """ServerCnxn.getConnectionInfo; Jackson writes the InetSocketAddress as host:port."""
    d: Data = {"remote_socket_address": f"{c.host}:{c.port}", "interest_ops": c.interest_ops,
               "outstanding_requests": c.outstanding_requests,
               "packets_received": c.packets_received, "packets_sent": c.packets_sent}
    if not brief:
        d.update(session_id=c.session_id, last_operation=c.last_operation,
                 established=c.established, session_timeout=c.session_timeout,
                 last_cxid=c.last_cxid, last_zxid=c.last_zxid,
                 last_response_time=c.last_response_time, last_latency=c.last_latency,
                 min_latency=c.min_latency, avg_latency=c.avg_latency,
                 max_latency=c.max_latency)
    return d


def _buffer_stats(last: int, lo: int, hi: int) -> Data:
    return {"last_buffer_size": last, "min_buffer_size": lo, "max_buffer_size": hi}


def server_stats(v: ServerView, kw: Mapping[str, str]) -> Data:
    """SrvrCommand."""
    s = v.stats
    client = _buffer_stats(s.client_response_last, s.client_response_min, s.client_response_max)
    d: Data = {"version": v.version, "read_only": v.is_read_only, "server_stats": {
        "packets_sent": s.packets_sent, "packets_received": s.packets_received,
        "fsync_threshold_exceed_count": s.fsync_threshold_exceed_count,
        "client_response_stats": dict(client), "provider_null": False,
        "data_dir_size": s.data_dir_size, "log_dir_size": s.log_dir_size,
        "server_state": s.server_state, "last_processed_zxid": s.last_processed_zxid,
        "outstanding_requests": s.outstanding_requests, "avg_latency": float(s.avg_latency),
        "max_latency": s.max_latency, "min_latency": s.min_latency,
        "num_alive_client_connections": s.num_alive_client_connections, "uptime": s.uptime,
        "auth_failed_count": s.auth_failed_count,
        # Jackson's SNAKE_CASE of getNonMTLSRemoteConnCount
        "non_mtlsremote_conn_count": s.non_mtls_remote_conn_count,
        "non_mtlslocal_conn_count": s.non_mtls_local_conn_count,
    }, "client_response": client}
    if v.proposal_sizes is not None and s.server_state == "leader":
        d["proposal_stats"] = _buffer_stats(*v.proposal_sizes)
    d["node_count"] = v.node_count
    return d


def stats(v: ServerView, kw: Mapping[str, str]) -> Data:
    d = server_stats(v, kw)
    d["connections"] = [connection_info(c, True) for c in v.connections]
    d["secure_connections"] = [connection_info(c, True) for c in v.secure_connections]
    return d


def connections(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {"connections": [connection_info(c, False) for c in v.connections],
            "secure_connections": [connection_info(c, False) for c in v.secure_connections]}


def configuration(v: ServerView, kw: Mapping[str, str]) -> Data:
    """ZooKeeperServerConf.toMap."""
    c = v.conf
    return {"client_port": c.client_port, "data_dir": c.data_dir, "data_log_dir": c.data_log_dir,
            "tick_time": c.tick_time, "max_client_cnxns": c.max_client_cnxns,
            "min_session_timeout": c.min_session_timeout,
            "max_session_timeout": c.max_session_timeout, "server_id": c.server_id,
            "client_port_listen_backlog": c.client_port_listen_backlog}


def dirs(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {"datadir_size": v.stats.data_dir_size, "logdir_size": v.stats.log_dir_size}


def dump(v: ServerView, kw: Mapping[str, str]) -> Data:
    """Expiry buckets keyed by elapsed-ms time (a TreeMap: ascending), and ephemerals.
    getSessionExpiryMap: a learner's is empty; with local sessions the local tracker's
    buckets, then the global tracker's put over them (Map.putAll: a shared time keeps the
    global sessions only)."""
    buckets: dict[int, list[int]] = {}
    if v.learner_sessions is None:
        for t, ids in v.local_session_expiry or ():
            buckets[t] = list(ids)
        for t, ids in v.session_expiry:
            buckets[t] = list(ids)
    return {"expiry_time_to_session_ids": {str(t): ids for t, ids in sorted(buckets.items())},
            "session_id_to_ephemeral_paths": {str(s): list(p) for s, p in v.ephemerals.items()}}


def environment(v: ServerView, kw: Mapping[str, str]) -> Data:
    # Environment.list, the same source as the envi 4LW
    return dict(v.env)


def digests(v: ServerView, kw: Mapping[str, str]) -> Data:
    # ZxidDigest bean: fields zxid, digest, digestVersion (2 = the CRC-32 digest of 3.6+).
    return {"digests": [{"zxid": z, "digest": d, "digest_version": 2} for z, d in v.digests]}


def get_trace_mask(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {"tracemask": v.trace_mask}


def set_trace_mask(v: ServerView, kw: Mapping[str, str]) -> Data:
    if "traceMask" not in kw:
        return {"error": "setTraceMask requires long traceMask argument"}
    try:
        mask = int(kw["traceMask"])
        if not -(1 << 63) <= mask < (1 << 63):
            raise ValueError
    except ValueError:
        return {"error": f"setTraceMask requires long traceMask argument, got {kw['traceMask']}"}
    v.set_trace_mask(mask)
    return {"tracemask": mask}


def initial_configuration(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {"initial_configuration": v.initial_config}


def is_read_only(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {"read_only": v.is_read_only}


def last_snapshot(v: ServerView, kw: Mapping[str, str]) -> Data:
    snap = v.last_snapshot
    zxid, ts = snap if snap is not None else (-1, -1)
    return {"zxid": hex_long(zxid), "timestamp": ts}


def leader(v: ServerView, kw: Mapping[str, str]) -> Data:
    q = v.quorum
    if q is None:
        return {"error": "server is not initialized"}
    return {"is_leader": q.is_leader, "leader_id": q.leader_id, "leader_ip": q.leader_ip}


def monitor(v: ServerView, kw: Mapping[str, str]) -> Data:
    return dict(monitor_items(v))


def observers(v: ServerView, kw: Mapping[str, str]) -> Data:
    q = v.quorum
    if q is None:
        return {"synced_observers": 0, "observers": []}
    return {"synced_observers": q.synced_observers, "observers": list(q.observers)}


def ruok(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {}


def stat_reset(v: ServerView, kw: Mapping[str, str]) -> Data:
    v.reset_stats()
    return {}


def connection_stat_reset(v: ServerView, kw: Mapping[str, str]) -> Data:
    v.reset_connection_stats()
    return {}


def observer_connection_stat_reset(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {}  # only leaders/followers with observers have anything to reset


def system_properties(v: ServerView, kw: Mapping[str, str]) -> Data:
    return dict(sorted(v.system_properties.items()))


def voting_view(v: ServerView, kw: Mapping[str, str]) -> Data:
    q = v.quorum
    view = {} if q is None else {str(k): dict(val) for k, val in q.voting_view.items()}
    return {"current_config": view}


def watches(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {"session_id_to_watched_paths": {str(s): list(p) for s, p in v.data_watches.items()}}


def watches_by_path(v: ServerView, kw: Mapping[str, str]) -> Data:
    return {"path_to_session_ids": _paths_by_watch(v)}


def watch_summary(v: ServerView, kw: Mapping[str, str]) -> Data:
    w = v.data_watches
    return {"num_connections": len(w), "num_paths": len(_paths_by_watch(v)),
            "num_total_watches": sum(len(p) for p in w.values())}


def zabstate(v: ServerView, kw: Mapping[str, str]) -> Data:
    q = v.quorum
    if q is None:
        return {"voting": False, "zabstate": ""}
    z = v.stats.last_processed_zxid
    return {"myid": q.myid, "is_leader": q.is_leader, "quorum_address": q.quorum_address,
            "election_address": q.election_address, "client_address": q.client_address,
            "voting": q.voting, "last_zxid": f"0x{hex_long(z)}", "zab_epoch": z >> 32,
            "zab_counter": z & 0xFFFFFFFF, "zabstate": q.zabstate}
