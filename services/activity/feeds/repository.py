"""Feeds persistence: the `timelines` and `feed_state` it writes, and the collections it reads.

`timelines`: one entry per (person, post), `_id = "<user_id>:<post_id>"`, so a redelivered
event cannot add a second one. `feed_state`: per person, the `horizon` below which
the materialized timeline was trimmed (older pages come from a query of the sources).
Everything else (posts, follows, follow_stats, groups, memberships) is read, never written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from services.activity.access import GROUPS, MEMBERSHIPS
from services.activity.feeds.domain import FEED_SORT, Follows, entry_id, is_older
from shared.store.errors import DuplicateKeyError
from shared.store.memo import StoreMemo
from shared.store.port import DocumentStore, Filter

TIMELINES = "timelines"
FEED_STATE = "feed_state"
POSTS = "posts"
FOLLOWS = "follows"
FOLLOW_STATS = "follow_stats"
CHUNK = 1000
# How long a home page may use the list of sources above the fan-out threshold read for an
# earlier one (see Sources.big_follows).
BIG_SOURCES_SECONDS = 5.0


def unnarrowed(readable: Filter) -> Filter:
    """`Access.readable_filter`, kept out of the SQLite adapter's SQL narrowing.

    The adapter's narrowing of an `$or` next to other conditions loses its parentheses
    (`A AND x OR y`), which stops SQLite from seeking the feed's index and makes a page
    cost the whole collection. A branch it cannot narrow (`$exists`) keeps the `$or` out
    of SQL; it is decided per row instead. The branch matches items without an audience,
    which `Access.can_read` treats as org-wide too.
    """
    return {"$or": [*readable["$or"], {"audience": {"$exists": False}}]}


class TimelineRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._entries = store.collection(TIMELINES)
        self._state = store.collection(FEED_STATE)

    async def prepare(self) -> None:
        await self._entries.create_index([("user_id", 1), ("created_at", -1), ("_id", -1)])
        await self._entries.create_index([("post_id", 1)])

    async def add(self, entries: Sequence[dict[str, Any]]) -> None:
        """Insert entries in chunks; ones already there (a redelivery) are skipped, and
        ones below their timeline's horizon are removed again."""
        for start in range(0, len(entries), CHUNK):
            await self._insert_new(list(entries[start : start + CHUNK]))
        await self.drop_below_horizon(entries)

    async def drop_below_horizon(self, entries: Sequence[dict[str, Any]]) -> int:
        """Delete those of `entries`, just inserted, that lie below their timeline's horizon.

        A home page trusts a full page of the timeline to lie above the horizon and reads
        the horizon only when a page runs short (`FeedReader.home`). An entry below it (a
        backfill of a followed person's older posts, a fan-out that lagged behind a trim)
        would be shown at the end of such a page, and the next page's cursor would pass
        the trimmed posts between the two, which only a query below the horizon finds.
        `trim` writes the horizon before it deletes below it, and writers insert before
        calling this: whichever runs second sees the other's write. One read per chunk of
        people, which finds only horizons newer than the oldest entry (none, for the
        fan-out of a new post).
        """
        if not entries:
            return 0
        oldest = min(e["created_at"] for e in entries)
        users = sorted({e["user_id"] for e in entries})
        horizons: dict[str, tuple[datetime, str]] = {}
        for start in range(0, len(users), CHUNK):
            states = await self._state.find(
                {"_id": {"$in": users[start : start + CHUNK]}, "horizon_at": {"$gte": oldest}}
            )
            horizons.update({s["_id"]: (s["horizon_at"], s["horizon_id"]) for s in states})
        if not horizons:
            return 0
        return await self.remove_ids(
            e["_id"]
            for e in entries
            if (h := horizons.get(e["user_id"])) is not None and is_older(e, h)
        )

    async def _insert_new(self, chunk: list[dict[str, Any]]) -> None:
        while chunk:
            try:
                await self._entries.insert_many(chunk)
                return
            except DuplicateKeyError:
                # Ordered inserts stop at the first duplicate: insert what is still missing.
                found = await self._entries.find(
                    {"_id": {"$in": [e["_id"] for e in chunk]}}, projection=["_id"]
                )
                there = {d["_id"] for d in found}
                chunk = [e for e in chunk if e["_id"] not in there]

    async def page(
        self, user_id: str, readable: Filter, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[dict[str, Any]]:
        keyset = {"created_at": after[0], "_id": entry_id(user_id, after[1])} if after else None
        return await self._entries.find(
            {"$and": [{"user_id": user_id}, unnarrowed(readable)]},
            sort=FEED_SORT,
            limit=limit,
            after=keyset,
        )

    async def of_user(self, user_id: str, filter: Filter) -> list[dict[str, Any]]:
        return await self._entries.find({"$and": [{"user_id": user_id}, filter]})

    async def remove_ids(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        return await self._entries.delete_many({"_id": {"$in": ids}}) if ids else 0

    async def remove_post(self, post_id: str) -> int:
        return await self._entries.delete_many({"post_id": post_id})

    async def remove_group(self, group_id: str, user_id: str | None = None) -> int:
        filter: Filter = {"group_id": group_id}
        if user_id is not None:
            filter["user_id"] = user_id
        return await self._entries.delete_many(filter)

    async def refresh_post(self, post_id: str, fields: dict[str, Any]) -> int:
        result = await self._entries.update_many({"post_id": post_id}, {"$set": fields})
        return result.modified_count

    async def set_group_visibility(self, group_id: str, visibility: str) -> int:
        result = await self._entries.update_many(
            {"group_id": group_id}, {"$set": {"group_visibility": visibility}}
        )
        return result.modified_count

    async def set_post_visibility(self, post_id: str, visibility: str) -> int:
        result = await self._entries.update_many(
            {"post_id": post_id, "group_visibility": {"$ne": visibility}},
            {"$set": {"group_visibility": visibility}},
        )
        return result.modified_count

    async def trim(self, user_id: str, cap: int) -> int:
        """Drop entries beyond the newest `cap`; remember where the timeline now ends."""
        oldest_kept = await self._entries.find(
            {"user_id": user_id}, sort=FEED_SORT, skip=cap - 1, limit=1
        )
        if not oldest_kept:
            return 0
        kept = oldest_kept[0]
        await self._advance_horizon(user_id, kept["created_at"], kept["post_id"])
        older = await self._entries.find(
            {"user_id": user_id},
            sort=FEED_SORT,
            after={"created_at": kept["created_at"], "_id": kept["_id"]},
            projection=["_id"],
        )
        return await self.remove_ids(d["_id"] for d in older)

    async def _advance_horizon(self, user_id: str, at: datetime, post_id: str) -> None:
        """Set the horizon to (at, post_id) unless it is there already or newer.

        The home read takes the timeline as complete down to the horizon and queries the
        posts below it. Two trims of one timeline (backfills of two follows, a backfill and
        `trim_pending`) may each read a cut-off before either writes: if the one that read
        the older cut-off wrote last, entries between the two, already deleted by the other,
        would show nowhere. Only a newer horizon is written; either trim's deletions stay
        below it.
        """
        behind: Filter = {
            "$or": [
                {"horizon_at": {"$exists": False}},
                {"horizon_at": {"$lt": at}},
                {"horizon_at": at, "horizon_id": {"$lt": post_id}},
            ]
        }
        # A DuplicateKeyError: there is a horizon, at this one or newer, and it stays.
        with suppress(DuplicateKeyError):
            await self._state.update_one(
                {"_id": user_id, **behind},
                {"$set": {"horizon_at": at, "horizon_id": post_id}},
                upsert=True,
            )

    async def horizon(self, user_id: str) -> tuple[datetime, str] | None:
        state = await self._state.find_one({"_id": user_id})
        if state is None or "horizon_at" not in state:
            return None
        return state["horizon_at"], state["horizon_id"]


class Sources:
    """Read-only access to the collections other features write (shapes: docs/activity.md)."""

    def __init__(self, store: DocumentStore) -> None:
        self._posts = store.collection(POSTS)
        self._follows = store.collection(FOLLOWS)
        self._stats = store.collection(FOLLOW_STATS)
        self._groups = store.collection(GROUPS)
        self._memberships = store.collection(MEMBERSHIPS)
        self._big: StoreMemo[int, list[str]] = StoreMemo(
            store.change_token, ttl=BIG_SOURCES_SECONDS, maxsize=4
        )

    async def prepare(self) -> None:
        """The indexes the feed reads on `posts` need (create_index is idempotent)."""
        for keys in (
            [("group_id", 1), ("created_at", -1), ("_id", -1)],
            # A group's pinned posts without walking the whole group.
            [("group_id", 1), ("pinned", 1), ("created_at", -1), ("_id", -1)],
            [("author_id", 1), ("created_at", -1), ("_id", -1)],
            [("topics", 1), ("created_at", -1), ("_id", -1)],
            [("kind", 1), ("state", 1), ("topics", 1), ("created_at", -1)],
            # SQLite narrows no array path (topics): these walk newest-first instead.
            [("kind", 1), ("state", 1), ("created_at", -1), ("_id", -1)],
            [("created_at", -1), ("_id", -1)],
        ):
            await self._posts.create_index(keys)
        await self._follows.create_index([("target_type", 1), ("target_id", 1)])
        await self._follows.create_index([("follower_id", 1), ("target_type", 1)])
        # The sources above the fan-out threshold, for every home page (big_follows).
        await self._stats.create_index([("followers", -1)])

    async def posts(
        self,
        filter: Filter,
        readable: Filter,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[dict[str, Any]]:
        """Live posts matching `filter` that `readable` (Access.readable_filter) allows."""
        keyset = {"created_at": after[0], "_id": after[1]} if after else None
        return await self._posts.find(
            {"$and": [filter, {"deleted": False}, unnarrowed(readable)]},
            sort=FEED_SORT,
            limit=limit,
            after=keyset,
        )

    async def posts_by_id(
        self, ids: list[str], also: Filter | None = None
    ) -> dict[str, dict[str, Any]]:
        """Live posts by id, and only those matching `also` (e.g. the readable filter)."""
        if not ids:
            return {}
        filter: Filter = {"_id": {"$in": ids}, "deleted": False}
        docs = await self._posts.find({"$and": [filter, also]} if also else filter)
        return {d["_id"]: d for d in docs}

    async def followers(self, target_type: str, target_ids: Iterable[str]) -> list[str]:
        ids = list(target_ids)
        if not ids:
            return []
        docs = await self._follows.find(
            {"target_type": target_type, "target_id": {"$in": ids}}, projection=["follower_id"]
        )
        return [d["follower_id"] for d in docs]

    async def follows_of(self, user_id: str) -> Follows:
        docs = await self._follows.find(
            {"follower_id": user_id}, projection=["target_type", "target_id"]
        )
        members = await self._memberships.find(
            {"user_id": user_id, "state": "active"}, projection=["group_id"]
        )
        return Follows(
            user_id=user_id,
            people=frozenset(d["target_id"] for d in docs if d["target_type"] == "person"),
            topics=frozenset(d["target_id"] for d in docs if d["target_type"] == "topic"),
            groups=frozenset(d["group_id"] for d in members),
        )

    async def follow_targets(self, user_id: str) -> tuple[frozenset[str], frozenset[str]]:
        """(people, topics) `user_id` follows: `follows_of` without the memberships."""
        docs = await self._follows.find(
            {"follower_id": user_id}, projection=["target_type", "target_id"]
        )
        return (
            frozenset(d["target_id"] for d in docs if d["target_type"] == "person"),
            frozenset(d["target_id"] for d in docs if d["target_type"] == "topic"),
        )

    async def big_follows(
        self, user_id: str, threshold: int
    ) -> tuple[frozenset[str], frozenset[str]]:
        """(people, topics) `user_id` follows that have more than `threshold` followers.

        The few big sources first (`follow_stats` by `followers`, indexed), then only the
        reader's follows of those, by id: a home page reads no other follow. The list is
        the same for everyone and kept up to BIG_SOURCES_SECONDS (`StoreMemo`; it was a
        read on every home page): a source that just crossed the threshold (10,000
        followers by default), whose new posts fan-out no longer writes to timelines,
        shows its posts on home pages up to that much later.
        """
        token = self._big.current()
        big = self._big.get(threshold)
        if big is None:
            stats = await self._stats.find({"followers": {"$gt": threshold}}, projection=["_id"])
            big = [d["_id"] for d in stats]
            self._big.put(threshold, big, token)
        if not big:
            return frozenset(), frozenset()
        # A follow's `_id` is "<follower_id>:<person|topic>:<target_id>", a stats' one
        # "<person|topic>:<target_id>"; a removed follow's tombstone has no follower_id.
        docs = await self._follows.find(
            {"_id": {"$in": [f"{user_id}:{b}" for b in big]}, "follower_id": user_id},
            projection=["target_type", "target_id"],
        )
        return (
            frozenset(d["target_id"] for d in docs if d["target_type"] == "person"),
            frozenset(d["target_id"] for d in docs if d["target_type"] == "topic"),
        )

    async def group_visibility(self, group_id: str) -> str:
        """The group's visibility now; a deleted (or unknown) group's items are private."""
        doc = await self._groups.find_one({"_id": group_id})
        if doc is None or doc.get("deleted") or doc.get("visibility") != "public":
            return "private"
        return "public"

    async def members(self, group_id: str) -> list[str]:
        docs = await self._memberships.find(
            {"group_id": group_id, "state": "active"}, projection=["user_id"]
        )
        return [d["user_id"] for d in docs]

    async def follower_counts(self, keys: Iterable[str]) -> dict[str, int]:
        """`follow_stats` followers for keys `person:<id>` / `topic:<topic>`."""
        ids = list(keys)
        if not ids:
            return {}
        docs = await self._stats.find({"_id": {"$in": ids}}, projection=["followers"])
        return {d["_id"]: int(d.get("followers") or 0) for d in docs}

    async def member_counts(self, group_ids: Iterable[str]) -> dict[str, int]:
        ids = list(group_ids)
        if not ids:
            return {}
        docs = await self._groups.find({"_id": {"$in": ids}}, projection=["member_count"])
        return {d["_id"]: int(d.get("member_count") or 0) for d in docs}
