"""Kafka protocol binding (binary content mode) for the envelope, via the CloudEvents SDK.

Attributes travel as `ce_*` headers, `data` is the message value (JSON), the key is the
aggregate id. The SQLite bus stores exactly the same triple, so both buses carry identical
bytes and a dead-lettered message can be replayed on either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from shared.events.envelope import Event

_FORMAT = JSONFormat()


class MalformedMessage(ValueError):
    """Bytes that are not a valid Canteen CloudEvent (missing attribute, bad JSON, ...)."""


@dataclass(frozen=True, slots=True)
class Message:
    """The wire form of an event: headers, key and value, as Kafka carries them."""

    headers: dict[str, bytes]
    key: bytes | None
    value: bytes


def encode(event: Event) -> Message:
    attributes: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time,
        "specversion": event.specversion,
        "datacontenttype": event.datacontenttype,
    }
    if event.traceparent:
        attributes["traceparent"] = event.traceparent
    message = ce_kafka.to_binary(
        CloudEvent(attributes=attributes, data=None),
        _FORMAT,
        key_mapper=lambda _: event.key,
    )
    # orjson is several times faster than the SDK's json for the payload; same bytes shape.
    key = message.key.encode() if isinstance(message.key, str) else message.key
    return Message(headers=dict(message.headers), key=key, value=orjson.dumps(event.data))


def decode(message: Message) -> Event:
    try:
        ce = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=message.headers, key=message.key, value=b"null"),
            _FORMAT,
        )
        data = orjson.loads(message.value)
        if not isinstance(data, dict):
            raise MalformedMessage("event data must be a JSON object")
        attributes = ce.get_attributes()
        return Event(
            id=attributes["id"],
            source=attributes["source"],
            type=attributes["type"],
            subject=attributes.get("subject") or attributes.get("partitionkey") or "",
            time=attributes["time"],
            data=data,
            specversion=attributes.get("specversion", "1.0"),
            datacontenttype=attributes.get("datacontenttype") or "application/json",
            traceparent=attributes.get("traceparent"),
        )
    except MalformedMessage:
        raise
    except (KeyError, ValueError, TypeError, ValidationError, orjson.JSONDecodeError) as exc:
        raise MalformedMessage(f"not a valid CloudEvent: {exc}") from exc
    except Exception as exc:  # the SDK raises its own exception types on bad attributes
        raise MalformedMessage(f"not a valid CloudEvent: {exc}") from exc
