"""The envelope, the registry and the CloudEvents Kafka binding (binary mode)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import orjson
import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from shared.events import (
    Event,
    EventData,
    EventRegistry,
    InvalidEvent,
    MalformedMessage,
    Message,
    UnknownEventType,
    decode,
    encode,
    new_event,
)
from shared.ids import uuid7


class WidgetMade(EventData):
    event_type: ClassVar[str] = "canteen.test.widget.made.v1"
    topic: ClassVar[str] = "canteen.test"
    source: ClassVar[str] = "/canteen/test"

    id: str
    size: int


@pytest.fixture
def registry() -> EventRegistry:
    reg = EventRegistry()
    reg.register(WidgetMade)
    return reg


def test_ids_are_uuid7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_new_event_fills_the_envelope() -> None:
    event = new_event(WidgetMade(id="w1", size=3))
    assert event.type == "canteen.test.widget.made.v1"
    assert event.source == "/canteen/test"
    assert event.subject == "w1" and event.key == "w1"
    assert event.time.tzinfo is not None
    assert event.data == {"id": "w1", "size": 3}


def test_binary_mode_headers_key_and_value_round_trip() -> None:
    event = new_event(
        WidgetMade(id="w1", size=3), traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    )
    message = encode(event)
    assert message.key == b"w1"
    assert message.headers["ce_type"] == b"canteen.test.widget.made.v1"
    assert message.headers["ce_specversion"] == b"1.0"
    assert message.headers["ce_id"] == event.id.encode()
    assert message.headers["content-type"] == b"application/json"
    assert message.value == b'{"id":"w1","size":3}'
    assert decode(message) == event


def sdk_message(event: Event) -> ce_kafka.KafkaMessage:
    """What the CloudEvents SDK's Kafka binding makes of `event` (the reference)."""
    attributes = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time,
        "specversion": event.specversion,
        "datacontenttype": event.datacontenttype,
        "traceparent": event.traceparent,
    }
    return ce_kafka.to_binary(
        CloudEvent(attributes=attributes, data=event.data),
        JSONFormat(),
        key_mapper=lambda _: event.key,
    )


@pytest.mark.parametrize(
    "event",
    [
        new_event(WidgetMade(id="w1", size=3)),
        new_event(
            WidgetMade(id="wé-2", size=-1),
            traceparent="00-" + "c" * 32 + "-" + "d" * 16 + "-01",
            at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        ),
        new_event(WidgetMade(id="w3", size=0), at=datetime(2026, 1, 1, 12, 0, 0, 1, tzinfo=UTC)),
    ],
    ids=["plain", "traceparent-accent-whole-second", "microsecond"],
)
def test_encode_gives_the_sdk_binding_bytes(event: Event) -> None:
    """`encode` builds the headers itself (for speed): they are the SDK's, byte for byte."""
    ours, sdk = encode(event), sdk_message(event)
    assert list(ours.headers.items()) == list(sdk.headers.items())
    key = sdk.key.encode() if isinstance(sdk.key, str) else sdk.key
    assert ours.key == key
    assert orjson.loads(ours.value) == orjson.loads(sdk.value)
    assert decode(ours) == event


@pytest.mark.parametrize(
    "message",
    [
        Message(headers={}, key=None, value=b"{}"),
        Message(
            headers={
                "ce_id": b"1",
                "ce_source": b"/x",
                "ce_specversion": b"1.0",
                "ce_type": b"canteen.test.widget.made.v1",
                "ce_subject": b"w",
                "ce_time": b"2026-01-01T00:00:00Z",
            },
            key=b"w",
            value=b"not json",
        ),
        Message(
            headers={
                "ce_id": b"1",
                "ce_source": b"/x",
                "ce_specversion": b"1.0",
                "ce_type": b"bad type",
                "ce_subject": b"w",
                "ce_time": b"2026-01-01T00:00:00Z",
            },
            key=b"w",
            value=b"{}",
        ),
        Message(
            headers={
                "ce_id": b"1",
                "ce_source": b"/x",
                "ce_specversion": b"1.0",
                "ce_type": b"canteen.test.widget.made.v1",
                "ce_subject": b"w",
                "ce_time": b"2026-01-01T00:00:00Z",
            },
            key=b"w",
            value=b"[1, 2]",
        ),
    ],
    ids=["no-headers", "bad-json", "bad-type", "data-not-object"],
)
def test_malformed_messages_are_refused(message: Message) -> None:
    with pytest.raises(MalformedMessage):
        decode(message)


def test_a_field_added_by_a_newer_producer_is_ignored_not_refused(
    registry: EventRegistry,
) -> None:
    """A compatible change adds an optional field; an older consumer still reads the event.
    Producers stay strict: a payload model refuses a field it does not have."""
    good = new_event(WidgetMade(id="w1", size=3))
    newer = good.model_copy(update={"data": {**good.data, "colour": "teal"}})
    assert registry.parse(newer) == WidgetMade(id="w1", size=3)
    missing = good.model_copy(update={"data": {"size": 3, "colour": "teal"}})
    with pytest.raises(InvalidEvent):
        registry.parse(missing)
    with pytest.raises(ValidationError):
        WidgetMade(id="w1", size=3, colour="teal")  # type: ignore[call-arg]


def test_registry_parses_known_and_refuses_unknown_or_invalid(registry: EventRegistry) -> None:
    good = new_event(WidgetMade(id="w1", size=3))
    assert registry.parse(good) == WidgetMade(id="w1", size=3)
    wrong = good.model_copy(update={"data": {"id": "w1", "size": "big"}})
    with pytest.raises(InvalidEvent):
        registry.parse(wrong)
    unknown = good.model_copy(update={"type": "canteen.test.widget.melted.v1"})
    with pytest.raises(UnknownEventType):
        registry.parse(unknown)


def test_registry_refuses_a_second_model_for_one_type(registry: EventRegistry) -> None:
    class Impostor(WidgetMade):
        pass

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Impostor)


def test_envelope_refuses_bad_type_and_naive_time() -> None:
    with pytest.raises(ValueError):
        Event(id="1", source="/x", type="widget.made", subject="s", time=datetime.now(UTC), data={})
    with pytest.raises(ValueError):
        Event(
            id="1",
            source="/x",
            type="canteen.test.widget.made.v1",
            subject="s",
            time=datetime(2026, 1, 1),
            data={},
        )
