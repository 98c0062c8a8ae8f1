"""The envelope, the registry and the CloudEvents Kafka binding (binary mode)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import pytest

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
