"""QuorumOracleMaj's oracle, read at the edge: the pure verifier calls this when a two-voter
ensemble has lost its majority (pyzk.zab.quorum.QuorumOracleMaj)."""

from __future__ import annotations

from collections.abc import Callable


def read_oracle(path: str) -> Callable[[], bool]:
    """askOracle: the file's first character is '1'; anything else, or no readable file, is no.
    Read on every question, as Java does, so an operator flips it by rewriting the file."""
    def ask() -> bool:
        try:
            with open(path, "rb") as f:  # noqa: PTH123
                return f.read(1) == b"1"
        except OSError:
            return False
    return ask
