"""Regenerate docs/configuration.md from the one key table (pyzk/config/keys.py).

Run: .venv/bin/python scripts/gen_config_doc.py  (tests/unit/test_config_doc.py checks it is current)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyzk.config.keys import KEYS  # noqa: E402

HEAD = """# zoo.cfg reference

Every key Apache ZooKeeper 3.8 documents, and what pyzk does with it. Generated from
`pyzk/config/keys.py` by `scripts/gen_config_doc.py` (also printed by `pyzk keys`).

- **honoured**: pyzk implements it.
- **refused**: pyzk refuses to start when it is set to anything but its default, with a message
  naming the file, line and key.
- **inert**: accepted with a warning; it only tunes Java internals (JVM, Netty, Jetty, caches) or
  has no effect from zoo.cfg in Java either.

Unknown keys are refused. Environment overrides: see docs/operations.md.

| key | pyzk | default | meaning |
|---|---|---|---|
"""


def render() -> str:
    rows = []
    for k in KEYS:
        default = "" if k.default is None else str(k.default)
        doc = k.doc.replace("|", "\\|")
        rows.append(f"| `{k.name}` | {k.status.value} | {default} | {doc} |")
    return HEAD + "\n".join(rows) + "\n"


if __name__ == "__main__":
    (ROOT / "docs" / "configuration.md").write_text(render())
