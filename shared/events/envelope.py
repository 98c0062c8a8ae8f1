"""The CloudEvents 1.0 envelope every Canteen event travels in.

`Event` is the envelope (id, source, type, subject, time, data); `EventData` is the base of the
one pydantic model per event type that lives in the registry. The envelope keeps `data` as a
plain dict so that a consumer can route, dead-letter or replay an event without knowing its
schema; `registry.parse` turns it into the typed model.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.ids import new_id

# canteen.<service>.<aggregate>.<verb>.v<N>
EVENT_TYPE_PATTERN = re.compile(r"^canteen\.[a-z]+\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*$")
SPECVERSION = "1.0"


class EventData(BaseModel):
    """Base of every event payload model.

    Subclasses set `event_type` (the CloudEvents `type`), `topic` (the bus topic it is
    published on) and `source` (the producing service), and name the field holding the
    aggregate id in `subject_field` (it becomes the CloudEvents `subject` and the Kafka key,
    so all events of one aggregate keep their order).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    source: ClassVar[str]
    subject_field: ClassVar[str] = "id"

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


class Event(BaseModel):
    """A CloudEvents 1.0 envelope (binary-mode friendly: attributes + JSON data)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str
    subject: str = Field(min_length=1)
    time: datetime
    data: dict[str, Any]
    specversion: str = SPECVERSION
    datacontenttype: str = "application/json"
    traceparent: str | None = None

    @field_validator("type")
    @classmethod
    def _type_shape(cls, value: str) -> str:
        if not EVENT_TYPE_PATTERN.match(value):
            raise ValueError(
                f"event type {value!r} is not canteen.<service>.<aggregate>.<verb>.v<N>"
            )
        return value

    @field_validator("time")
    @classmethod
    def _aware_time(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        return value.astimezone(UTC)

    @property
    def key(self) -> str:
        """The partition key: the aggregate id, so one aggregate's events stay in order."""
        return self.subject

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict, e.g. to travel inside a document's outbox."""
        return self.model_dump(mode="json")

    @classmethod
    def from_record(cls, record: dict[str, Any] | str) -> Event:
        """From `to_record`'s dict, or from the event's JSON text (as outbox records keep it)."""
        if isinstance(record, str):
            return cls.model_validate_json(record)
        return cls.model_validate(record)


def new_event(
    payload: EventData,
    *,
    traceparent: str | None = None,
    event_id: str | None = None,
    at: datetime | None = None,
) -> Event:
    """Wrap a typed payload in an envelope: a fresh time-ordered id and the current time,
    unless given (an event rebuilt from stored state must come out the same each time)."""
    return Event(
        id=event_id or new_id(),
        source=payload.source,
        type=payload.event_type,
        subject=payload.subject(),
        time=at or datetime.now(UTC),
        data=payload.model_dump(mode="json"),
        traceparent=traceparent,
    )
