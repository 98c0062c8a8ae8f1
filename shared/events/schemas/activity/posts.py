"""Activity events: posts (notes, questions, resources, articles), answers and votes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.registry import registry
from shared.events.schemas.activity.base import ActivityEvent, Audience, GroupVisibility

PostKind = Literal["note", "question", "resource", "article"]
ResourceType = Literal["article", "video", "slides", "document", "how-to", "tool"]


@registry.register
class PostCreated(ActivityEvent):
    """A post (note, question, resource or article) was published."""

    event_type: ClassVar[str] = "canteen.activity.post.created.v1"

    id: str
    kind: PostKind
    author_id: str
    audience: Audience
    group_id: str | None = None
    group_visibility: GroupVisibility | None = None
    title: str | None = None
    text: str = Field(description="plain-text rendering of the body, for search")
    url: str | None = Field(None, description="the shared link (resources)")
    resource_type: ResourceType | None = None
    topics: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list, description="user ids")
    member_mentions: list[str] | None = Field(
        None,
        description="of `mentions`, who were active members of the private group when this "
        "was written (None outside private groups): consumers trust it over their own "
        "membership projection, which may not have seen a just-accepted invitation yet",
    )
    created_at: datetime


@registry.register
class PostUpdated(ActivityEvent):
    """A post was edited by its author, a group admin or a moderator."""

    event_type: ClassVar[str] = "canteen.activity.post.updated.v1"

    id: str
    kind: PostKind
    author_id: str
    editor_id: str
    audience: Audience
    group_id: str | None = None
    group_visibility: GroupVisibility | None = None
    title: str | None = None
    text: str
    url: str | None = None
    resource_type: ResourceType | None = None
    topics: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list, description="user ids newly mentioned")
    member_mentions: list[str] | None = Field(
        None,
        description="of `mentions`, who were active members of the private group when this "
        "was written (None outside private groups): consumers trust it over their own "
        "membership projection, which may not have seen a just-accepted invitation yet",
    )
    revision: int = Field(ge=1)
    edited_at: datetime


@registry.register
class PostDeleted(ActivityEvent):
    """Tombstone: the post is gone for everyone; consumers drop what they derived from it."""

    event_type: ClassVar[str] = "canteen.activity.post.deleted.v1"

    id: str
    kind: PostKind
    author_id: str
    deleted_by: str
    audience: Audience
    group_id: str | None = None
    group_visibility: GroupVisibility | None = None
    deleted_at: datetime


@registry.register
class PostPinned(ActivityEvent):
    """A post was pinned or unpinned in its group (or org-wide): announcements."""

    event_type: ClassVar[str] = "canteen.activity.post.pinned.v1"

    id: str
    kind: PostKind
    author_id: str
    pinned: bool
    pinned_by: str
    audience: Audience
    group_id: str | None = None
    group_visibility: GroupVisibility | None = None
    title: str | None = None
    text: str = Field(description="plain-text rendering of the body")
    at: datetime
