"""A kazoo client run inside a service's namespace (`ip netns exec`), so the compose hostnames
resolve through that namespace's /etc/hosts: `compose_client.py HOSTS write NAME COUNT` creates
/compose/NAME-0..COUNT-1; `compose_client.py HOSTS count` prints how many /compose children the
server it reached sees after a sync; `compose_client.py HOSTS anonymous` makes one request without
logging in and prints the error it got. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys

from kazoo.client import KazooClient


def anonymous(hosts: str) -> dict[str, object]:
    """One request without logging in; no retries: what the server answers is the result."""
    zk = KazooClient(hosts=hosts, timeout=10.0)
    zk.start(timeout=20)
    try:
        children = zk.get_children("/")
        return {"error": "", "children": children}
    except Exception as e:  # noqa: BLE001 - the exception type is the result
        return {"error": type(e).__name__}
    finally:
        zk.stop()
        zk.close()


def main(argv: list[str]) -> int:
    hosts, op = argv[0], argv[1]
    if op == "anonymous":
        print(json.dumps(anonymous(hosts)))
        return 0
    zk = KazooClient(hosts=hosts, timeout=10.0,
                     connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1.0},
                     command_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1.0})
    zk.start(timeout=20)
    try:
        if op == "write":
            name, count = argv[2], int(argv[3])
            for i in range(count):
                zk.create(f"/compose/{name}-{i}", f"{name}-{i}".encode(), makepath=True)
            out: dict[str, object] = {"created": count}
        else:
            zk.sync("/compose")
            out = {"children": len(zk.get_children("/compose"))}
        sock = getattr(zk._connection, "_socket", None)  # which member served us
        host = sock.getpeername()[0] if sock is not None else ""
        print(json.dumps({**out, "server": host}))
    finally:
        zk.stop()
        zk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
