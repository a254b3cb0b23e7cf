"""Bridge between the server and pyzk.storage: recovery at start, group-commit writes, snapshots."""

from __future__ import annotations

from typing import Any

from ..tree.datatree import DataTree


class Storage:
    def __init__(self, config: Any) -> None:
        self.config = config

    def recover(self) -> tuple[DataTree, dict[int, int]]:
        return DataTree(), {}

    def write_batch(self, entries: list[tuple[Any, Any]], fsync: bool) -> None:
        return None

    def close(self) -> None:
        return None


def open_storage(config: Any) -> Storage:
    return Storage(config)
