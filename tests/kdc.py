"""An MIT Kerberos KDC on loopback for tests: its own realm database, krb5.conf and port.

Debian's krb5-kdc (krb5kdc, kdb5_util) and krb5-admin-server (kadmin.local) build a realm in a
temporary folder; krb5kdc runs in the foreground on 127.0.0.x:<free port> (TCP and UDP) and is
ready when a keytab login (kinit -k) gets a ticket. Stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REALM = "EXAMPLE.COM"
KDC_HOST = "127.0.0.46"
TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if _tool(t) is None]


def _free_port(host: str) -> int:
    """A port free for both TCP and UDP on host (the KDC serves both)."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind((host, 0))
            port = int(t.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for the KDC")


@dataclass
class Kdc:
    root: Path
    realm: str = REALM
    host: str = KDC_HOST
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    keytabs: dict[str, Path] = field(default_factory=dict)

    @property
    def krb5_conf(self) -> Path:
        return self.root / "krb5.conf"

    def env(self) -> dict[str, str]:
        """Variables every Kerberos program of the test needs (MIT reads KRB5_CONFIG; Java
        gets -Djava.security.krb5.conf instead)."""
        return {"KRB5_CONFIG": str(self.krb5_conf),
                "KRB5_KDC_PROFILE": str(self.root / "kdc.conf"),
                "KRB5CCNAME": f"FILE:{self.root / 'ccache'}"}

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        tool = _tool(cmd[0])
        assert tool is not None, cmd[0]
        return subprocess.run([tool, *cmd[1:]], env={**os.environ, **self.env()},
                              capture_output=True, text=True, timeout=60, check=check)

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port(self.host)
        db = self.root / "db"
        db.mkdir(exist_ok=True)
        (self.root / "kdc.conf").write_text(
            f"[kdcdefaults]\n kdc_listen = {self.host}:{self.port}\n"
            f" kdc_tcp_listen = {self.host}:{self.port}\n"
            f"[realms]\n {self.realm} = {{\n  database_name = {db / 'principal'}\n"
            f"  key_stash_file = {db / 'stash'}\n  acl_file = {db / 'kadm5.acl'}\n"
            f"  max_life = 1h\n  max_renewable_life = 1h\n"
            f"  supported_enctypes = aes256-cts-hmac-sha1-96:normal"
            f" aes128-cts-hmac-sha1-96:normal\n }}\n"
            f"[logging]\n kdc = FILE:{self.root / 'kdc.log'}\n")
        self.krb5_conf.write_text(
            f"[libdefaults]\n default_realm = {self.realm}\n dns_lookup_kdc = false\n"
            f" dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n"
            f" udp_preference_limit = 1\n ignore_acceptor_hostname = false\n"
            f" default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n"
            f" default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n"
            f" permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n"
            f"[realms]\n {self.realm} = {{\n  kdc = {self.host}:{self.port}\n }}\n")
        self._run("kdb5_util", "create", "-s", "-r", self.realm, "-P", "kdc-master-pw")

    def add_principal(self, name: str, keytab: Path | None = None) -> Path:
        """A principal with a random key, exported to a keytab (its own unless given)."""
        self._run("kadmin.local", "-r", self.realm, "-q", f"addprinc -randkey {name}")
        path = keytab or self.root / (name.replace("/", "_").replace("@", "_") + ".keytab")
        self._run("kadmin.local", "-r", self.realm, "-q", f"ktadd -k {path} -norandkey {name}")
        self.keytabs[name] = path
        return path

    def rekey(self, name: str) -> None:
        """New random keys for the principal: keytabs exported before are stale."""
        self._run("kadmin.local", "-r", self.realm, "-q", f"cpw -randkey {name}")

    def start(self, timeout: float = 20.0) -> None:
        probe = self.add_principal("kdcprobe")
        tool = _tool("krb5kdc")
        assert tool is not None
        log = open(self.root / "krb5kdc.out", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([tool, "-n", "-r", self.realm],
                                     env={**os.environ, **self.env()}, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            got = self._run("kinit", "-k", "-t", str(probe), f"kdcprobe@{self.realm}",
                            check=False)
            if got.returncode == 0:
                return
            last = got.stderr
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"KDC not ready in {timeout}s: {last.strip()} "
                           f"{(self.root / 'krb5kdc.out').read_text(errors='replace')[-500:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
