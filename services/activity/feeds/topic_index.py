"""The `topic_index` side collection: one entry per (topic, post), so a topic feed narrows in SQL.

`posts.topics` is an array, and the SQLite store never narrows on a path holding arrays
(an array matches by membership, which its expression indexes cannot express); a topic
page then walked posts newest-first and decided each in Python, its cost the topic's
rarity times the history. An entry here has a scalar `topic`, so the index
(topic, created_at, _id) serves a page on both stores with the same results.

Entries copy the post's sort key and audience fields (`_id = "<topic>:<post_id>"`, so a
redelivered event adds nothing), which lets a read skip what the reader may not see
before fetching a post. They are an index, never the truth: a topic read fetches the
posts themselves under the full filter (live, still in the topic, readable now), so a
lagging or stale entry can hide nothing it should show only until the consumer catches
up, and can never show what the reader may not see.

Entries of questions also copy the question's `state`, re-read from the post whenever an
answer is accepted or un-accepted, so questions-for-me reads only open questions' entries
through the index (topic, kind, state, created_at, _id): its cost is the page, not the
number of questions ever asked (it queried `posts` and decided the topics in Python, 15 ms
at 10,000 posts and 140 ms at 100,000 for someone whose topics had no open question).

Written by the `activity.feeds` consumer (`IndexingFanOut`, ahead of the fan-out of the
same event, so a post in a home timeline is in its topics' feeds too) and backfilled
from `posts` at set-up for a store that predates it or an older entry layout. A topic
feed, and questions-for-me, thus show a new post once that consumer has handled it, as
home does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from services.activity.feeds.domain import FEED_SORT
from services.activity.feeds.fanout import BACKFILL, FanOut, settle_visibility
from services.activity.feeds.repository import POSTS, Sources, unnarrowed
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore, Filter

log = structlog.get_logger()

TOPIC_INDEX = "topic_index"
# A document no topic entry can collide with (entries are "<topic>:<post_id>").
BUILT_MARKER = "~built"
# The entry layout the marker records; an index built with an older one is rebuilt.
LAYOUT = 2
ENTRY_FIELDS = ("author_id", "audience", "group_id", "group_visibility", "kind", "state")
OPEN_QUESTIONS: Filter = {"kind": "question", "state": "open"}
BACKFILL_BATCH = 1000


def topic_entry_id(topic: str, post_id: str) -> str:
    return f"{topic}:{post_id}"


def topic_entries(post: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries of `post` (a document or event data) in the index, one per topic."""
    post_id = post.get("_id") or post["id"]
    fields = {name: post.get(name) for name in ENTRY_FIELDS}
    if fields["kind"] == "question" and fields["state"] is None:
        fields["state"] = "open"  # a post.created event: a new question is open
    return [
        {
            "_id": topic_entry_id(topic, post_id),
            "topic": topic,
            "post_id": post_id,
            "created_at": post["created_at"],
            **fields,
        }
        for topic in dict.fromkeys(post.get("topics") or [])
    ]


