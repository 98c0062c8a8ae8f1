"""What every activity event shares: its topic, its source, and the audience it travels with."""

from __future__ import annotations

from typing import ClassVar, Literal

from shared.events.envelope import EventData

TOPIC = "canteen.activity"
SOURCE = "/canteen/activity"

Audience = Literal["org", "group"]
GroupVisibility = Literal["public", "private"]


class ActivityEvent(EventData):
    topic: ClassVar[str] = TOPIC
    source: ClassVar[str] = SOURCE
