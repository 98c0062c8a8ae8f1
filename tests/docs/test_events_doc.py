"""docs/events.md is generated from the registry and the services' wiring: never stale."""

from __future__ import annotations

from pathlib import Path

from canteen.eventdocs import consumers_by_type, render
from shared.events.registry import registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_events_page_is_current() -> None:
    assert DOC.read_text() == render() + "\n", (
        "docs/events.md is stale: run `.venv/bin/python -m canteen.eventdocs docs/events.md`"
    )


def test_every_consumed_type_is_registered_and_listed() -> None:
    consumed = consumers_by_type()
    registered = {m.event_type for m in registry.models()}
    assert set(consumed) <= registered
    text = DOC.read_text()
    for event_type, groups in consumed.items():
        assert event_type in text
        assert groups, event_type
