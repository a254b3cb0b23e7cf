"""Server-side watch tables: one-shot data/child watches, persistent and persistent-recursive.

Mirrors watch/WatchManager.java + WatcherModeManager + PathParentIterator: the tree keeps two
tables (data and child); a watcher is any hashable token (the server passes its connection).
Triggering returns the watchers to notify; the DataTree turns them into (watcher, event) pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..protocol.codes import WatcherType

STANDARD = 0
PERSISTENT = 1
PERSISTENT_RECURSIVE = 2


def parent_paths(path: str) -> Iterator[str]:
    """PathParentIterator.forAll: the path itself, then each ancestor up to "/"."""
    while path:
        yield path
        if path == "/":
            return
        path = path[: path.rfind("/")] or "/"


class NullPathKey(ValueError):
    """WatcherModeManager keys a watch's mode by Key(watcher, path), whose equals calls
    path.equals(): with a null path (addWatch and setWatches2 take one unchecked) a put, get or
    remove throws NullPointerException whenever the map already holds a key of the same hash,
    i.e. this watcher's null path itself or its "" (String hash 0 too). FinalRequestProcessor
    answers MARSHALLINGERROR; DataTree.removeCnxn stops where it throws (remove_watcher)."""


def _null_clash(modes: dict[tuple[Any, str | None], int], watcher: Any) -> bool:
    return (watcher, None) in modes or (watcher, "") in modes


class WatchTable:
    """One WatchManager: path -> watchers, watcher -> paths, and (watcher, path) -> mode."""

    __slots__ = ("table", "by_watcher", "modes", "recursive")

    def __init__(self) -> None:
        # dicts used as insertion-ordered sets so delivery order is deterministic
        self.table: dict[str | None, dict[Any, None]] = {}
        self.by_watcher: dict[Any, dict[str | None, None]] = {}
        self.modes: dict[tuple[Any, str | None], int] = {}  # absent = STANDARD (one-shot)
        self.recursive = 0  # WatcherModeManager.recursiveQty

    def add(self, path: str | None, watcher: Any, mode: int = STANDARD) -> bool:
        ws = self.table.get(path)
        if ws is None:
            ws = self.table[path] = {}
        ws[watcher] = None
        paths = self.by_watcher.get(watcher)
        if paths is None:
            paths = self.by_watcher[watcher] = {}
        if path is None and _null_clash(self.modes, watcher):
            raise NullPathKey("null path")  # before the path joins watch2Paths, as in Java
        self._set_mode(watcher, path, mode)
        if path in paths:
            return False
        paths[path] = None
        return True

    def _set_mode(self, watcher: Any, path: str | None, mode: int) -> None:
        # a later standard watch on the same path downgrades a persistent one (setWatcherMode)
        key = (watcher, path)
        if mode == STANDARD:
            old = self.modes.pop(key, STANDARD)
        else:
            old = self.modes.get(key, STANDARD)
            self.modes[key] = mode
        if (old == PERSISTENT_RECURSIVE) != (mode == PERSISTENT_RECURSIVE):
            self.recursive += 1 if mode == PERSISTENT_RECURSIVE else -1

    def remove_watcher(self, watcher: Any) -> None:
        """WatchManager.removeWatcher(watcher): every path and mode of a closed connection.
        Java 3.8.0 throws at a null-path watch here (NullPathKey) and leaves the watcher's
        other paths, modes and recursive count behind for ever; pyzk does not keep that leak
        (a client could grow the tables without bound by reconnecting), so a later
        checkWatches that Java answers from the leaked recursive count differs
        (tests/fuzz/known_differences.py)."""
        paths = self.by_watcher.pop(watcher, None)
        if paths is None:
            return
        for p in paths:
            ws = self.table.get(p)
            if ws is not None:
                ws.pop(watcher, None)
                if not ws:
                    del self.table[p]
            self._set_mode(watcher, p, STANDARD)

    def remove(self, path: str | None, watcher: Any) -> bool:
        paths = self.by_watcher.get(watcher)
        if paths is None or path not in paths:
            return False
        del paths[path]
        ws = self.table.get(path)
        if ws is None or watcher not in ws:
            return False
        del ws[watcher]
        if not ws:
            del self.table[path]
        if path is None and _null_clash(self.modes, watcher):
            raise NullPathKey("null path")
        self._set_mode(watcher, path, STANDARD)
        return True

    def trigger(self, path: str, children_changed: bool) -> dict[Any, None] | None:
        """WatchManager.triggerWatch minus delivery: the watchers to notify, one-shots removed."""
        table = self.table
        if not self.recursive:
            ws = table.get(path)
            if not ws:
                return None
            modes = self.modes
            out = dict(ws)
            keep: dict[Any, None] | None = None
            for w in out:
                if (w, path) in modes:
                    if keep is None:
                        keep = {}
                    keep[w] = None
                else:
                    p = self.by_watcher.get(w)
                    if p is not None:
                        p.pop(path, None)
            if keep:
                table[path] = keep
            else:
                del table[path]
            return out
        found: dict[Any, None] = {}
        at_parent = False
        for local in parent_paths(path):
            ws = table.get(local)
            if ws:
                for w in list(ws):
                    mode = self.modes.get((w, local), STANDARD)
                    if mode == PERSISTENT_RECURSIVE:
                        if not children_changed:
                            found[w] = None
                    elif not at_parent:
                        found[w] = None
                        if mode == STANDARD:
                            del ws[w]
                            p = self.by_watcher.get(w)
                            if p is not None:
                                p.pop(local, None)
                if not ws:
                    del table[local]
            at_parent = True
        return found or None

    def contains(self, path: str, watcher: Any) -> bool:
        """WatchManager.containsWatcher, faithfully: at the path itself *any* watcher counts."""
        recursive = self.modes.get((watcher, path), STANDARD) == PERSISTENT_RECURSIVE
        # PathParentIterator (forPathOnly unless recursive watches exist) works out each
        # parent as it hands out a path, so a path that is neither "" nor "/" and has no "/"
        # throws (substring(0, -1)) even when only the path itself is looked at: ValueError,
        # which Final answers MARSHALLINGERROR.
        level = 0
        while path:
            local = path
            if path == "/":
                path = ""
            else:
                slash = path.rfind("/")
                if slash < 0:
                    raise ValueError(f"no parent for path {local!r}")
                path = path[:slash] or "/"
            if level == 0 and local in self.table:
                return True
            if recursive:
                return True
            if not self.recursive:
                break
            level += 1
        return False

    # -- 4LW / admin views ------------------------------------------------------------------

    def size(self) -> int:
        return sum(len(ws) for ws in self.table.values())

    def summary(self) -> tuple[int, int, int]:
        """(connections watching, paths watched, total watches) as WatchesSummary."""
        return (len(self.by_watcher), len(self.table),
                sum(len(p) for p in self.by_watcher.values()))

    def by_path(self) -> dict[str, list[Any]]:
        # A null path (addWatch) prints as Java's PrintWriter prints a null String.
        return {"null" if p is None else p: list(ws) for p, ws in self.table.items()}

    def by_watchers(self) -> dict[Any, list[str]]:
        return {w: ["null" if p is None else p for p in ps]
                for w, ps in self.by_watcher.items()}


class WatchManager:
    """The tree's data and child tables plus the per-type operations DataTree exposes."""

    __slots__ = ("data", "child")

    def __init__(self) -> None:
        self.data = WatchTable()
        self.child = WatchTable()

    def add_persistent(self, path: str | None, watcher: Any, recursive: bool,
                       child_first: bool = False) -> None:
        """DataTree.addWatch: a persistent watch lives in both tables, data table first
        (setWatches2 adds to the child table first). May raise NullPathKey."""
        mode = PERSISTENT_RECURSIVE if recursive else PERSISTENT
        first, second = (self.child, self.data) if child_first else (self.data, self.child)
        first.add(path, watcher, mode)
        second.add(path, watcher, mode)

    def remove_watcher(self, watcher: Any) -> None:
        """A connection closed (DataTree.removeCnxn)."""
        self.data.remove_watcher(watcher)
        self.child.remove_watcher(watcher)

    def contains(self, path: str, wtype: int, watcher: Any) -> bool:
        if wtype == WatcherType.CHILDREN:
            return self.child.contains(path, watcher)
        if wtype == WatcherType.DATA:
            return self.data.contains(path, watcher)
        if wtype == WatcherType.ANY:
            # Java asks both tables (no short cut), so the data table's lookup can still throw.
            in_child = self.child.contains(path, watcher)
            return self.data.contains(path, watcher) or in_child
        return False

    def remove(self, path: str | None, wtype: int, watcher: Any) -> bool:
        if wtype == WatcherType.CHILDREN:
            return self.child.remove(path, watcher)
        if wtype == WatcherType.DATA:
            return self.data.remove(path, watcher)
        if wtype == WatcherType.ANY:
            removed = self.child.remove(path, watcher)
            return self.data.remove(path, watcher) or removed
        return False

    def watch_count(self) -> int:
        """DataTree.getWatchCount (mntr zk_watch_count): both tables."""
        return self.data.size() + self.child.size()

    def summary(self) -> tuple[int, int, int]:
        """wchs: Java reports the data table only (DataTree.getWatchesSummary)."""
        return self.data.summary()

    def by_path(self) -> dict[str, list[Any]]:
        """wchp: data table only, as DataTree.dumpWatches(byPath=true)."""
        return self.data.by_path()

    def by_watcher(self) -> dict[Any, list[str]]:
        """wchc: data table only, as DataTree.dumpWatches(byPath=false)."""
        return self.data.by_watchers()
