"""Events the activity service publishes on the `canteen.activity` topic."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import EventData
from shared.events.registry import registry

TOPIC = "canteen.activity"
SOURCE = "/canteen/activity"

PostKind = Literal["note", "question", "resource", "article"]


class _ActivityEvent(EventData):
    topic: ClassVar[str] = TOPIC
    source: ClassVar[str] = SOURCE


@registry.register
class PostCreated(_ActivityEvent):
    """A post (note, question, resource or article) was published."""

    event_type: ClassVar[str] = "canteen.activity.post.created.v1"

    id: str
    kind: PostKind
    author_id: str
    audience: Literal["org", "group"]
    group_id: str | None = None
    title: str | None = None
    text: str = Field(description="plain-text rendering of the body, for search")
    topics: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list, description="user ids")
    created_at: datetime


@registry.register
class PostUpdated(_ActivityEvent):
    """A post was edited by its author or a moderator."""

    event_type: ClassVar[str] = "canteen.activity.post.updated.v1"

    id: str
    editor_id: str
    title: str | None = None
    text: str
    topics: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)
    revision: int = Field(ge=1)
    edited_at: datetime


@registry.register
class PostDeleted(_ActivityEvent):
    """Tombstone: the post is gone for everyone; consumers drop what they derived from it."""

    event_type: ClassVar[str] = "canteen.activity.post.deleted.v1"

    id: str
    deleted_by: str
    deleted_at: datetime
