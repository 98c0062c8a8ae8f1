"""Posts: what a person shares. Commands yield the new state and the events it implies.

Pure: no I/O. The service resolves what needs the store (the group, @handles) and passes
the answers in (`Placement`, mention ids).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from services.activity.posts.render import render_markdown
from services.activity.topics import extract_topics
from shared.events.envelope import Event, new_event
from shared.events.schemas.activity.posts import (
    PostCreated,
    PostDeleted,
    PostPinned,
    PostUpdated,
)
from shared.ids import new_id

PostKind = Literal["note", "question", "resource", "article"]
ResourceType = Literal["article", "video", "slides", "document", "how-to", "tool"]
GroupVisibility = Literal["public", "private"]

MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 10_000
MAX_ARTICLE_CHARS = 100_000
MAX_TAGS = 20
MAX_TAG_CHARS = 64
MAX_URL_CHARS = 2048
MAX_MENTIONS = 50
_HANDLE = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9][A-Za-z0-9_.-]{0,63})")


class PostRuleViolation(ValueError):
    """A post that breaks a domain rule (mapped to 422 by the routes)."""


@dataclass(frozen=True)
class NewPost:
    kind: PostKind
    body_md: str = ""
    title: str | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    resource_type: ResourceType | None = None


@dataclass(frozen=True)
class Placement:
    """Where a post lives: the organisation, or one group (with its visibility copied)."""

    audience: Literal["org", "group"] = "org"
    group_id: str | None = None
    group_visibility: GroupVisibility | None = None


@dataclass(frozen=True)
class Content:
    """A validated, rendered post body with what was extracted from it."""

    kind: PostKind
    title: str | None
    body_md: str
    body_html: str
    text: str
    tags: list[str]
    topics: list[str]
    handles: list[str]
    url: str | None
    resource_type: ResourceType | None


def prepare(cmd: NewPost) -> Content:
    """Validate and render a post's content; raises PostRuleViolation."""
    body = cmd.body_md.strip()
    title = cmd.title.strip() if cmd.title else None
    limit = MAX_ARTICLE_CHARS if cmd.kind == "article" else MAX_BODY_CHARS
    if cmd.kind in ("note", "article") and not body:
        raise PostRuleViolation(f"a {cmd.kind} needs a body_md")
    if len(body) > limit:
        raise PostRuleViolation(f"body_md is longer than {limit} characters")
    if cmd.kind in ("article", "question") and not title:
        raise PostRuleViolation(f"a {cmd.kind} needs a title")
    if title and len(title) > MAX_TITLE_CHARS:
        raise PostRuleViolation(f"title is longer than {MAX_TITLE_CHARS} characters")
    if len(cmd.tags) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS for t in cmd.tags):
        raise PostRuleViolation(f"at most {MAX_TAGS} tags of {MAX_TAG_CHARS} characters")
    if cmd.kind == "resource":
        _check_url(cmd.url)
    elif cmd.url is not None or cmd.resource_type is not None:
        raise PostRuleViolation("url and resource_type belong to resources only")
    rendered = render_markdown(body)
    return Content(
        kind=cmd.kind,
        title=title,
        body_md=body,
        body_html=rendered.html,
        text=rendered.text,
        tags=list(cmd.tags),
        topics=extract_topics(rendered.text, cmd.tags),
        handles=extract_handles(rendered.text),
        url=cmd.url,
        resource_type=cmd.resource_type if cmd.kind == "resource" else None,
    )


def extract_handles(text: str) -> list[str]:
    """`@handle`s in order of first appearance, lower-cased, without a trailing dot."""
    seen: dict[str, None] = {}
    for raw in _HANDLE.findall(text):
        handle = raw.rstrip(".-").lower()
        if handle:
            seen.setdefault(handle, None)
    return list(seen)[:MAX_MENTIONS]


