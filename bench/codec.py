"""Codec micro-benchmark: pyzk.protocol's generated jute codec vs `construct` vs kazoo.

Encodes and decodes representative client-port records and prints records/s, to back the design
note "construct vs generated struct codec on the hot path". Usage: python -m bench.codec
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import construct as c

from pyzk.protocol import records as r

# -- the same records declared with construct ---------------------------------------------------
# Jute strings/buffers are int-length-prefixed with -1 meaning null; construct's PascalString and
# Prefixed cannot express the null case, so these declarations are a slight simplification that
# can only favour construct.
JString = c.PascalString(c.Int32sb, "utf8")
JBuffer = c.Prefixed(c.Int32sb, c.GreedyBytes)
CId = c.Struct("scheme" / JString, "id" / JString)
CACL = c.Struct("perms" / c.Int32sb, "id" / CId)
CStat = c.Struct(
    "czxid" / c.Int64sb, "mzxid" / c.Int64sb, "ctime" / c.Int64sb, "mtime" / c.Int64sb,
    "version" / c.Int32sb, "cversion" / c.Int32sb, "aversion" / c.Int32sb,
    "ephemeralOwner" / c.Int64sb, "dataLength" / c.Int32sb, "numChildren" / c.Int32sb,
    "pzxid" / c.Int64sb,
)
CGetDataReq = c.Struct("xid" / c.Int32sb, "type" / c.Int32sb,
                       "path" / JString, "watch" / c.Flag)
CGetDataResp = c.Struct("xid" / c.Int32sb, "zxid" / c.Int64sb, "err" / c.Int32sb,
                        "data" / JBuffer, "stat" / CStat)
CCreateReq = c.Struct("path" / JString, "data" / JBuffer,
                      "acl" / c.PrefixedArray(c.Int32sb, CACL), "flags" / c.Int32sb)
CCreate2Resp = c.Struct("path" / JString, "stat" / CStat)
CWatcherEvent = c.Struct("type" / c.Int32sb, "state" / c.Int32sb, "path" / JString)

# -- sample values ----------------------------------------------------------------------------
PATH = "/app/config/service-0042"
STAT = r.Stat(0x100000123, 0x100000456, 1732460000123, 1732460001456, 3, 0, 0, 0, 16, 0,
              0x100000123)
ACLS = [r.ACL(31, r.Id("world", "anyone"))]
DATA = b"0123456789abcdef"


def _cstat() -> dict[str, Any]:
    return dict(STAT._asdict())


class Case:
    """One record shape, with an encoder and a decoder per codec (None when not offered)."""

    def __init__(self, name: str, wire: bytes) -> None:
        self.name = name
        self.wire = wire
        self.enc: dict[str, Callable[[], Any] | None] = {}
        self.dec: dict[str, Callable[[], Any] | None] = {}


def build_cases() -> list[Case]:
    import kazoo.protocol.serialization as ks
    from kazoo.security import ACL as KACL
    from kazoo.security import Id as KId

    cases: list[Case] = []
    compiled: dict[str, Any] = {}

    def both(name: str, con: Any) -> tuple[Any, Any]:
        compiled[name] = con.compile()
        return con, compiled[name]

    # 1. RequestHeader + GetDataRequest (what a server decodes most)
    rh, gd = r.RequestHeader(7, 4), r.GetDataRequest(PATH, True)

    def p_enc1() -> bytearray:
        out = bytearray()
        r.RequestHeader.encode(rh, out)
        r.GetDataRequest.encode(gd, out)
        return out
    wire = bytes(p_enc1())

    def p_dec1() -> Any:
        h, off = r.RequestHeader.decode(wire, 0)
        return h, r.GetDataRequest.decode(wire, off)[0]
    k_hdr = ks.int_int_struct
    c_obj = {"xid": 7, "type": 4, "path": PATH, "watch": True}
    case = Case("RequestHeader+GetDataRequest", wire)
    _fill(case, p_enc1, p_dec1, both("gdreq", CGetDataReq), c_obj,
          k_enc=lambda: k_hdr.pack(7, 4) + ks.GetData(PATH, True).serialize(), k_dec=None)
    cases.append(case)

    # 2. ReplyHeader + GetDataResponse with Stat (what a server encodes most)
    rep, gdr = r.ReplyHeader(7, 0x100000789, 0), r.GetDataResponse(DATA, STAT)

    def p_enc2() -> bytearray:
        out = bytearray()
        r.ReplyHeader.encode(rep, out)
        r.GetDataResponse.encode(gdr, out)
        return out
    wire2 = bytes(p_enc2())

    def p_dec2() -> Any:
        h, off = r.ReplyHeader.decode(wire2, 0)
        return h, r.GetDataResponse.decode(wire2, off)[0]

    def k_dec2() -> Any:
        h, off = ks.ReplyHeader.deserialize(wire2, 0)
        return h, ks.GetData.deserialize(wire2, off)
    case = Case("ReplyHeader+GetDataResponse", wire2)
    _fill(case, p_enc2, p_dec2, both("gdresp", CGetDataResp),
          {"xid": 7, "zxid": 0x100000789, "err": 0, "data": DATA, "stat": _cstat()},
          k_enc=None, k_dec=k_dec2)
    cases.append(case)

    # 3. CreateRequest with one ACL
    cr = r.CreateRequest(PATH, DATA, ACLS, 0)
    wire3 = r.CreateRequest.to_bytes(cr)
    kacl = [KACL(31, KId("world", "anyone"))]
    case = Case("CreateRequest(+ACL)", wire3)
    _fill(case, lambda: r.CreateRequest.to_bytes(cr),
          lambda: r.CreateRequest.decode(wire3, 0), both("create", CCreateReq),
          {"path": PATH, "data": DATA, "acl": [{"perms": 31, "id": {"scheme": "world",
                                                                   "id": "anyone"}}],
           "flags": 0},
          k_enc=lambda: ks.Create(PATH, DATA, kacl, 0).serialize(), k_dec=None)
    cases.append(case)

    # 4. Create2Response
    c2 = r.Create2Response(PATH, STAT)
    wire4 = r.Create2Response.to_bytes(c2)
    case = Case("Create2Response", wire4)
    _fill(case, lambda: r.Create2Response.to_bytes(c2),
          lambda: r.Create2Response.decode(wire4, 0), both("create2", CCreate2Resp),
          {"path": PATH, "stat": _cstat()},
          k_enc=None, k_dec=lambda: ks.Create2.deserialize(wire4, 0))
    cases.append(case)

    # 5. WatcherEvent
    we = r.WatcherEvent(3, 3, PATH)
    wire5 = r.WatcherEvent.to_bytes(we)
    case = Case("WatcherEvent", wire5)
    _fill(case, lambda: r.WatcherEvent.to_bytes(we), lambda: r.WatcherEvent.decode(wire5, 0),
          both("watch", CWatcherEvent), {"type": 3, "state": 3, "path": PATH},
          k_enc=None, k_dec=lambda: ks.Watch.deserialize(wire5, 0))
    cases.append(case)
    return cases


def _fill(case: Case, p_enc: Callable[[], Any], p_dec: Callable[[], Any],
          cons: tuple[Any, Any], obj: dict[str, Any], k_enc: Callable[[], Any] | None,
          k_dec: Callable[[], Any] | None) -> None:
    plain, comp = cons
    wire = case.wire
    # Prove the three codecs agree on the bytes before timing anything.
    assert bytes(p_enc()) == wire, case.name
    assert plain.build(obj) == wire and comp.build(obj) == wire, case.name
    if k_enc is not None:
        assert bytes(k_enc()) == wire, case.name
    case.enc = {"pyzk": p_enc, "construct": lambda: comp.build(obj),
                "construct-interp": lambda: plain.build(obj), "kazoo": k_enc}
    case.dec = {"pyzk": p_dec, "construct": lambda: comp.parse(wire),
                "construct-interp": lambda: plain.parse(wire), "kazoo": k_dec}


def rate(fn: Callable[[], Any], seconds: float, rounds: int) -> float:
    """Best-of-`rounds` calls per second, each round lasting about `seconds`."""
    n = 1
    while True:  # calibrate the batch size to ~seconds
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or n >= 1 << 24:
            break
        n *= 4
    n = max(1, int(n * seconds / max(dt, 1e-9)))
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


CODECS = ("pyzk", "construct", "construct-interp", "kazoo")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.2, help="per timing round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    cases = build_cases()
    print(f"Python {sys.version.split()[0]}, construct {c.version_string}; "
          f"k records/s, best of {args.rounds} x ~{args.seconds:g} s; "
          "ratio = pyzk / construct(compiled)\n")
    print("| record | dir | bytes | " + " | ".join(CODECS) + " | pyzk/construct |")
    print("|---|---|---:|" + "---:|" * (len(CODECS) + 1))
    for case in cases:
        for direction, fns in (("encode", case.enc), ("decode", case.dec)):
            rates: dict[str, float | None] = {}
            for codec in CODECS:
                fn = fns[codec]
                rates[codec] = rate(fn, args.seconds, args.rounds) if fn else None
            cells = [f"{v / 1000:.0f}" if v else "n/a" for v in rates.values()]
            pz, co = rates["pyzk"], rates["construct"]
            ratio = f"{pz / co:.1f}x" if pz and co else "-"
            print(f"| {case.name} | {direction} | {len(case.wire)} | " + " | ".join(cells)
                  + f" | {ratio} |", flush=True)
    print("\nconstruct declarations cannot encode jute's null (-1 length) strings/buffers; "
          "kazoo offers only the client half (encode requests, decode replies).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
