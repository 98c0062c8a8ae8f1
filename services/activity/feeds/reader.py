"""Feed reads: one keyset page each, its cost the page and not the history.

Home reads the person's materialized timeline and, per page, merges in the newest posts
of the big sources they follow or belong to (not fanned out), and — past the trimmed
horizon of the timeline — a query of the posts of all their sources. Topic feeds and
questions-for-me page the `topic_index` side collection (see `topic_index.py`), the
latter only its open questions' entries. Every query carries
`Access.readable_filter` on the current memberships, so a lagging consumer cannot leak a
private group's post to someone who has left it; posts found through entries are fetched
again under that filter.

Independent reads of a page run concurrently (`asyncio.gather`): on MongoDB they overlap
on the wire, on SQLite they queue back to back on the store's thread instead of waiting
for the event loop between them. A home page is four such steps: my groups with their
sizes, and the big sources I follow; my timeline; merges (only with big sources or, when
the timeline page ran short, past my horizon: only then are the horizon and my other
follows read); the posts and their authors. Every page reads the memberships it filters by, so
leaving a private group hides its posts on the next page; the routes keep a rendered page
only until the next write to the store (`cache.py`), and leaving is a write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from services.activity.access import Access, readable_filter_of
from services.activity.directory import Directory
from services.activity.feeds.domain import (
    Follows,
    is_older,
    merge_newest,
    sort_key,
)
from services.activity.feeds.repository import Sources, TimelineRepository, unnarrowed
from services.activity.feeds.topic_index import OPEN_QUESTIONS, TopicIndex
from services.activity.topics import normalize_topic
from shared.http import Principal
from shared.store.port import Filter

MAX_PINNED = 10
# Topic index entries read at once when a page has to read past skipped posts.
MAX_BATCH = 1000
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
        topic_index: TopicIndex,
        *,
        threshold: int,
    ) -> None:
        self._timelines = timelines
        self._sources = sources
        self._access = access
        self._directory = directory
        self._topic_index = topic_index
        self._threshold = threshold

    async def home(self, principal: Principal, *, limit: int, after: Key | None) -> FeedPage:
        """My entries, merged with big sources' newest posts and, past the horizon, a query."""
        me = principal.user_id
        fetch = limit + 1
        member_counts, (big_people, big_topics) = await asyncio.gather(
            self._access.member_group_sizes(me, recent=True),
            self._sources.big_follows(me, self._threshold),
        )
        groups = set(member_counts)
        readable = readable_filter_of(groups)
        entries = await self._timelines.page(me, readable, limit=fetch, after=after)
        big_groups = {g for g, n in member_counts.items() if n > self._threshold}
        queries: list[Awaitable[list[dict[str, Any]]]] = []
        # A full page lies above the horizon (no entry stays below it: see
        # `TimelineRepository.drop_below_horizon`); a short one may have reached it.
        horizon = await self._timelines.horizon(me) if len(entries) < fetch else None
        if horizon is not None:
            entries = [e for e in entries if not is_older(e, horizon)]
            # Past the trimmed horizon: every source, so every follow, is read.
            people, topics = await self._sources.follow_targets(me)
            follows = Follows(me, people, topics, frozenset(groups))
            below = after if after is not None and after < horizon else horizon
            queries.append(self._posts(_sources_filter(follows), readable, fetch, below))
        for name, values in (
            ("author_id", big_people),
            ("topics", big_topics),
            ("group_id", big_groups),
        ):
            if values:
                source = {name: {"$in": sorted(values)}}
                queries.append(self._posts(source, readable, fetch, after))
        lists = [*await asyncio.gather(*queries), entries]
        merged = merge_newest(lists, fetch)
        shown = merged[:limit]
        # Entries and posts both carry the author: their display data is read alongside.
        posts, people = await asyncio.gather(
            self._hydrate(shown, readable),
            self._directory.people(item["author_id"] for item in shown),
        )
        page = FeedPage(posts=posts, people=people)
        page.next_key = sort_key(shown[-1]) if len(merged) > limit and shown else None
        return page

    async def group(
        self, principal: Principal, group_id: str, *, limit: int, after: Key | None
    ) -> FeedPage:
        """A group's posts; pinned ones ahead of the first page."""
        group, groups = await asyncio.gather(
            self._access.group(group_id),
            self._access.member_groups(principal.user_id, recent=True),
        )
        if group is None or not self._access.sees_group(group, groups):
            raise UnknownGroup(group_id)
        readable = readable_filter_of(groups)
        base: Filter = {"group_id": group_id}
        unpinned = self._posts({**base, "pinned": {"$ne": True}}, readable, limit + 1, after)
        if after is None:
            pinned_query = self._posts({**base, "pinned": True}, readable, MAX_PINNED, None)
            posts, pinned = await asyncio.gather(unpinned, pinned_query)
        else:
            posts, pinned = await unpinned, []
        return await self._page(posts[:limit], more=len(posts) > limit, pinned=pinned)

    async def topic(
        self, principal: Principal, topic: str, *, limit: int, after: Key | None
    ) -> FeedPage:
        """Posts in a topic, found through the topic index and read under the full filter."""
        normalized = normalize_topic(topic)
        if not normalized:
            raise BadTopic(topic)
        readable = await self._access.readable_filter(principal, recent=True)
        return await self._indexed(
            [normalized], readable, {"topics": normalized}, limit=limit, after=after
        )

    async def person(
        self, principal: Principal, user_id: str, *, limit: int, after: Key | None
    ) -> FeedPage:
        readable = await self._access.readable_filter(principal, recent=True)
        posts = await self._posts({"author_id": user_id}, readable, limit + 1, after)
        return await self._page(posts[:limit], more=len(posts) > limit)

    async def questions_for(
        self, principal: Principal, *, limit: int, after: Key | None
    ) -> FeedPage:
        """Open questions in topics I follow, asked by someone else (through the topic index)."""
        me = principal.user_id
        (_, topics), groups = await asyncio.gather(
            self._sources.follow_targets(me), self._access.member_groups(me, recent=True)
        )
        if not topics:
            return FeedPage(posts=[])
        # Also the entries' filter: entries copy kind, state and author.
        source: Filter = {**OPEN_QUESTIONS, "author_id": {"$ne": me}}
        return await self._indexed(
            sorted(topics),
            readable_filter_of(groups),
            source,
            limit=limit,
            after=after,
            only=source,
        )

    async def _indexed(
        self,
        topics: list[str],
        readable: Filter,
        source: Filter,
        *,
        limit: int,
        after: Key | None,
        only: Filter | None = None,
    ) -> FeedPage:
        """A page of posts matching `source` in any of `topics`, through the topic index.

        The newest `limit + 1` entries of each topic merged are exactly the newest of their
        union; the posts are then read under `source` and `readable`, and a post that no
        longer qualifies (answered, edited out of the topic, deleted, hidden) is skipped
        by reading on past it, so the page is the same as a query of `posts` would give.
        """
        fetch = limit + 1
        found: list[dict[str, Any]] = []
        also: Filter = {"$and": [source, unnarrowed(readable)]}
        cursor, batch = after, fetch
        while len(found) < fetch:
            lists = await asyncio.gather(
                *(
                    self._topic_index.page(t, readable, limit=batch, after=cursor, only=only)
                    for t in topics
                )
            )
            merged = merge_newest(lists, batch)
            if not merged:
                break
            ids = [sort_key(e)[1] for e in merged]
            docs = await self._sources.posts_by_id(ids, also)
            found += [docs[i] for i in ids if i in docs]
            if len(merged) < batch:
                break  # every topic is exhausted
            cursor = sort_key(merged[-1])
            # Many skipped (e.g. answered questions): read on in growing steps.
            batch = min(batch * 4, MAX_BATCH)
        return await self._page(found[:limit], more=len(found) > limit)

    async def _posts(
        self, source: Filter, readable: Filter, limit: int, after: Key | None
    ) -> list[dict[str, Any]]:
        return await self._sources.posts(source, readable, limit=limit, after=after)

    async def _hydrate(
        self, shown: list[Mapping[str, Any]], readable: Filter
    ) -> list[dict[str, Any]]:
        """Posts for merged items: entries are fetched (live, readable now), posts kept."""
        ids = [item["post_id"] for item in shown if "post_id" in item]
        docs = await self._sources.posts_by_id(ids, unnarrowed(readable)) if ids else {}
        # A post deleted or hidden since its entry was read is left out; the cursor stays.
        out: list[dict[str, Any]] = []
        for item in shown:
            doc = docs.get(item["post_id"]) if "post_id" in item else cast(dict[str, Any], item)
            if doc is not None:
                out.append(doc)
        return out

    async def _page(
        self,
        posts: list[dict[str, Any]],
        *,
        more: bool,
        pinned: list[dict[str, Any]] | None = None,
    ) -> FeedPage:
        """The page with its authors' display data; the cursor after the last post shown."""
        page = FeedPage(posts=posts, pinned=pinned or [])
        page.next_key = sort_key(posts[-1]) if more and posts else None
        page.people = await self._directory.people(d["author_id"] for d in [*page.pinned, *posts])
        return page


def _sources_filter(follows: Follows) -> Filter:
    """Posts of everything a person's home timeline draws from (used past its horizon)."""
    clauses: list[Filter] = [{"author_id": {"$in": sorted({follows.user_id, *follows.people})}}]
    if follows.groups:
        clauses.append({"group_id": {"$in": sorted(follows.groups)}})
    if follows.topics:
        clauses.append({"topics": {"$in": sorted(follows.topics)}})
    return {"$or": clauses}
