"""Feed rules without I/O: who receives a post, what a timeline entry holds, how pages merge.

A timeline entry is a post's reference in one person's home timeline. It copies the
post's sort key and audience fields, so the home read sorts and filters entries alone.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.http import InvalidCursor

FEED_SORT = [("created_at", -1), ("_id", -1)]
ENTRY_FIELDS = ("author_id", "audience", "group_id", "group_visibility", "topics", "kind")
# A missing or None group_visibility means no group at all.
REFRESHED_FIELDS = ("audience", "group_id", "group_visibility", "topics", "kind")


def entry_id(user_id: str, post_id: str) -> str:
    return f"{user_id}:{post_id}"


def timeline_entry(user_id: str, post: Mapping[str, Any]) -> dict[str, Any]:
    """The entry of `post` in `user_id`'s timeline (`post` as a document or event data)."""
    post_id = post.get("_id") or post["id"]
    entry: dict[str, Any] = {
        "_id": entry_id(user_id, post_id),
        "user_id": user_id,
        "post_id": post_id,
        "created_at": post["created_at"],
    }
    for name in ENTRY_FIELDS:
        entry[name] = post.get(name)
    entry["topics"] = list(entry["topics"] or [])
    return entry


@dataclass(frozen=True)
class Audience:
    """Who is reachable from a post's sources, already cut to the sources that fan out."""

    author_followers: Iterable[str]
    topic_followers: Iterable[str]
    group_members: Iterable[str]


def recipients(post: Mapping[str, Any], reach: Audience) -> set[str]:
    """Home timelines a post lands in.

    A private-group post reaches only the group's active members and its author — never a
    follower of its author or topics who is not a member. Org and public-group posts reach
    the author's and topics' followers, and (group posts) the members.
    """
    out = {post["author_id"], *reach.group_members}
    if post.get("audience") == "group" and post.get("group_visibility") != "public":
        return out
    out.update(reach.author_followers)
    out.update(reach.topic_followers)
    return out


@dataclass(frozen=True)
class Follows:
    """What one person follows and belongs to: the sources of their home timeline."""

    user_id: str
    people: frozenset[str]
    topics: frozenset[str]
    groups: frozenset[str]


def still_reachable(entry: Mapping[str, Any], follows: Follows) -> bool:
    """Does `entry` reach `follows.user_id` through a source other than one just dropped?"""
    if entry.get("author_id") == follows.user_id:
        return True
    group_id = entry.get("group_id")
    if group_id and group_id in follows.groups:
        return True
    if entry.get("audience") == "group" and entry.get("group_visibility") != "public":
        return False
    if entry.get("author_id") in follows.people:
        return True
    return bool(follows.topics.intersection(entry.get("topics") or []))


def sort_key(item: Mapping[str, Any]) -> tuple[datetime, str]:
    return item["created_at"], item.get("post_id") or item["_id"]


def merge_newest(
    sources: Sequence[Sequence[Mapping[str, Any]]], limit: int
) -> list[Mapping[str, Any]]:
    """Merge newest-first lists (entries or posts) into one, each post once, `limit` long."""
    seen: set[str] = set()
    out: list[Mapping[str, Any]] = []
    for item in heapq.merge(*sources, key=sort_key, reverse=True):
        post_id = sort_key(item)[1]
        if post_id in seen:
            continue
        seen.add(post_id)
        out.append(item)
        if len(out) == limit:
            break
    return out


def is_older(item: Mapping[str, Any], than: tuple[datetime, str]) -> bool:
    return sort_key(item) < than


def feed_cursor(after: Mapping[str, Any] | None) -> tuple[datetime, str] | None:
    """The (created_at, post id) a feed cursor points after; InvalidCursor if it has other keys.

    Cursors are signed, but one endpoint's cursor must not be replayed on another with a
    different shape.
    """
    if after is None:
        return None
    created_at, post_id = after.get("created_at"), after.get("_id")
    if set(after) != {"created_at", "_id"} or not isinstance(created_at, datetime):
        raise InvalidCursor
    if not isinstance(post_id, str):
        raise InvalidCursor
    return created_at, post_id


def should_trim(user_id: str, post_id: str, every: int) -> bool:
    """Sample about one insert in `every` per person to trim their timeline.

    Deterministic in (user, post): a redelivered event trims the same people again, and
    no per-person counter has to be written on the fan-out's hot path.
    """
    digest = hashlib.blake2b(f"{user_id}:{post_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % every == 0


def weak_etag(items: Iterable[Mapping[str, Any]], *parts: str | None) -> str:
    """A weak validator for a page: its items' ids, revisions, counts, pins, and cursors."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(f"{part or ''}\x1f".encode())
    for item in items:
        counts = item.get("counts") or {}
        fields = (
            item.get("_id"),
            item.get("revision", 0),
            item.get("pinned", False),
            item.get("state"),
            *sorted(counts.items()),
        )
        h.update(repr(fields).encode())
        h.update(b"\x1e")
    return f'W/"{h.hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against `etag`."""
    if not if_none_match:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False
