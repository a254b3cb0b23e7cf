"""Seeded generator of hostile traffic for a member's peer ports: the election port (3888,
QuorumCnxManager's initial message then int-framed FLE notifications) and the quorum port
(2888, back-to-back jute QuorumPackets, LearnerHandler's handshake).

A case is a short script of steps run on ONE connection (see tests/fuzz/peerrun.py):
  ("send", bytes)        write these bytes
  ("pause", seconds)     wait a little (a connection that stalls mid-frame)
  ("recv_packet", None)  read one QuorumPacket the server sends (LEADERINFO), up to a bound
  ("drain", seconds)     read whatever the server sends for that long (the sync: DIFF/SNAP...)
  ("ack_newleader", None) send ACK with the zxid of the LEADERINFO read (NEWLEADER's zxid)
  ("ackepoch", "zero"|"epoch-start") ACKEPOCH claiming lastZxid 0, or the first txn of the
                         LEADERINFO's epoch (a learner far behind in the current epoch)
  ("hold", None)         stop sending; how the server ends the connection is the outcome
Every case ends with a hold. The same (seed, index) always gives the same case: `cases(seed, n,
...)` draws case k from random.Random(f"{seed}:{kind}:{k}").

Addresses inside initial messages are only ever loopback addresses of the run's own subnet with
a port nothing listens on, or strings that fail parsing before any name is resolved (no colon,
too many colons, a port that is not a number): a member that dials back never leaves the box.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from pyzk.zab.packets import PROTOCOL_VERSION, PT, encode_packet, packet

V1 = -65536  # QuorumCnxManager.PROTOCOL_VERSION_V1
V2 = -65535
OBSERVER_ID = 2**63 - 1
MAX_ADDR = 2048  # QuorumCnxManager.maxBuffer
PACKETMAX = 512 * 1024

Step = tuple[str, object]


@dataclass(frozen=True)
class Target:
    """What a case needs to know about the member it is aimed at."""

    sid: int               # the member's own sid
    members: tuple[int, ...]
    subnet: str            # e.g. "127.0.62": dial-back addresses stay inside it
    dead_port: int = 3999  # a port nothing listens on


@dataclass
class Case:
    kind: str              # "election" or "quorum"
    index: int
    name: str
    steps: list[Step] = field(default_factory=list)

    def send(self, b: bytes) -> Case:
        self.steps.append(("send", b))
        return self

    def pause(self, s: float) -> Case:
        self.steps.append(("pause", s))
        return self

    def recv_packet(self) -> Case:
        self.steps.append(("recv_packet", None))
        return self

    def hold(self) -> Case:
        self.steps.append(("hold", None))
        return self


# -- election port ----------------------------------------------------------------------------

def initial(sid: int, addr: bytes, version: int = V1, length: int | None = None) -> bytes:
    n = len(addr) if length is None else length
    return struct.pack(">qqi", version, sid, n) + addr


def notification(state: int, leader: int, zxid: int, epoch: int, peer_epoch: int,
                 version: int | None = 2, config: bytes = b"", config_len: int | None = None) -> bytes:
    body = struct.pack(">iqqqq", state, leader, zxid, epoch, peer_epoch)
    if version is None:
        return body
    body += struct.pack(">i", version)
    if version > 1:
        body += struct.pack(">i", len(config) if config_len is None else config_len) + config
    return body


def framed(payload: bytes, length: int | None = None) -> bytes:
    return struct.pack(">i", len(payload) if length is None else length) + payload


def _good_addr(t: Target, rng: random.Random) -> bytes:
    return f"{t.subnet}.{rng.randint(200, 250)}:{t.dead_port}".encode()


def _bad_addr(t: Target, rng: random.Random) -> bytes:
    host = f"{t.subnet}.{rng.randint(200, 250)}"
    return rng.choice([
        b"no-colon-at-all",
        f"{host}:{t.dead_port}:7".encode(),
        f"{host}:port".encode(),
        f"{host}:".encode(),
        f"{host}:\xff\xfe".encode("latin-1"),           # not UTF-8, in the port
        f"{host}:{t.dead_port}|".encode(),              # a trailing '|' (valid for Java)
        f"[{host}:{t.dead_port}".encode(),              # an unclosed bracket
        f"{host}:{t.dead_port}|{host}:x".encode(),
        b"\x00\x01\x02:" + bytes(rng.randrange(256) for _ in range(5)),
        f"{host}:99999".encode(),                       # a port out of range
        f"{host}:-1".encode(),
    ])


def _sid_choice(t: Target, rng: random.Random) -> tuple[str, int]:
    others = [s for s in t.members if s != t.sid]
    return rng.choice([
        ("own", t.sid),
        ("member", rng.choice(others)),
        ("lower-unknown", -rng.randint(2, 1 << 40)),
        ("zero", 0),
        ("higher-unknown", rng.randint(1000, 1 << 40)),
        ("observer-id", OBSERVER_ID),
    ])


def _election_initial_bad(c: Case, t: Target, rng: random.Random) -> None:
    sub = rng.choice(["trunc", "length", "version", "addr"])
    c.name = f"election/initial-{sub}"
    sid = rng.choice(t.members)
    good = initial(sid, _good_addr(t, rng))
    if sub == "trunc":
        cut = rng.randint(1, len(good) - 1)
        c.send(good[:cut])
        if rng.random() < 0.5:
            rest = rng.randint(0, 3)
            c.pause(0.05).send(good[cut:cut + rest])
            if cut + rest >= len(good):
                # The message is whole after all, only split in two TCP segments: Java refuses
                # it when the address bytes are split (InitialMessage.parse reads them with
                # din.read, not readFully); pyzk waits for them.
                c.name = f"election/initial-split-sid-{'own' if sid == t.sid else 'member'}"
    elif sub == "length":
        n = rng.choice([-1, 0, -(1 << 31), MAX_ADDR + 1, (1 << 31) - 1, 1 << 20])
        c.name += f"={n}"
        c.send(initial(rng.randint(1000, 2000), b"", length=n) + b"x" * rng.randint(0, 64))
    elif sub == "version":
        v = rng.choice([-1, -65534, -65537, -(1 << 63), V2 + 7])
        c.name += f"={v}"
        c.send(initial(rng.randint(1000, 2000), _good_addr(t, rng), version=v))
    else:
        addr = _bad_addr(t, rng)
        c.name += f"={addr!r}"
        if addr.endswith(b"|"):
            # Not bad after all: String.split drops the trailing empty item, Java takes it.
            c.name = f"election/trailing-bar-addr={addr!r}"
        c.send(initial(rng.choice([rng.randint(1000, 2000), -5]), addr,
                       version=rng.choice([V1, V2])))


def _bogus_notification(rng: random.Random) -> tuple[str, bytes]:
    what = rng.choice(["short", "v0-28", "v40", "wrongver", "cfglen", "state", "epochs",
                       "badcfg", "framelen"])
    if what == "short":
        return what, framed(bytes(rng.randrange(256) for _ in range(rng.randint(1, 27))))
    if what == "v0-28":
        return what, framed(notification(rng.randint(0, 3), 99, 1 << 40, 1 << 50, 0,
                                          version=None)[:28])
    if what == "v40":
        return what, framed(notification(2, rng.randint(1, 9), 5, 9, 3, version=1)[:40])
    if what == "wrongver":
        v = rng.choice([-1, 0, 1, 3, 1 << 30])
        return what, framed(notification(0, 1, 0, 1, 0, version=v))
    if what == "cfglen":
        n = rng.choice([-1, 1 << 30, 5000, 45])
        return what, framed(notification(0, 1, 0, 1, 0, config=b"server.1=x", config_len=n))
    if what == "state":
        return what, framed(notification(rng.choice([4, -1, 1 << 20]), 1, 0, 1, 0))
    if what == "epochs":
        big = rng.choice([-1, 1 << 62, -(1 << 63), (1 << 63) - 1])
        return what, framed(notification(rng.randint(0, 3), rng.choice([big, 1, 2, 3]), big,
                                          big, big))
    if what == "badcfg":
        cfg = rng.choice([b"server.x=1", b"version=zz", b"server.1=127.0.62.250:1:2:3:4:5",
                          b"\xff\xfe\xfd", b"version=ffffffffffffffffffff\nserver.1=a",
                          b"group.1=1:2\nweight.1=x"])
        return what, framed(notification(0, 1, 0, 1, 0, config=cfg))
    n = rng.choice([0, -1, PACKETMAX + 1, (1 << 31) - 1])
    return f"framelen={n}", struct.pack(">i", n) + b"\x00" * 8


def _election_then_notes(c: Case, t: Target, rng: random.Random) -> None:
    label, sid = _sid_choice(t, rng)
    c.send(initial(sid, _good_addr(t, rng), version=rng.choice([V1, V2])))
    kinds = []
    for _ in range(rng.randint(1, 6)):
        what, b = _bogus_notification(rng)
        kinds.append(what)
        c.send(b)
        if rng.random() < 0.3:
            c.pause(0.02)
    c.name = f"election/sid-{label}+notes:{','.join(kinds)}"


def _election_stall(c: Case, t: Target, rng: random.Random) -> None:
    """A valid initial message and then a notification frame cut short, or nothing at all."""
    label, sid = _sid_choice(t, rng)
    c.name = f"election/stall-{label}"
    if rng.random() < 0.3:
        c.name = "election/stall-silent"
        return
    c.send(initial(sid, _good_addr(t, rng)))
    note = framed(notification(0, 1, 0, 1, 0))
    c.send(note[:rng.randint(1, len(note) - 1)])


def _election_legacy(c: Case, t: Target, rng: random.Random) -> None:
    """The pre-3.5 form: a bare non-negative sid, then frames."""
    label, sid = _sid_choice(t, rng)
    sid = abs(sid)  # OBSERVER_ID stays itself: the anonymous observer of the pre-3.5 form
    label = "higher-unknown" if label == "lower-unknown" else label
    c.name = f"election/legacy-sid-{label}"
    c.send(struct.pack(">q", sid))
    if rng.random() < 0.5:
        c.send(_bogus_notification(rng)[1])


ELECTION = [_election_initial_bad, _election_then_notes, _election_stall, _election_legacy]


# -- quorum port ------------------------------------------------------------------------------

def qp(ptype: int, zxid: int = 0, data: bytes | None = None) -> bytes:
    return bytes(encode_packet(packet(ptype, zxid, data)))


def learner_info(sid: int, version: int = PROTOCOL_VERSION, config_version: int = 0) -> bytes:
    return struct.pack(">qiq", sid, version, config_version)


def _quorum_garbage(c: Case, t: Target, rng: random.Random) -> None:
    sub = rng.choice(["random", "text", "prefix-then-info"])
    c.name = f"quorum/garbage-{sub}"
    if sub == "random":
        c.send(bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
    elif sub == "text":
        c.send(rng.choice([b"GET / HTTP/1.0\r\n\r\n", b"ruok", b"\x16\x03\x01\x00\x05hello"]))
    else:
        c.send(bytes(rng.randrange(256) for _ in range(rng.randint(1, 7))))
        c.send(qp(PT.FOLLOWERINFO, 0, learner_info(rng.randint(1000, 2000))))


def _quorum_lengths(c: Case, t: Target, rng: random.Random) -> None:
    n = rng.choice([-2, -(1 << 31), (1 << 31) - 1, 0xFFFFF + 1025, 1 << 24, 0xFFFFF + 2000])
    c.name = f"quorum/data-length={n}"
    c.send(struct.pack(">iqi", PT.FOLLOWERINFO, 0, n) + b"\x00" * rng.randint(0, 32))


def _quorum_first_packet(c: Case, t: Target, rng: random.Random) -> None:
    ptype = rng.choice([0, -1, 99, 1 << 20, PT.ACK, PT.REQUEST, PT.PING, PT.ACKEPOCH,
                        PT.SNAP, PT.PROPOSAL, PT.COMMIT, PT.REVALIDATE])
    c.name = f"quorum/first-packet-type={ptype}"
    data = rng.choice([None, b"", bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))])
    c.send(qp(ptype, rng.randint(0, 1 << 40), data))


def _info_data(t: Target, rng: random.Random) -> tuple[str, bytes | None]:
    label, sid = _sid_choice(t, rng)
    sub = rng.choice(["sid", "sid", "short", "none", "old-proto", "cfg-ahead", "huge"])
    if sub == "short":
        return "short-data", bytes(rng.randrange(256) for _ in range(rng.randint(1, 7)))
    if sub == "none":
        return "null-data", None
    if sub == "old-proto":
        return f"old-proto-{label}", learner_info(sid, version=rng.choice([0, 0xFFFF, -1]))
    if sub == "cfg-ahead":
        return f"cfg-ahead-{label}", learner_info(sid, config_version=1 << 40)
    if sub == "huge":
        return "long-data", learner_info(sid) + bytes(rng.randint(1, 4000))
    return f"sid-{label}", learner_info(sid)


def _quorum_info_then(c: Case, t: Target, rng: random.Random) -> None:
    """FOLLOWERINFO/OBSERVERINFO with a bogus sid or LearnerInfo, then a packet that is not
    ACKEPOCH (or nothing)."""
    label, data = _info_data(t, rng)
    ptype = rng.choice([PT.FOLLOWERINFO, PT.OBSERVERINFO])
    zxid = rng.choice([0, 1 << 32, (1 << 62), -1])
    c.send(qp(ptype, zxid, data))
    after = rng.choice(["nothing", "ack", "request", "ping", "unknown", "garbage"])
    c.name = f"quorum/{PT(ptype).name.lower()}-{label}-zxid={zxid:#x}-then-{after}"
    if after == "nothing":
        return
    c.pause(0.1)
    if after == "garbage":
        c.send(bytes(rng.randrange(256) for _ in range(rng.randint(1, 30))))
        return
    t2 = {"ack": PT.ACK, "request": PT.REQUEST, "ping": PT.PING, "unknown": 77}[after]
    c.send(qp(t2, rng.randint(0, 1 << 33), bytes(rng.randrange(256) for _ in range(8))))


def _handshake(c: Case, sid: int, rng: random.Random) -> None:
    """A complete learner handshake as a non-member sid: FOLLOWERINFO, LEADERINFO read,
    ACKEPOCH, the sync read up to NEWLEADER (a few packets), ACK."""
    c.send(qp(PT.OBSERVERINFO if rng.random() < 0.5 else PT.FOLLOWERINFO, 0,
              learner_info(sid)))
    c.recv_packet()
    # lastZxid 0, or the first txn of the leader's epoch: once the committed window has
    # moved past that, the leader reads its txn log for the DIFF.
    c.steps.append(("ackepoch", rng.choice(["zero", "epoch-start"])))
    c.steps.append(("drain", 0.3))
    c.steps.append(("ack_newleader", None))
    c.steps.append(("drain", 0.1))


def _quorum_after_handshake(c: Case, t: Target, rng: random.Random) -> None:
    """A learner with an unknown sid that handshakes, then sends nonsense."""
    sid = rng.randint(1000, 1 << 30)
    _handshake(c, sid, rng)
    bad = []
    for _ in range(rng.randint(1, 4)):
        what = rng.choice(["ack-future", "request-short", "request-garbage", "unknown",
                           "snap", "ackepoch", "revalidate-short", "garbage"])
        bad.append(what)
        if what == "ack-future":
            c.send(qp(PT.ACK, (1 << 62) + rng.randint(0, 99)))
        elif what == "request-short":
            c.send(qp(PT.REQUEST, 0, bytes(rng.randint(0, 15))))
        elif what == "request-garbage":
            body = struct.pack(">qii", rng.randint(0, 1 << 62), rng.randint(0, 99),
                               rng.choice([1, 2, 5, 14, 101, -11, 9999]))
            c.send(qp(PT.REQUEST, 0, body + bytes(rng.randrange(256)
                                                   for _ in range(rng.randint(0, 40)))))
        elif what == "unknown":
            c.send(qp(rng.choice([0, 99, -7]), 0, b"x"))
        elif what == "snap":
            c.send(qp(PT.SNAP, 0, None))
        elif what == "ackepoch":
            c.send(qp(PT.ACKEPOCH, 0, b"\x00"))
        elif what == "revalidate-short":
            c.send(qp(PT.REVALIDATE, 0, b"\x01\x02"))
        else:
            c.send(bytes(rng.randrange(256) for _ in range(rng.randint(1, 30))))
    c.name = f"quorum/handshaken-{'+'.join(bad)}"


def _quorum_stall(c: Case, t: Target, rng: random.Random) -> None:
    """Silent, or a FOLLOWERINFO cut short."""
    if rng.random() < 0.4:
        c.name = "quorum/stall-silent"
        return
    b = qp(PT.FOLLOWERINFO, 0, learner_info(rng.randint(1000, 2000)))
    cut = rng.randint(1, len(b) - 1)
    c.name = f"quorum/stall-after-{cut}-bytes"
    c.send(b[:cut])


def _quorum_impostor(c: Case, t: Target, rng: random.Random) -> None:
    """A complete handshake under the sid of a real member (another voter, or the leader's
    own), then silence, ACKs of zxids never proposed, or PINGs."""
    label, sid = rng.choice([("member", rng.choice([s for s in t.members if s != t.sid])),
                             ("own", t.sid)])
    _handshake(c, sid, rng)
    then = rng.choice(["nothing", "ack-future", "ping"])
    for _ in range(rng.randint(1, 5) if then != "nothing" else 0):
        zxid = (1 << 40) + rng.randint(0, 9) if then == "ack-future" else 0
        c.send(qp(PT.ACK if then == "ack-future" else PT.PING, zxid))
        c.pause(0.05)
    c.name = f"quorum-impostor/sid-{label}-then-{then}"


QUORUM = [_quorum_garbage, _quorum_lengths, _quorum_first_packet, _quorum_info_then,
          _quorum_after_handshake, _quorum_stall]
# A kind of its own (its own random stream), so that adding it left the quorum cases of every
# seed as they were.
MAKERS = {"election": ELECTION, "quorum": QUORUM, "quorum-impostor": [_quorum_impostor]}


def case(seed: int, kind: str, index: int, target: Target) -> Case:
    rng = random.Random(f"{seed}:{kind}:{index}")
    makers = MAKERS[kind]
    c = Case(kind, index, "")
    rng.choice(makers)(c, target, rng)
    return c.hold()


def cases(seed: int, kind: str, n: int, target: Target) -> list[Case]:
    return [case(seed, kind, k, target) for k in range(n)]
