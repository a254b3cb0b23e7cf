"""Client-side watch registry of `pyzk shell` (as ZKWatchManager): what to re-register after a
reconnect and what removeWatches may remove, with the *WatchRemoved events to deliver.
"""

from __future__ import annotations

from pyzk.protocol.codes import EventType, WatcherType


class Watches:
    """Client-side watch registry (ZKWatchManager): what to re-register on reconnect and what
    removeWatches may remove. One-shot watches leave when their event arrives."""

    def __init__(self) -> None:
        self.data: set[str] = set()
        self.exist: set[str] = set()
        self.child: set[str] = set()
        self.persistent: set[str] = set()
        self.recursive: set[str] = set()

    def on_event(self, etype: int, path: str) -> None:
        if etype in (EventType.NODE_CREATED, EventType.NODE_DATA_CHANGED):
            self.data.discard(path)
            self.exist.discard(path)
        elif etype == EventType.NODE_DELETED:
            self.data.discard(path)
            self.exist.discard(path)
            self.child.discard(path)
        elif etype == EventType.NODE_CHILDREN_CHANGED:
            self.child.discard(path)

    def remove(self, path: str, wtype: int) -> list[int]:
        """Drop watches on path of wtype; the *WatchRemoved event types to deliver."""
        events: list[int] = []
        if wtype in (WatcherType.DATA, WatcherType.ANY) and (
                path in self.data or path in self.exist):
            self.data.discard(path)
            self.exist.discard(path)
            events.append(EventType.DATA_WATCH_REMOVED)
        if wtype in (WatcherType.CHILDREN, WatcherType.ANY) and path in self.child:
            self.child.discard(path)
            events.append(EventType.CHILD_WATCH_REMOVED)
        if wtype == WatcherType.ANY and (path in self.persistent or path in self.recursive):
            self.persistent.discard(path)
            self.recursive.discard(path)
            events.append(EventType.PERSISTENT_WATCH_REMOVED)
        return events

    def any(self) -> bool:
        return bool(self.data or self.exist or self.child or self.persistent or self.recursive)