class TopicIndex:
    def __init__(self, store: DocumentStore) -> None:
        self._entries = store.collection(TOPIC_INDEX)
        self._posts = store.collection(POSTS)
        self._sources = Sources(store)

    async def prepare(self) -> None:
        await self._entries.create_index([("topic", 1), ("created_at", -1), ("_id", -1)])
        await self._entries.create_index(
            [("topic", 1), ("kind", 1), ("state", 1), ("created_at", -1), ("_id", -1)]
        )
        await self._entries.create_index([("post_id", 1)])
        await self._entries.create_index([("group_id", 1)])
        marker = await self._entries.find_one({"_id": BUILT_MARKER})
        if marker is None or marker.get("layout", 1) < LAYOUT:
            if marker is not None:
                # Entries without `state`: rebuilt whole rather than patched one by one.
                await self._entries.delete_many({"_id": {"$ne": BUILT_MARKER}})
            await self.backfill()

    async def backfill(self) -> int:
        """Index every post already stored (idempotent; marks the index built when done)."""
        written = 0
        after: dict[str, Any] | None = None
        fields = ["_id", "topics", "created_at", "deleted", *ENTRY_FIELDS]
        while True:
            batch = await self._posts.find(
                {}, sort=[("_id", 1)], limit=BACKFILL_BATCH, after=after, projection=fields
            )
            if not batch:
                break
            entries = [e for p in batch if not p.get("deleted") for e in topic_entries(p)]
            await self._add(entries)
            written += len(entries)
            after = {"_id": batch[-1]["_id"]}
        await self._entries.update_one(
            {"_id": BUILT_MARKER}, {"$set": {"entries": written, "layout": LAYOUT}}, upsert=True
        )
        log.info("activity.feeds.topic_index_built", entries=written)
        return written

    async def post_created(self, post: Mapping[str, Any]) -> None:
        await self._add(topic_entries(post))
        await self._settle_visibility(post)

    async def post_updated(self, post_id: str) -> None:
        """Make the post's entries match the stored post (its topics and audience now)."""
        doc = await self._posts.find_one({"_id": post_id})
        if doc is None or doc.get("deleted"):
            await self.post_deleted(post_id)
            return
        topics = list(dict.fromkeys(doc.get("topics") or []))
        await self._entries.delete_many({"post_id": post_id, "topic": {"$nin": topics}})
        await self._add(topic_entries(doc))
        fields = {name: doc.get(name) for name in ENTRY_FIELDS}
        await self._entries.update_many({"post_id": post_id}, {"$set": fields})
        # The post was read before these writes: the group's visibility may have changed,
        # and its change been handled, in between.
        await self._settle_visibility(doc)

    async def post_deleted(self, post_id: str) -> None:
        await self._entries.delete_many({"post_id": post_id})

    async def group_visibility_changed(self, group_id: str, visibility: str) -> None:
        await self._entries.update_many(
            {"group_id": group_id}, {"$set": {"group_visibility": visibility}}
        )

    async def group_deleted(self, group_id: str) -> None:
        await self._entries.delete_many({"group_id": group_id})

    async def _settle_visibility(self, post: Mapping[str, Any]) -> None:
        """A post's entries carry its group's visibility now (see `settle_visibility`)."""
        group_id = post.get("group_id")
        if not group_id or not post.get("topics"):
            return
        post_id = post.get("_id") or post["id"]

        async def apply(visibility: str) -> None:
            await self._entries.update_many(
                {"post_id": post_id, "group_visibility": {"$ne": visibility}},
                {"$set": {"group_visibility": visibility}},
            )

        await settle_visibility(post, lambda: self._sources.group_visibility(group_id), apply)

    async def page(
        self,
        topic: str,
        readable: Filter,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        only: Filter | None = None,
    ) -> list[dict[str, Any]]:
        """Entries of `topic` (and `only`) newest first, after the (created_at, post id) cursor."""
        keyset = None
        if after is not None:
            keyset = {"created_at": after[0], "_id": topic_entry_id(topic, after[1])}
        return await self._entries.find(
            {"$and": [{"topic": topic, **(only or {})}, unnarrowed(readable)]},
            sort=FEED_SORT,
            limit=limit,
            after=keyset,
        )

    async def _add(self, entries: Sequence[dict[str, Any]]) -> None:
        """Insert entries; ones already there (a redelivery, a backfill race) are skipped."""
        chunk = list(entries)
        while chunk:
            try:
                await self._entries.insert_many(chunk)
                return
            except DuplicateKeyError:
                found = await self._entries.find(
                    {"_id": {"$in": [e["_id"] for e in chunk]}}, projection=["_id"]
                )
                there = {d["_id"] for d in found}
                chunk = [e for e in chunk if e["_id"] not in there]


class IndexingFanOut(FanOut):
    """The feeds consumer's fan-out, keeping the topic index first.

    The index is written before the fan-out of the same event, so once a post reached a
    home timeline, its topic feeds show it too.
    """

    def __init__(self, index: TopicIndex, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index = index

    async def post_created(self, post: Mapping[str, Any]) -> int:
        await self._index.post_created(post)
        return await super().post_created(post)

    async def post_updated(self, post: Mapping[str, Any]) -> None:
        await self._index.post_updated(post["id"])
        await super().post_updated(post)

    async def post_deleted(self, post_id: str) -> None:
        await self._index.post_deleted(post_id)
        await super().post_deleted(post_id)

    async def question_state_changed(self, question_id: str) -> None:
        await self._index.post_updated(question_id)
        await super().question_state_changed(question_id)

    async def group_visibility_changed(self, group_id: str, visibility: str) -> None:
        await self._index.group_visibility_changed(group_id, visibility)
        await super().group_visibility_changed(group_id, visibility)

    async def group_deleted(self, group_id: str) -> None:
        await self._index.group_deleted(group_id)
        await super().group_deleted(group_id)

    async def _newest_posts(
        self, source: dict[str, Any], readable: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """A topic's newest posts through the index, as the topic feed reads them.

        A query of `posts` by topic narrows nothing on FerretDB (`topics` is an array:
        every post with topics is read, decoded and sorted, ~50 ms a follow of a topic).
        The index's newest entries are the newest posts in the topic; the posts are then
        read by id under the same conditions (live, still in the topic, readable).
        """
        topic = source.get("topics")
        if set(source) != {"topics"} or not isinstance(topic, str):
            return await super()._newest_posts(source, readable)
        entries = await self._index.page(topic, readable, limit=BACKFILL, after=None)
        ids = [entry["post_id"] for entry in entries]
        posts = await self._sources.posts_by_id(
            ids, {"$and": [{"topics": topic}, unnarrowed(readable)]}
        )
        return [posts[i] for i in ids if i in posts]
