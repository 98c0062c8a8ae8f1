"""Registry from event type to its payload model, topic and JSON Schema.

Every event type is registered exactly once (in `shared/events/schemas/`); producers and
consumers share the contract, never each other's code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import ValidationError

from shared.events.envelope import EVENT_TYPE_PATTERN, Event, EventData

T = TypeVar("T", bound=type[EventData])


class UnknownEventType(LookupError):
    """No model is registered for this event type."""


class InvalidEvent(ValueError):
    """The event's data does not validate against its registered model."""


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[str, type[EventData]] = {}

    def register(self, model: T) -> T:
        """Register a payload model (usable as a class decorator)."""
        event_type = model.event_type
        if not EVENT_TYPE_PATTERN.match(event_type):
            raise ValueError(f"bad event type {event_type!r}")
        if event_type in self._models and self._models[event_type] is not model:
            raise ValueError(f"event type {event_type!r} registered twice")
        self._models[event_type] = model
        return model

    def model_for(self, event_type: str) -> type[EventData]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(f"unknown event type {event_type!r}") from None

    def parse(self, event: Event) -> EventData:
        """The typed payload of `event`; raises UnknownEventType or InvalidEvent.

        Fields the model does not know are left out (a tolerant reader): adding an optional
        field is a compatible change (docs/operations.md, "Upgrades"), so a consumer not yet
        upgraded must read the new producer's events, not dead-letter them. Producers stay
        strict: building a payload with a field its model lacks still fails."""
        model = self.model_for(event.type)
        data = event.data
        known = model.model_fields
        if any(key not in known for key in data):
            data = {key: value for key, value in data.items() if key in known}
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise InvalidEvent(
                f"{event.type}: {exc.error_count()} invalid field(s): {exc}"
            ) from exc

    def models(self) -> Iterable[type[EventData]]:
        return (self._models[k] for k in sorted(self._models))

    def topics(self) -> list[str]:
        return sorted({m.topic for m in self._models.values()})

    def json_schema(self, event_type: str) -> dict[str, Any]:
        return self.model_for(event_type).model_json_schema()

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._models

    def __len__(self) -> int:
        return len(self._models)


registry = EventRegistry()
