"""Difference classes between pyzk and Java ZooKeeper 3.8.0 that are still accepted.

Each entry is an fnmatch pattern over the class names difffuzz prints (`op=... mut=...: ...`)
and the reason it is accepted for now. Remove an entry when the server is fixed: the pytest run
(tests/fuzz/test_difffuzz.py) fails on any class that matches no entry.
"""

from __future__ import annotations

from typing import NamedTuple

# Patterns are fnmatch patterns: "*" and "?" are wildcards and "[...]" is a character class,
# so match a literal "[" with "?" (as in "body.1?0?.2").


class Known(NamedTuple):
    pattern: str
    reason: str


KNOWN_DIFFERENCES: list[Known] = [
    # --- connection handling ------------------------------------------------------------
    Known("op=* mut=*: pyzk closed vs java HANG*",
          "Java 3.8.0 stops answering (no reply, no close) e.g. after a sasl token whose "
          "length runs past the frame; pyzk closes"),
    # --- races inside Java (either answer is Java's; pyzk always gives one of them) ------
    Known("close-race: close: * dropped replies to earlier pipelined requests that * answered "
          "before closing",
          "a frame that makes the server close (bad auth, unknown opcode, bad length, "
          "malformed sasl) after pipelined requests in the same write: Java answers it from "
          "its reading thread and closes while its pipeline may or may not have answered the "
          "earlier requests (the fuzzer sees both); pyzk answers every request it took, in "
          "order, then closes"),
    Known("op=* mut=*xid*: events: *undecodable*",
          "an unknown opcode sent with xid -1: its UNIMPLEMENTED reply looks like a "
          "notification; Java sends it at once (often ahead of, or instead of, the pipelined "
          "replies), pyzk in request order (the close race above)"),
    Known("op=* mut=type(xid:*): create2: pyzk err=0 vs java err=-6",
          "the close race above when the unknown opcode's xid (a mutated xid field) repeats "
          "an earlier create's: Java's immediate UNIMPLEMENTED reply takes that xid and the "
          "create's own reply is dropped by the close"),
    Known("op=* mut=*xid*: create*: pyzk err=0 vs java err=*",
          "the close/ordering race when a mutated xid repeats an earlier create's: Java's "
          "immediate answer (UNIMPLEMENTED, AUTHFAILED) carries that xid ahead of the "
          "pipelined create's reply; pyzk answers in request order"),
    Known("op=* mut=*xid*: *: pyzk err=* vs java err=-6",
          "the same race with any earlier request (Java's immediate UNIMPLEMENTED reply "
          "carries the repeated xid)"),
    Known("op=* mut=*xid=1: create2 err=0: *",
          "auth or sasl sent with the xid of the case's first create: Java answers them from "
          "its reading thread at once (processPacket), pyzk in request order"),
    Known("op=op* mut=*: pyzk closed vs java open*",
          "an unknown opcode (named op<N>): both answer UNIMPLEMENTED and close, Java through "
          "sendCloseSession's close marker, which races with its pipeline answering the "
          "requests read after it (the case's sentinel: seen answered in one CI run, dropped "
          "on replay); pyzk answers what it took before it and closes"),
    Known("op=* mut=*opcode->closeSession: pyzk closed vs java open*",
          "closeSession reached by an opcode swap (also after an auth scheme's choice, "
          "\"scheme='sasl':opcode->closeSession\"): the request after it (see below)"),
    Known("op=createTTL mut=*: pyzk open vs java closed",
          "createTTL with a non-TTL create mode and a negative ttl: Java 3.8.0 logs the txn, "
          "then fails to apply it and the JVM exits (a Java crash, counted as such); pyzk "
          "answers BADARGUMENTS where Java made the txn and keeps serving"),
    Known("op=closeSession mut=*: pyzk closed vs java open*",
          "the request after closeSession (the case's sentinel): Java answers it -112 when "
          "its prep wins the race with the reading thread, else drops it; pyzk drops it"),
    Known("op=closeSession mut=then-request: *",
          "requests after closeSession in the same write: Java answers them -112 when its "
          "prep wins the race with the reading thread, else drops them as touch() fails; "
          "pyzk always drops them"),
    Known("op=check mut=*: pyzk closed vs java open*",
          "check(13) outside multi: pyzk answers UNIMPLEMENTED and closes as 3.8.5+/3.9.3 "
          "do (ZOOKEEPER-2623 addendum); 3.8.0 executes it"),
    Known("op=* mut=*opcode->check*: pyzk closed vs java open*", "same, via an opcode swap"),
    Known("op=closeSession mut=*: events: *",
          "closeSession of a lane session that owns ephemerals watched by itself: which "
          "events it still gets differs"),
    Known("op=* mut=*: * vs java UNREACHABLE*",
          "the case right after a Java crash (see createTTL above)"),
    Known("op=* mut=*: pyzk UNREACHABLE* vs java *", "the case right after a pyzk crash"),
    Known("op=* mut=*: connect-response: pyzk * vs java None",
          "a fresh-connection case right after a Java wedge (--target follower, seed 12 case "
          "3928 after the null-path multi of case 3927): the Java side's observer session "
          "hung, so the case got no ConnectResponse there; equal when replayed alone"),
    Known("op=tree mut=outside-cases: *",
          "nodes created directly under / by mutated paths: their sequential suffix follows "
          "the root's cversion, which drifts once the servers differed in any case"),
    Known("close-race: * dropped watch events that * sent before closing",
          "watch events queued when the connection closes: both servers race them"),
    Known("op=checkWatches mut=*: checkWatches: pyzk err=-121 vs java err=-5",
          "NEEDS TRIAGE: seen once per 300k-frame long run on a path with a space (\" /a\"), "
          "equal when replayed alone: depends on the lane session's persistent recursive "
          "watches left by earlier cases (Java's PathParentIterator walks parents then)"),
    Known("op=getAllChildrenNumber mut=*: getAllChildrenNumber err=0: body.1 differs",
          "NEEDS TRIAGE: path \"\" counts the whole tree, which in long runs includes the "
          "drift of op=tree mut=outside-cases; equal when replayed alone"),
    Known("op=* mut=*: getACL err=0: body.1?0?.2 differs",
          "NEEDS TRIAGE: seen only in long runs, not when the case replays alone (depends on "
          "the lane session's earlier auth state)"),
    Known("op=auth mut=*: tree *",
          "NEEDS TRIAGE: after an auth case a lane session's ephemerals differ at the epoch "
          "tree walk (seen once, not reproducible alone)"),
    Known("op=* mut=*opcode->getEphemerals*: getEphemerals err=0: body.1 differs",
          "NEEDS TRIAGE: another body read as getEphemerals; equal when replayed alone (the "
          "lane session's ephemerals left by earlier cases differ in long runs)"),
    Known("op=getEphemerals mut=*: getEphemerals err=0: body.1 differs",
          "NEEDS TRIAGE: getEphemerals with an odd prefix path; seen once in a long run"),
    Known("op=* mut=*: create* err=0: body.1 differs",
          "NEEDS TRIAGE: seen only in long runs, not when the case replays alone"),
    Known("op=* mut=*: events: only pyzk sent event type=*",
          "NEEDS TRIAGE: seen only in long runs, not when the case replays alone (a watch "
          "left on the lane session by an earlier case)"),
    # --- --target follower/observer (tests/fuzz/ensemble_target.py) --------------------------
    Known("op=createSession mut=value(timeOut)=*: pyzk * vs java *",
          "--target follower/observer: a createSession inside the session with a tiny timeOut "
          "expires the session on the leader's next tick (trackSession, then the learner's "
          "touch from LearnerSessionTracker.commitSession, which pyzk does since seed 11 case "
          "8829); with tickTime 200 whether that close lands before the case's last reply is "
          "a race on both servers (the case replays equal)"),
    Known("op=exists mut=null(path): pyzk open vs java HANG*",
          "NEEDS TRIAGE: --target observer, seed 6 case 359: the Java observer answered "
          "nothing in a long run; replayed alone both answer MARSHALLINGERROR (Java's "
          "FinalRequestProcessor catches the NullPointerException on the null path)"),
    Known("op=multi* mut=*: pyzk open vs java HANG*",
          "a multi with a null sub-op path through a Java learner (replayed: seed 3 case 266 "
          "and seed 5 case 259 with --target follower, seed 6 case 1873 (a multi in a burst) "
          "with --target observer): the Java leader's "
          "PrepRequestProcessor takes a zxid (getNextZxid) and then fails in "
          "getPendingChanges (NullPointerException on the null path) before the request has "
          "a header, so no txn is proposed for that zxid; Leader.tryToCommit then refuses "
          "every later commit (\"Commiting zxid ... not first\") and the whole Java ensemble "
          "stops answering writes until the next epoch. pyzk's leader makes a "
          "MARSHALLINGERROR error txn, as Java does for a multi that fails to decode"),
    Known("op=multiRead mut=*: pyzk open vs java HANG*",
          "NEEDS TRIAGE: --target follower, seed 4 case 1846 (a multiRead sub-op type 65535): "
          "the Java follower answered nothing in a long run, but replayed alone the case gets "
          "the same answers from both (err 0, an empty result); pyzk answered"),
    Known("op=* mut=*: create2 err=0: zxid pyzk-java=-1; body.2 differs",
          "HARNESS NOISE, not a server difference: an asynchronous Java txn (a session "
          "expiring) landed between the zxid marker and the case's first create"),
]