def _check_url(url: str | None) -> None:
    if not url:
        raise PostRuleViolation("a resource needs a url")
    if len(url) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise PostRuleViolation("url is not a valid http(s) URL")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise PostRuleViolation("url is not a valid http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise PostRuleViolation("url must be an absolute http or https URL")


def create_post(
    content: Content,
    *,
    author_id: str,
    placement: Placement,
    mentions: list[str],
    now: datetime,
    member_mentions: list[str] | None = None,
) -> tuple[dict[str, Any], Event]:
    """The new post document and its `post.created` event."""
    post_id = new_id()
    doc: dict[str, Any] = {
        "_id": post_id,
        "kind": content.kind,
        "author_id": author_id,
        "audience": placement.audience,
        "group_id": placement.group_id,
        "group_visibility": placement.group_visibility,
        **_content_fields(content, mentions),
        "created_at": now,
        "edited_at": None,
        "revision": 0,
        "deleted": False,
        "deleted_at": None,
        "pinned": False,
        "counts": {"comments": 0, "reactions": 0, "answers": 0},
        "reactions_by_kind": {},
    }
    if content.kind == "question":
        doc |= {"state": "open", "accepted_answer_id": None}
    event = new_event(
        PostCreated(
            id=post_id,
            kind=content.kind,
            author_id=author_id,
            audience=placement.audience,
            group_id=placement.group_id,
            group_visibility=placement.group_visibility,
            title=content.title,
            text=content.text,
            url=content.url,
            resource_type=content.resource_type,
            topics=content.topics,
            mentions=mentions,
            member_mentions=member_mentions,
            created_at=now,
        )
    )
    return doc, event


def edited(post: dict[str, Any], changes: dict[str, Any]) -> NewPost:
    """The post's content with `changes` (a partial edit) applied, ready for `prepare`."""
    current = NewPost(
        kind=post["kind"],
        body_md=post["body_md"],
        title=post["title"],
        tags=list(post.get("tags", [])),
        url=post.get("url"),
        resource_type=post.get("resource_type"),
    )
    return replace(current, **changes)


def edit_post(
    post: dict[str, Any],
    content: Content,
    *,
    editor_id: str,
    mentions: list[str],
    now: datetime,
    member_mentions: list[str] | None = None,
) -> tuple[dict[str, Any], Event]:
    """The `$set` of an edit and its `post.updated` event (mentions: the new ones only)."""
    revision = post["revision"] + 1
    fields = {**_content_fields(content, mentions), "edited_at": now, "revision": revision}
    newly_mentioned = [m for m in mentions if m not in post.get("mentions", [])]
    event = new_event(
        PostUpdated(
            id=post["_id"],
            kind=post["kind"],
            author_id=post["author_id"],
            editor_id=editor_id,
            audience=post["audience"],
            group_id=post["group_id"],
            group_visibility=post["group_visibility"],
            title=content.title,
            text=content.text,
            url=content.url,
            resource_type=content.resource_type,
            topics=content.topics,
            mentions=newly_mentioned,
            member_mentions=(
                None
                if member_mentions is None
                else [m for m in member_mentions if m in newly_mentioned]
            ),
            revision=revision,
            edited_at=now,
        )
    )
    return fields, event


def delete_post(
    post: dict[str, Any], *, deleted_by: str, now: datetime
) -> tuple[dict[str, Any], Event]:
    """The `$set` of a soft delete and its tombstone event."""
    event = new_event(
        PostDeleted(
            id=post["_id"],
            kind=post["kind"],
            author_id=post["author_id"],
            deleted_by=deleted_by,
            audience=post["audience"],
            group_id=post["group_id"],
            group_visibility=post.get("group_visibility"),
            deleted_at=now,
        )
    )
    return {"deleted": True, "deleted_at": now}, event


def pin_post(
    post: dict[str, Any], *, pinned: bool, by: str, now: datetime
) -> tuple[dict[str, Any], Event]:
    """The `$set` of a pin or unpin and its `post.pinned` event."""
    event = new_event(
        PostPinned(
            id=post["_id"],
            kind=post["kind"],
            author_id=post["author_id"],
            pinned=pinned,
            pinned_by=by,
            audience=post["audience"],
            group_id=post["group_id"],
            group_visibility=post["group_visibility"],
            title=post["title"],
            text=post["text"],
            at=now,
        )
    )
    return {"pinned": pinned, "pinned_at": now if pinned else None, "pinned_by": by}, event


def _content_fields(content: Content, mentions: list[str]) -> dict[str, Any]:
    return {
        "title": content.title,
        "body_md": content.body_md,
        "body_html": content.body_html,
        "text": content.text,
        "tags": content.tags,
        "topics": content.topics,
        "mentions": mentions,
        "url": content.url,
        "resource_type": content.resource_type,
    }
