"""docs/asyncapi.yaml is generated from the registry and must never go stale."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

import shared.events.schemas  # noqa: F401 - registers the catalog
from shared.composition import VERSION
from shared.events import new_event, registry
from shared.events.asyncapi import render
from shared.events.schemas.activity import PostCreated

DOC = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"


def test_committed_asyncapi_document_is_current() -> None:
    assert DOC.read_text() == render(registry, version=VERSION), (
        "docs/asyncapi.yaml is stale: run `make asyncapi`"
    )


def test_every_event_type_is_a_message_on_its_topic_channel() -> None:
    doc = yaml.safe_load(DOC.read_text())
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    for model in registry.models():
        channel = addresses[model.topic]
        titles = {
            doc["components"]["messages"][ref.split("/")[-1]]["name"]
            for ref in (m["$ref"] for m in channel["messages"].values())
        }
        assert model.event_type in titles
        assert f"{model.topic}.dlq" in addresses


def test_message_schemas_validate_real_payloads() -> None:
    doc = yaml.safe_load(DOC.read_text())
    schemas = doc["components"]["schemas"]
    from datetime import UTC, datetime

    event = new_event(
        PostCreated(
            id="p1",
            kind="note",
            author_id="u1",
            audience="org",
            text="hello",
            created_at=datetime.now(UTC),
        )
    )
    schema = {**schemas["ActivityPostCreatedV1"], "components": {"schemas": schemas}}
    jsonschema.validate(event.data, schema)
    bad = {**event.data, "kind": "poem"}
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("an invalid payload passed the published schema")
