"""bench.memory's tree shapes: the asked-for count of distinct paths, every parent first."""

from __future__ import annotations

import pytest

from bench.memory import SHAPES


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("count", [3, 51, 52, 1000])
def test_shapes_make_count_paths_parents_first(shape: str, count: int) -> None:
    paths = list(SHAPES[shape](count))
    assert len(paths) == len(set(paths)) == count
    seen = {"/"}
    for p in paths:
        assert (p[:p.rfind("/")] or "/") in seen, p
        seen.add(p)
