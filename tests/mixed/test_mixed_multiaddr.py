"""multiAddress.enabled in a mixed ensemble: every server line lists two loopback addresses
(127.0.20.i and 127.0.21.i), both kinds run with -Dzookeeper.multiAddress.enabled=true (Java's
QuorumServer reads only the system property), so the election handshake is V2 with both
addresses. A pyzk leader takes a Java follower, a Java leader takes pyzk followers, and every
member prints the same multi-address /zookeeper/config."""

from __future__ import annotations

from collections.abc import Callable

from tests.ensemble.launcher import Ensemble, start_client
from tests.mixed.mixhelp import close_all, restart, start_led_by, write_then_read_everywhere

LINKS = ("127.0.20", "127.0.21")


def _multi(ens: Ensemble) -> None:
    lines = {f"server.{i}": "|".join(f"{s}.{i}:2888:3888" for s in LINKS) for i in ens.members}
    for m in ens.members.values():
        m.cfg.update(lines)
        m.env["SERVER_JVMFLAGS"] = "-Dzookeeper.multiAddress.enabled=true"


def _configs(ens: Ensemble) -> dict[int, str]:
    cs = {s: start_client(m.address) for s, m in ens.members.items() if m.running}
    try:
        return {s: c.get("/zookeeper/config")[0].decode() for s, c in cs.items()}
    finally:
        close_all(cs.values())


def test_multi_address_lines_interoperate(mixed: Callable[..., Ensemble]) -> None:
    ens = mixed({1: "pyzk", 2: "java", 3: "pyzk"}, subnet=LINKS[0])
    _multi(ens)
    start_led_by(ens, leader=3, second=2)  # pyzk leads a Java follower
    write_then_read_everywhere(ens, "/ma/pyzk-led")
    assert "multiAddress.enabled set to true" in ens.members[2].log_text()
    configs = _configs(ens)
    want = "server.2=127.0.20.2:2888:3888|127.0.21.2:2888:3888:participant"
    assert all(want in c.splitlines() for c in configs.values()), configs
    assert len(set(configs.values())) == 1, configs
    java_conf = ens.members[2].fourlw(ens.members[2].host, "conf")
    pyzk_conf = ens.members[1].fourlw(ens.members[1].host, "conf")
    for key in ("electionPort=", "quorumPort=", "server.3="):
        assert [ln for ln in java_conf.splitlines() if ln.startswith(key)] == \
            [ln for ln in pyzk_conf.splitlines() if ln.startswith(key)], (key, java_conf, pyzk_conf)

    ens.members[3].stop()  # the Java member (higher sid of the two left) leads pyzk 1
    modes = ens.wait_serving(40)
    assert modes == {1: "follower", 2: "leader"}, modes
    restart(ens, 3)  # and a pyzk member joining a Java leader over the V2 handshake
    assert ens.modes() == {1: "follower", 2: "leader", 3: "follower"}
    write_then_read_everywhere(ens, "/ma/java-led")
    assert len(set(_configs(ens).values())) == 1


def test_zoo_cfg_key_alone_is_refused_by_both(mixed: Callable[..., Ensemble]) -> None:
    """`multiAddress.enabled=true` in zoo.cfg without the system property: Java's QuorumServer
    still refuses a `|` line, and pyzk with Java's message (Java names whichever server line
    its Properties hash table yields first; pyzk the first in the file)."""
    ens = mixed({1: "java", 2: "pyzk", 3: "pyzk"}, subnet=LINKS[0])
    _multi(ens)
    want = "Multiple address feature is disabled, but multiple addresses were specified for sid"
    for sid in (1, 2):
        m = ens.members[sid]
        m.env.pop("SERVER_JVMFLAGS")
        m.cfg["multiAddress.enabled"] = "true"
        m.start()
        assert m.proc is not None
        m.proc.wait(30)
        assert want in m.log_text(), m.tail_log()
