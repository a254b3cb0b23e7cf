"""Record real client traffic: zkCli.sh (the Java client) talking to Debian's Java ZooKeeper
through a recording proxy. Writes frames.json: each frame's direction and hex bytes.

Run by hand (needs Java): python -m tests.golden.client.capture_java_client
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.servers import ServerProc, free_port

HERE = Path(__file__).resolve().parent

HOST = "127.0.0.131"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
COMMANDS = """create /golden data
create -e /golden/eph e
create -s /golden/seq- s
create -c /golden/cont
set /golden newdata
get -s /golden
ls -w /golden
getAcl /golden
setAcl /golden world:anyone:cdrwa
addauth digest alice:secret
whoami
stat /golden
getAllChildrenNumber /golden
getEphemerals /golden
sync /golden
addWatch -m PERSISTENT_RECURSIVE /golden
delete /golden/cont
deleteall /golden
quit
"""


def _split(buf: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 4 <= len(buf):
        (n,) = struct.unpack_from(">i", buf, pos)
        out.append(buf[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def main() -> None:
    srv = ServerProc("java", Path(tempfile.mkdtemp()), host=HOST).start()
    port = free_port(HOST)
    lsock = socket.create_server((HOST, port))
    streams: dict[str, bytearray] = {"c2s": bytearray(), "s2c": bytearray()}

    def pump(a: socket.socket, b: socket.socket, key: str) -> None:
        while True:
            data = a.recv(65536)
            if not data:
                b.shutdown(socket.SHUT_WR)
                return
            streams[key] += data
            b.sendall(data)

    def accept() -> None:
        c, _ = lsock.accept()
        s = socket.create_connection((srv.host, srv.port))
        t1 = threading.Thread(target=pump, args=(c, s, "c2s"), daemon=True)
        t2 = threading.Thread(target=pump, args=(s, c, "s2c"), daemon=True)
        t1.start(), t2.start()
        t1.join(30), t2.join(30)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        subprocess.run([ZKCLI, "-server", f"{HOST}:{port}"], input=COMMANDS.encode(),
                       capture_output=True, timeout=60, check=False)
        acceptor.join(30)
    finally:
        srv.stop()
    frames = {k: [f.hex() for f in _split(bytes(v))] for k, v in streams.items()}
    (HERE / "frames.json").write_text(json.dumps(frames, indent=1) + "\n")
    print({k: len(v) for k, v in frames.items()})


if __name__ == "__main__":
    main()
