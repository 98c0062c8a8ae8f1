"""Render docs/events.md: every event type, who publishes it and which groups consume it.

Producers come from the registry (each model's `source`); consumers from the services'
own wiring (each subscription's dispatcher), so the page cannot drift from the code.
Regenerate with `python -m canteen.eventdocs docs/events.md` (a test checks it).
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from importlib import import_module
from pathlib import Path

from canteen.allinone import SERVICES
from shared.bus.metrics import BusMetrics
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import EventData
from shared.events.registry import registry
from shared.settings import CanteenSettings

HEADER = "| event type | published by | consumed by | what it means |"


def consumers_by_type() -> dict[str, list[str]]:
    """`event type -> ["service/group", ...]` from each service's subscriptions."""
    found: dict[str, list[str]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        # Building a service opens nothing (no I/O before start): a temp data dir suffices.
        settings = CanteenSettings(env="dev", backend="embedded", data_dir=Path(tmp))
        for name in SERVICES:
            parts = import_module(f"services.{name}.bootstrap").build(settings, BusMetrics())
            for sub in parts.runtime.subscriptions:
                handler = sub.handler
                if not isinstance(handler, EventDispatcher):
                    raise TypeError(f"{sub.group}: cannot list the types a plain handler takes")
                for event_type in handler.event_types:
                    found[event_type].append(f"{name} / `{sub.group}`")
    return found


def render() -> str:
    consumers = consumers_by_type()
    lines = [
        "# Events",
        "",
        "Generated from the event registry and the services' subscriptions",
        "(`python -m canteen.eventdocs docs/events.md`; a test fails when it is stale).",
        "Schemas, headers and channels: [asyncapi.yaml](asyncapi.yaml) (AsyncAPI 3.0).",
        "",
        "Every event is a CloudEvents 1.0 envelope in Kafka binary mode (`ce_*` headers),",
        "keyed by its subject (the aggregate id), so one aggregate's events stay in order.",
        "Consumers are idempotent on the event id; failures go to `<topic>.dlq` after",
        "bounded retries (`canteen admin dlq ...`).",
        "",
    ]
    by_topic: dict[str, list[type[EventData]]] = defaultdict(list)
    for model in registry.models():
        by_topic[model.topic].append(model)
    for topic in sorted(by_topic):
        lines += [f"## `{topic}`", "", HEADER, "|---|---|---|---|"]
        for model in sorted(by_topic[topic], key=lambda m: m.event_type):
            doc = (model.__doc__ or "").strip().splitlines()
            summary = doc[0] if doc else ""
            producer = model.source.removeprefix("/canteen/")
            taken = ", ".join(sorted(consumers.get(model.event_type, []))) or "—"
            lines.append(f"| `{model.event_type}` | {producer} | {taken} | {summary} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    # To a file, not stdout: building the services logs to stdout.
    Path(sys.argv[1]).write_text(render() + "\n")
