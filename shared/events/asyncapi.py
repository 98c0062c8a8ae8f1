"""Generate the AsyncAPI 3.0 document (docs/asyncapi.yaml) from the event registry.

Channels are topics, messages are event types with their JSON Schemas; the CloudEvents
attributes travel as Kafka headers (binary mode), described once as a shared header schema.
"""

from __future__ import annotations

from typing import Any

import yaml

from shared.events.registry import EventRegistry

_CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary content mode",
    "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject"],
    "properties": {
        "ce_id": {"type": "string", "description": "UUIDv7, time-ordered"},
        "ce_source": {"type": "string", "description": "/canteen/<service>"},
        "ce_type": {"type": "string", "description": "canteen.<service>.<aggregate>.<verb>.v<N>"},
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "aggregate id (also the message key)"},
        "ce_traceparent": {"type": "string", "description": "W3C trace context"},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def _message_name(event_type: str) -> str:
    # canteen.activity.post.created.v1 -> activity.post.created.v1 -> ActivityPostCreatedV1
    return "".join(part.capitalize() for part in event_type.split(".")[1:])


def _channel_name(topic: str) -> str:
    return topic.replace(".", "-")


def build_document(registry: EventRegistry, *, version: str) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for model in registry.models():
        name = _message_name(model.event_type)
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[name] = schema
        messages[name] = {
            "name": model.event_type,
            "title": model.event_type,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "aggregate id"}}},
        }
        channel = _channel_name(model.topic)
        entry = channels.setdefault(
            channel, {"address": model.topic, "title": model.topic, "messages": {}}
        )
        entry["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for channel, entry in list(channels.items()):
        refs = [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in entry["messages"]]
        operations[f"publish-{channel}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": refs,
        }
        dlq = f"{entry['address']}.dlq"
        channels[f"{channel}-dlq"] = {
            "address": dlq,
            "title": dlq,
            "description": "Dead letters: original headers/key/value plus dlq_error, "
            "dlq_attempts, dlq_group and dlq_original_topic headers.",
            "messages": {k: dict(v) for k, v in entry["messages"].items()},
        }
    schemas["CloudEventHeaders"] = _CE_HEADERS
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Canteen events",
            "version": version,
            "description": "Every event the Canteen services publish, generated from "
            "shared/events (do not edit by hand: `make asyncapi`).",
        },
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render(registry: EventRegistry, *, version: str) -> str:
    return yaml.safe_dump(build_document(registry, version=version), sort_keys=False, width=100)
