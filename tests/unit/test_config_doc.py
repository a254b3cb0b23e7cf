"""docs/configuration.md is generated from the key table and must not drift from it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_matches_the_key_table() -> None:
    spec = importlib.util.spec_from_file_location("gen_config_doc",
                                                  ROOT / "scripts" / "gen_config_doc.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "docs" / "configuration.md").read_text() == mod.render(), \
        "run: .venv/bin/python scripts/gen_config_doc.py"
