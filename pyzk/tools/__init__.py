"""pyzk's offline tools: `pyzk tools dump-log | dump-snapshot | check | purge` (also
`python -m pyzk.tools ...`); see pyzk.tools.command."""

from __future__ import annotations


def main(argv: list[str] | None = None, prog: str = "pyzk tools") -> int:
    from .command import main as _main

    return _main(argv, prog=prog)
