"""`python -m pyzk.tools ...`: the same as `pyzk tools ...` (pyzk.tools.command)."""

from __future__ import annotations

import sys

from .command import main as _main


def main(argv: list[str] | None = None) -> int:
    return _main(argv, prog="python -m pyzk.tools")


if __name__ == "__main__":
    sys.exit(main())
