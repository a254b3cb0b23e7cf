"""`python -m pyzk`: same as the `pyzk` command (pyzk.cli.main)."""

import sys

from pyzk.cli import main

if __name__ == "__main__":
    sys.exit(main())
