"""Events the notify service publishes on the `canteen.notify` topic.

`notification.created` tells other notify replicas and analytics that a person has a new
notification. It carries no private content: no title, summary or text, only ids and kinds.
The key is the recipient, so one person's notifications stay in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import EventData
from shared.events.registry import registry

TOPIC = "canteen.notify"
SOURCE = "/canteen/notify"


class NotifyEvent(EventData):
    topic: ClassVar[str] = TOPIC
    source: ClassVar[str] = SOURCE


@registry.register
class NotificationCreated(NotifyEvent):
    """A notification was created for `recipient_id` (ids and kinds only)."""

    event_type: ClassVar[str] = "canteen.notify.notification.created.v1"
    subject_field: ClassVar[str] = "recipient_id"

    id: str = Field(min_length=1, max_length=64, description="the notification's id")
    recipient_id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=64, description="e.g. answer.created, mention")
    actor_id: str | None = Field(None, max_length=200)
    target_type: str = Field(min_length=1, max_length=32)
    target_id: str = Field(min_length=1, max_length=300)
    group_id: str = Field(min_length=1, max_length=64, description="the aggregation group")
    seq: int = Field(ge=1, description="per-recipient sequence (the SSE event id)")
    critical: bool = False
    private: bool = Field(False, description="about content in a private group")
    in_app: bool = True
    created_at: datetime
