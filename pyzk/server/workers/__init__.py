"""pyzk.workers: a server that serves clients from several processes.

The member process (standalone, or a quorum member) keeps election, ZAB, the txn log,
snapshots and the session tracker, accepts every client connection and hands some of them
to worker processes (pool.py). Each worker holds a replica of the tree fed by the member's
commits exactly as an observer is (worker_host.py over the member's ObserverMasterCore, or
local_master.py on a server that proposes its own txns): reads are served locally; writes,
sync, createSession and closeSession go to the member, and a write is answered once its
txn is applied in the worker, so a client's guarantees hold as across an ensemble's servers.
"""

from ...config.model import Config


def link_limits(config: Config) -> tuple[int, int]:
    """initLimit and syncLimit (ticks) of a worker's link: the member's, or on a standalone
    server (which has none) 10 and 5, the values zoo_sample.cfg ships."""
    return config.init_limit or 10, config.sync_limit or 5
