"""Route consumed events to typed handlers, validating each against its registered model.

A consumer group reads whole topics but cares about a few event types: types it has no
handler for are acknowledged and skipped; an unknown or invalid event is poison and goes
to the dead-letter topic at once (the bus treats `UnknownEventType` and `InvalidEvent`
like `PoisonEvent`).

Batch handlers (`on_batch`) take many events of their types at once; `handle_batch` gives
each one the maximal runs of consecutive events it handles, and every other event to its
per-event handler, in offset order — so the relative order of different kinds of events
is kept exactly as the per-event path would see it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from shared.events.envelope import Event, EventData
from shared.events.registry import EventRegistry

E = TypeVar("E", bound=EventData)
TypedHandler = Callable[[Event, Any], Awaitable[None]]
TypedBatchHandler = Callable[[list[tuple[Event, Any]]], Awaitable[None]]


class EventDispatcher:
    def __init__(self, registry: EventRegistry) -> None:
        self._registry = registry
        self._handlers: dict[str, TypedHandler] = {}
        self._batch_handlers: dict[str, TypedBatchHandler] = {}

    def on(self, model: type[E]) -> Callable[[Callable[[Event, E], Awaitable[None]]], Any]:
        """Decorator: `@dispatcher.on(PostCreated) async def handle(event, data): ...`."""

        def register(handler: Callable[[Event, E], Awaitable[None]]) -> Any:
            if model.event_type in self._handlers:
                raise ValueError(f"{model.event_type} already has a handler")
            self._handlers[model.event_type] = handler
            return handler

        return register

    def on_batch(self, *models: type[EventData]) -> Callable[[TypedBatchHandler], Any]:
        """Decorator: `@dispatcher.on_batch(A, B) async def handle(items): ...`, where
        `items` is a list of `(event, data)`; each type also needs its per-event handler
        (`on`), which the bus falls back to when a batch fails."""

        def register(handler: TypedBatchHandler) -> Any:
            for model in models:
                if model.event_type in self._batch_handlers:
                    raise ValueError(f"{model.event_type} already has a batch handler")
                self._batch_handlers[model.event_type] = handler
            return handler

        return register

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    async def handle_batch(self, events: Sequence[Event]) -> None:
        """The bus's `batch_handler`: runs of batchable events together, the rest singly."""
        missing = set(self._batch_handlers) - set(self._handlers)
        if missing:  # the per-event fallback must exist for every batched type
            raise RuntimeError(f"batch handlers without per-event handlers: {sorted(missing)}")
        # Parse all first: an invalid event fails the batch before anything is applied.
        parsed = [(event, self._registry.parse(event)) for event in events]
        run: list[tuple[Event, Any]] = []
        run_handler: TypedBatchHandler | None = None
        for event, data in parsed:
            batch = self._batch_handlers.get(event.type)
            if batch is not None and batch is run_handler:
                run.append((event, data))
                continue
            handler = self._handlers.get(event.type)
            if batch is None and handler is None:
                continue  # acknowledged and skipped, without splitting the run
            if run_handler is not None:
                await run_handler(run)
            run, run_handler = [], None
            if batch is not None:
                run, run_handler = [(event, data)], batch
            elif handler is not None:
                await handler(event, data)
        if run_handler is not None:
            await run_handler(run)

    async def __call__(self, event: Event) -> None:
        # An unknown or invalid event raises here and the bus dead-letters it at once.
        data = self._registry.parse(event)
        handler = self._handlers.get(event.type)
        if handler is not None:
            await handler(event, data)
