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


class Other(Made):
    event_type: ClassVar[str] = "canteen.test.thing.other.v1"


async def test_batches_keep_the_order_between_batched_and_single_events() -> None:
    registry = EventRegistry()
    for model in (Made, Broke, Other):
        registry.register(model)
    calls: list[tuple[str, list[str]]] = []
    dispatch = EventDispatcher(registry)

    @dispatch.on(Made)
    async def made(event: Event, data: Made) -> None:
        calls.append(("made", [data.id]))

    @dispatch.on(Other)
    async def other(event: Event, data: Other) -> None:
        calls.append(("other", [data.id]))

    @dispatch.on_batch(Made)
    async def made_many(items: list[tuple[Event, EventData]]) -> None:
        calls.append(("made-batch", [d.id for _, d in items]))  # type: ignore[attr-defined]

    events = [
        new_event(Made(id="1")),
        new_event(Broke(id="2b")),  # no handler: skipped, and it does not split the run
        new_event(Made(id="2")),
        new_event(Other(id="3")),
        new_event(Made(id="5")),
        new_event(Made(id="6")),
    ]
    await dispatch.handle_batch(events)
    assert calls == [
        ("made-batch", ["1", "2"]),
        ("other", ["3"]),
        ("made-batch", ["5", "6"]),
    ]


async def test_a_batch_with_an_invalid_event_applies_nothing(dispatcher) -> None:  # type: ignore[no-untyped-def]
    dispatch, seen = dispatcher
    good = new_event(Made(id="a"))
    bad = good.model_copy(update={"data": {"id": 5}})
    with pytest.raises(InvalidEvent):
        await dispatch.handle_batch([good, bad])
    assert seen == []


async def test_a_batched_type_needs_its_single_event_fallback() -> None:
    registry = EventRegistry()
    registry.register(Other)
    dispatch = EventDispatcher(registry)

    @dispatch.on_batch(Other)
    async def many(items: list[tuple[Event, EventData]]) -> None: ...

    with pytest.raises(RuntimeError, match="without per-event handlers"):
        await dispatch.handle_batch([new_event(Other(id="x"))])
