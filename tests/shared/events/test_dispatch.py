"""The dispatcher routes by event type and never half-processes a bad event."""

from __future__ import annotations

from typing import ClassVar

import pytest

from shared.events import Event, EventData, EventRegistry, InvalidEvent, UnknownEventType, new_event
from shared.events.dispatch import EventDispatcher


class Made(EventData):
    event_type: ClassVar[str] = "canteen.test.thing.made.v1"
    topic: ClassVar[str] = "canteen.test"
    source: ClassVar[str] = "/canteen/test"
    id: str


class Broke(Made):
    event_type: ClassVar[str] = "canteen.test.thing.broke.v1"


@pytest.fixture
def dispatcher() -> tuple[EventDispatcher, list[tuple[str, EventData]]]:
    registry = EventRegistry()
    registry.register(Made)
    registry.register(Broke)
    seen: list[tuple[str, EventData]] = []
    dispatcher = EventDispatcher(registry)

    @dispatcher.on(Made)
    async def made(event: Event, data: Made) -> None:
        seen.append((event.id, data))

    return dispatcher, seen


async def test_routes_typed_payloads_and_skips_unhandled_types(dispatcher) -> None:  # type: ignore[no-untyped-def]
    dispatch, seen = dispatcher
    event = new_event(Made(id="a"))
    await dispatch(event)
    await dispatch(new_event(Broke(id="b")))
    assert seen == [(event.id, Made(id="a"))]


async def test_unknown_or_invalid_events_raise_before_any_handler(dispatcher) -> None:  # type: ignore[no-untyped-def]
    dispatch, seen = dispatcher
    good = new_event(Made(id="a"))
    with pytest.raises(UnknownEventType):
        await dispatch(good.model_copy(update={"type": "canteen.test.thing.melted.v1"}))
    with pytest.raises(InvalidEvent):
        await dispatch(good.model_copy(update={"data": {"id": 5, "extra": True}}))
    assert seen == []


def test_one_handler_per_type(dispatcher) -> None:  # type: ignore[no-untyped-def]
    dispatch, _ = dispatcher
    with pytest.raises(ValueError, match="already has a handler"):

        @dispatch.on(Made)
        async def again(event: Event, data: Made) -> None: ...
