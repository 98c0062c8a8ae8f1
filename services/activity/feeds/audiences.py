"""`feed_audiences`: each source's followers (people, topics) or members (groups), by `_id`.

Why it exists: the fan-out needs everyone a source reaches at once. On FerretDB 1.24
(SQLite backend) a query on a secondary field (`follows.target_id`) is a full scan decoded
in Go (about 1 s for 10,000 follows), while an `_id` equality is filtered inside SQLite; one
list document per source, read by `_id`, is fast on every store.

Shape: `_id = "<person|topic|group>:<id>"`, `ids` (the followers or active members),
`n` (`len(ids)`), `v` (bumped by every change). A document without `ids` is a stub that
only counts changes, so a build running meanwhile knows it raced.

How it stays exact without transactions (every step is one atomic document write):
- A list is built lazily, the first time a fan-out needs it, from the truth (`follows`,
  active `memberships`): read the document (`v`), query the truth, then store the list
  only if `v` has not moved (insert, or a compare-and-swap on `v`). A build that raced a
  change stores nothing and its caller uses the truth it read.
- The `activity.feeds` consumer then applies follow and membership events: an add or
  remove on the list when there is one, otherwise a bump of the stub's `v` (creating it),
  which fails any build in flight. Adds and removes are conditional (`$ne` / equality on
  `ids`), so a redelivery changes nothing; they rely on per-key order (one follow's, one
  group's events arrive in order), as every projection here does.
- A list never grows past `cap` ids (a document stays far below the 16 MB limit): a
  source that outgrows it goes back to a stub and is read from the truth again when
  needed. Above the fan-out threshold a source is merged on read and never needs one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Literal

import structlog

from services.activity.feeds.repository import Sources
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

log = structlog.get_logger()

AUDIENCES = "feed_audiences"
Kind = Literal["person", "topic", "group"]
# ~40 bytes an id: 100k ids is a ~4 MB document.
MAX_LIST = 100_000
_ATTEMPTS = 5


def audience_id(kind: Kind, source_id: str) -> str:
    return f"{kind}:{source_id}"


class AudienceLists:
    def __init__(self, store: DocumentStore, sources: Sources, *, cap: int) -> None:
        self._lists = store.collection(AUDIENCES)
        self._sources = sources
        self._cap = max(1, min(cap, MAX_LIST))

    async def reach(self, sources: Iterable[tuple[Kind, str]]) -> list[str]:
        """Everyone the sources reach (duplicates possible across sources)."""
        found = await self.lists(sources)
        return [user for ids in found.values() for user in ids]

    async def lists(self, sources: Iterable[tuple[Kind, str]]) -> dict[tuple[Kind, str], list[str]]:
        """Each source's followers or members: its list, else the truth (building the list).

        One read for all the lists (a fan-out reaches its author's, its topics' and its
        group's): `_id $in` is filtered inside SQLite on FerretDB too, like `_id` alone.
        """
        wanted = list(dict.fromkeys(sources))
        if not wanted:
            return {}
        keys = [audience_id(kind, source_id) for kind, source_id in wanted]
        docs = {d["_id"]: d for d in await self._lists.find({"_id": {"$in": sorted(keys)}})}
        found = await asyncio.gather(
            *(
                self._listed(kind, source_id, key, docs.get(key))
                for (kind, source_id), key in zip(wanted, keys, strict=True)
            )
        )
        return dict(zip(wanted, found, strict=True))

    async def of(self, kind: Kind, source_id: str) -> list[str]:
        """One source's followers or members (see `lists`)."""
        return (await self.lists([(kind, source_id)]))[(kind, source_id)]

    async def _listed(
        self, kind: Kind, source_id: str, key: str, doc: dict[str, Any] | None
    ) -> list[str]:
        if doc is not None and "ids" in doc:
            return list(doc["ids"])
        truth = await self._truth(kind, source_id)
        if len(truth) <= self._cap:
            await self._store_built(key, doc, truth)
        return truth

    async def _truth(self, kind: Kind, source_id: str) -> list[str]:
        if kind == "group":
            return await self._sources.members(source_id)
        return await self._sources.followers(kind, [source_id])

    async def _store_built(self, key: str, seen: dict[str, Any] | None, ids: list[str]) -> None:
        ids = sorted(set(ids))
        if seen is None:
            try:
                await self._lists.insert_one({"_id": key, "ids": ids, "n": len(ids), "v": 0})
            except DuplicateKeyError:
                return  # a change (or another build) came first: its stub says we raced
        else:
            result = await self._lists.update_one(
                {"_id": key, "v": seen.get("v", 0), "ids": {"$exists": False}},
                {"$set": {"ids": ids, "n": len(ids)}},
            )
            if result.matched_count == 0:
                return
        log.info("activity.feeds.audience_built", audience_id=key, size=len(ids))

    async def added(self, kind: Kind, source_id: str, user_id: str) -> None:
        """`user_id` now follows (or is an active member of) the source."""
        key = audience_id(kind, source_id)
        for _ in range(_ATTEMPTS):
            pushed = await self._lists.update_one(
                {"_id": key, "ids": {"$exists": True, "$ne": user_id}, "n": {"$lt": self._cap}},
                {"$push": {"ids": user_id}, "$inc": {"n": 1, "v": 1}},
            )
            if pushed.matched_count:
                return
            if await self._lists.count({"_id": key, "ids": user_id}):
                return  # there already (a redelivery)
            # Full: back to a stub; the truth answers for this source from now on.
            await self._lists.update_one(
                {"_id": key, "n": {"$gte": self._cap}},
                {"$unset": {"ids": "", "n": ""}, "$inc": {"v": 1}},
            )
            if await self._bump_stub(key):
                return
        log.warning("activity.feeds.audience_contended", audience_id=key)

    async def removed(self, kind: Kind, source_id: str, user_id: str) -> None:
        """`user_id` no longer follows (or is no longer an active member of) the source."""
        key = audience_id(kind, source_id)
        list_seen = False
        for _ in range(_ATTEMPTS):
            pulled = await self._lists.update_one(
                {"_id": key, "ids": user_id},
                {"$pull": {"ids": user_id}, "$inc": {"n": -1, "v": 1}},
            )
            if pulled.matched_count or list_seen:
                return
            if await self._bump_stub(key):
                return
            # A list appeared since the pull: pull from it once more.
            list_seen = True
        log.warning("activity.feeds.audience_contended", audience_id=key)

    async def dropped(self, kind: Kind, source_id: str) -> None:
        """The source is gone (a deleted group): forget its list."""
        await self._lists.delete_one({"_id": audience_id(kind, source_id)})

    async def _bump_stub(self, key: str) -> bool:
        """Count a change on a source without a list; False when it has one after all."""
        try:
            await self._lists.update_one(
                {"_id": key, "ids": {"$exists": False}}, {"$inc": {"v": 1}}, upsert=True
            )
        except DuplicateKeyError:
            return False
        return True
