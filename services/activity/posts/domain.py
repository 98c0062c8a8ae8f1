"""Posts: what a person shares. Creating one yields the document and the event it implies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.activity.topics import extract_topics
from shared.events.envelope import Event, new_event
from shared.events.schemas.activity.posts import PostCreated
from shared.ids import new_id

PostKind = Literal["note", "question", "resource", "article"]
MAX_TEXT_CHARS = 20_000
MAX_TITLE_CHARS = 200


class PostRuleViolation(ValueError):
    """A post that breaks a domain rule (mapped to 422 by the routes)."""


@dataclass(frozen=True)
class NewPost:
    kind: PostKind
    text: str
    title: str | None = None
    tags: list[str] = field(default_factory=list)


def create_post(cmd: NewPost, *, author_id: str, now: datetime) -> tuple[dict[str, Any], Event]:
    """Validate `cmd` and return the post document and its `post.created` event."""
    text = cmd.text.strip()
    title = cmd.title.strip() if cmd.title else None
    if not text:
        raise PostRuleViolation("text must not be blank")
    if len(text) > MAX_TEXT_CHARS:
        raise PostRuleViolation(f"text is longer than {MAX_TEXT_CHARS} characters")
    if cmd.kind in ("article", "question") and not title:
        raise PostRuleViolation(f"a {cmd.kind} needs a title")
    if title and len(title) > MAX_TITLE_CHARS:
        raise PostRuleViolation(f"title is longer than {MAX_TITLE_CHARS} characters")
    post_id = new_id()
    topics = extract_topics(text, cmd.tags)
    doc: dict[str, Any] = {
        "_id": post_id,
        "kind": cmd.kind,
        "author_id": author_id,
        "audience": "org",
        "group_id": None,
        "title": title,
        "text": text,
        "topics": topics,
        "created_at": now,
        "edited_at": None,
        "revision": 0,
        "deleted": False,
        "counts": {"comments": 0, "reactions": 0, "answers": 0},
    }
    event = new_event(
        PostCreated(
            id=post_id,
            kind=cmd.kind,
            author_id=author_id,
            audience="org",
            title=title,
            text=text,
            topics=topics,
            created_at=now,
        )
    )
    return doc, event
