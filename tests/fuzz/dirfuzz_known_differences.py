"""Accepted differences between pyzk and Java ZooKeeper 3.8.0 on damaged data directories.

Each entry is an fnmatch pattern over the classes tests/fuzz/dirfuzz.py prints
(`base=<kind> <damage> <file role>[ + ...]: <what differs>`, refusal reasons with paths,
offsets and zxids replaced by N and file names by log.Z/snapshot.Z) and why the difference is
accepted: pyzk's choice is deliberately safer (or keeps a directory that a crash can leave
startable), with the Java 3.8.0 source it departs from. test_dirfuzz.py fails on any class that
matches no entry.
"""

from __future__ import annotations

from .known_differences import Known

KNOWN_DIFFERENCES: list[Known] = [
    Known("*: pyzk started vs java refused (java.io.EOFException)",
          "a log with no complete FileHeader (empty or cut inside its 16 bytes) and no txn "
          "after it: what a crash between creating log.<zxid> and writing its header leaves "
          "(pyzk's TxnLogWriter._open, Java's FileTxnLog.append: new FileOutputStream, then "
          "the header through a buffered stream). Java's FileTxnIterator.inStreamCreated "
          "(FileTxnLog.java:705) throws EOFException out of goToNextLog, which next() calls "
          "inside its own EOFException handler (FileTxnLog.java:774), so Java never starts "
          "on that directory again; pyzk reads the file as holding no txns (txnlog.scan_log). "
          "When txns follow it in the same epoch pyzk refuses too (recovery.replay: "
          "\"missing where\")"),
    Known("* [[]damage only in files pyzk need not read]: pyzk started vs java refused (*)",
          "damage only in snapshots older than the one recovery starts from and in logs whose "
          "txns all precede it: a later log starts at or before snapshot zxid + 1. Java's FileTxnIterator.init "
          "(FileTxnLog.java:663-666) still opens \"the last logfile that is less than the "
          "zxid\" and verifies every entry of it while skipping them, so a bad CRC or length "
          "there stops Java; pyzk (logfile.logs_from) starts at the newest log named at or "
          "before snapshot zxid + 1 and replays the same txns"),
    Known("*: tree: java kept state of a snapshot it failed to read",
          "Java's FileSnap.deserialize (FileSnap.java:89) deserializes each fallback snapshot "
          "into the same DataTree and sessions map that a newer, failed snapshot already "
          "partly filled (sessions, ACLs, nodes with their ephemeral owners), so the tree it "
          "serves mixes two snapshots; pyzk reads each candidate into a fresh tree. The "
          "fuzzer checked that Java on the same directory without the failed snapshots "
          "serves pyzk's tree"),
    Known("*: pyzk refused (*older than the file's name: a log renamed or copied from "
          "elsewhere) vs java started",
          "a log file holding txns older than its name (log.<zxid> is named after its first "
          "txn, FileTxnLog.append), i.e. renamed or copied: Java replays those txns again on "
          "top of newer state (FileTxnSnapLog.fastForwardFromEdits, FileTxnSnapLog.java:344, "
          "only logs \"(highestZxid) > (next log)\") and serves a tree no client ever saw; "
          "pyzk refuses naming the file"),
    Known("*: pyzk refused (*: zxid N does not follow N) vs java started",
          "txns of one zxid logged twice or going backwards in file order (a log copied to "
          "a name just below its first txn, files mixed from two histories): Java's "
          "FileTxnSnapLog.fastForwardFromEdits (FileTxnSnapLog.java:344-345) logs "
          "\"(highestZxid) > (next log)\" and applies the txn again; pyzk refuses naming the "
          "file and offset (recovery.replay)"),
    Known("*: pyzk refused (*are missing where log.Z: *) vs java started",
          "a log that ends early (torn entry, no header) followed by a later log whose first "
          "txn does not follow on in the same epoch: the later file was started only after "
          "the earlier one was complete and synced, so the txns in between were "
          "acknowledged. Java's FileTxnIterator.next treats the early end as the end of that "
          "file (Util.readTxnBytes returns null, FileTxnLog.java:774 goes to the next log) "
          "and serves a tree without them; pyzk refuses naming both files"),
    Known("*: pyzk refused (*: txns N..N are missing) vs java started",
          "recovery fell back past a newer snapshot that failed, and the logs that older "
          "snapshot needs do not follow on from it (deleted, renamed or purged): "
          "recovery.replay's contiguous_start refuses, since the tree would lack txns the "
          "failed snapshot covered; Java's FileTxnSnapLog.fastForwardFromEdits "
          "(FileTxnSnapLog.java:330-376) replays whatever logs there are with the hole"),
    Known("*: pyzk refused (*zero-length entry followed by data) vs java started",
          "a zero entry length with non-zero bytes after it (a zeroed length or CRC, garbage "
          "in the preallocated tail): Java's Util.readTxnBytes (Util.java:157) reads a zero "
          "length as the end of the file and ignores what follows, which may be later txns; "
          "pyzk refuses naming the file and offset (txnlog.scan_log)"),
    Known("*: pyzk refused (*entry is partial (no EOR byte) but data follows it) vs java "
          "started",
          "an entry without its EOR byte followed by non-zero bytes (a changed length, "
          "garbage after the data): Java's Util.readTxnBytes logs \"Last transaction was "
          "partial.\" and returns null (Util.java:166), dropping the rest of the file, which "
          "may be later txns; pyzk refuses naming the file and offset"),
]
