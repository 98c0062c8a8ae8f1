"""Feed reads: one keyset page each, its cost the page and not the history.

Home reads the person's materialized timeline and, per page, merges in the newest posts
of the big sources they follow or belong to (not fanned out), and — past the trimmed
horizon of the timeline — a query of the posts of all their sources. Every query carries
`Access.readable_filter` on the current memberships, so a lagging consumer cannot leak a
private group's post to someone who has left it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.activity.access import Access
from services.activity.directory import Directory
from services.activity.feeds.domain import (
    Follows,
    is_older,
    merge_newest,
    sort_key,
)
from services.activity.feeds.fanout import big_sources
from services.activity.feeds.repository import Sources, TimelineRepository
from services.activity.topics import normalize_topic
from shared.http import Principal
from shared.store.port import Filter

MAX_PINNED = 10
Key = tuple[datetime, str]


class UnknownGroup(LookupError):
    """No such group, or a private one the reader is not a member of (both answer 404)."""


class BadTopic(ValueError):
    """A topic that normalizes to nothing."""


@dataclass
class FeedPage:
    posts: list[dict[str, Any]]
    next_key: Key | None = None
    pinned: list[dict[str, Any]] = field(default_factory=list)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)


class FeedReader:
    def __init__(
        self,
        timelines: TimelineRepository,
        sources: Sources,
        access: Access,
        directory: Directory,
        *,
        threshold: int,
    ) -> None:
        self._timelines = timelines
        self._sources = sources
        self._access = access
        self._directory = directory
        self._threshold = threshold

    async def with_authors(self, page: FeedPage) -> FeedPage:
        """Attach the authors' display data (as the posts routes show it)."""
        page.people = await self._directory.people(
            d["author_id"] for d in [*page.pinned, *page.posts]
        )
        return page

    async def home(self, principal: Principal, *, limit: int, after: Key | None) -> FeedPage:
        """My entries, merged with big sources' newest posts and, past the horizon, a query."""
        me = principal.user_id
        fetch = limit + 1
        readable = await self._access.readable_filter(principal)
        follows = await self._sources.follows_of(me)
        lists: list[list[dict[str, Any]]] = []
        entries = await self._timelines.page(me, readable, limit=fetch, after=after)
        horizon = await self._timelines.horizon(me)
        if horizon is not None:
            entries = [e for e in entries if not is_older(e, horizon)]
            if len(entries) < fetch:
                below = after if after is not None and after < horizon else horizon
                lists.append(await self._posts(_sources_filter(follows), readable, fetch, below))
        lists.append(entries)
        big = await big_sources(
            self._sources,
            self._threshold,
            people=follows.people,
            topics=follows.topics,
            groups=follows.groups,
        )
        for name, values in (
            ("author_id", big.people),
            ("topics", big.topics),
            ("group_id", big.groups),
        ):
            if values:
                source = {name: {"$in": sorted(values)}}
                lists.append(await self._posts(source, readable, fetch, after))
        return await self._hydrate(merge_newest(lists, fetch), limit)

    async def group(
        self, principal: Principal, group_id: str, *, limit: int, after: Key | None
    ) -> FeedPage:
        """A group's posts; pinned ones ahead of the first page."""
        group = await self._access.group(group_id)
        if group is None or not await self._access.can_see_group(principal, group):
            raise UnknownGroup(group_id)
        readable = await self._access.readable_filter(principal)
        base: Filter = {"group_id": group_id}
        posts = await self._posts({**base, "pinned": {"$ne": True}}, readable, limit + 1, after)
        page = _page(posts, limit)
        if after is None:
            page.pinned = await self._posts({**base, "pinned": True}, readable, MAX_PINNED, None)
        return page

    async def topic(
        self, principal: Principal, topic: str, *, limit: int, after: Key | None
    ) -> FeedPage:
        normalized = normalize_topic(topic)
        if not normalized:
            raise BadTopic(topic)
        readable = await self._access.readable_filter(principal)
        return _page(await self._posts({"topics": normalized}, readable, limit + 1, after), limit)

    async def person(
        self, principal: Principal, user_id: str, *, limit: int, after: Key | None
    ) -> FeedPage:
        readable = await self._access.readable_filter(principal)
        return _page(await self._posts({"author_id": user_id}, readable, limit + 1, after), limit)

    async def questions_for(
        self, principal: Principal, *, limit: int, after: Key | None
    ) -> FeedPage:
        """Open questions in topics I follow, asked by someone else."""
        follows = await self._sources.follows_of(principal.user_id)
        if not follows.topics:
            return FeedPage(posts=[])
        readable = await self._access.readable_filter(principal)
        source = {
            "kind": "question",
            "state": "open",
            "topics": {"$in": sorted(follows.topics)},
            "author_id": {"$ne": principal.user_id},
        }
        return _page(await self._posts(source, readable, limit + 1, after), limit)

    async def _posts(
        self, source: Filter, readable: Filter, limit: int, after: Key | None
    ) -> list[dict[str, Any]]:
        return await self._sources.posts(source, readable, limit=limit, after=after)

    async def _hydrate(self, merged: list[Any], limit: int) -> FeedPage:
        shown = merged[:limit]
        ids = [sort_key(item)[1] for item in shown]
        docs = await self._sources.posts_by_id(ids)
        # A post deleted since its entry was read is left out; the cursor stays in place.
        page = FeedPage(posts=[docs[i] for i in ids if i in docs])
        if len(merged) > limit and shown:
            page.next_key = sort_key(shown[-1])
        return page


def _page(posts: list[dict[str, Any]], limit: int) -> FeedPage:
    shown = posts[:limit]
    next_key = sort_key(shown[-1]) if len(posts) > limit and shown else None
    return FeedPage(posts=shown, next_key=next_key)


def _sources_filter(follows: Follows) -> Filter:
    """Posts of everything a person's home timeline draws from (used past its horizon)."""
    clauses: list[Filter] = [{"author_id": {"$in": sorted({follows.user_id, *follows.people})}}]
    if follows.groups:
        clauses.append({"group_id": {"$in": sorted(follows.groups)}})
    if follows.topics:
        clauses.append({"topics": {"$in": sorted(follows.topics)}})
    return {"$or": clauses}
