"""Route consumed events to typed handlers, validating each against its registered model.

A consumer group reads whole topics but cares about a few event types: types it has no
handler for are acknowledged and skipped; an unknown or invalid event is poison and goes
to the dead-letter topic at once (the bus treats `UnknownEventType` and `InvalidEvent`
like `PoisonEvent`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shared.events.envelope import Event, EventData
from shared.events.registry import EventRegistry

E = TypeVar("E", bound=EventData)
TypedHandler = Callable[[Event, Any], Awaitable[None]]


class EventDispatcher:
    def __init__(self, registry: EventRegistry) -> None:
        self._registry = registry
        self._handlers: dict[str, TypedHandler] = {}

    def on(self, model: type[E]) -> Callable[[Callable[[Event, E], Awaitable[None]]], Any]:
        """Decorator: `@dispatcher.on(PostCreated) async def handle(event, data): ...`."""

        def register(handler: Callable[[Event, E], Awaitable[None]]) -> Any:
            if model.event_type in self._handlers:
                raise ValueError(f"{model.event_type} already has a handler")
            self._handlers[model.event_type] = handler
            return handler

        return register

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    async def __call__(self, event: Event) -> None:
        # An unknown or invalid event raises here and the bus dead-letters it at once.
        data = self._registry.parse(event)
        handler = self._handlers.get(event.type)
        if handler is not None:
            await handler(event, data)
