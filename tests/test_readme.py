"""The README stays true: its configuration table lists every setting, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import CanteenSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_configuration_table_matches_the_settings_class() -> None:
    text = README.read_text()
    documented = set(re.findall(r"^\| `(CANTEEN_[A-Z_]+)` \|", text, re.MULTILINE))
    declared = {f"CANTEEN_{name.upper()}" for name in CanteenSettings.model_fields}
    assert documented == declared


def test_quickstart_is_the_two_commands() -> None:
    text = README.read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make \w+", quickstart, re.MULTILINE)
    assert commands == ["make run", "make test"]
