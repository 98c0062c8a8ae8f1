"""Writing one post's timeline entries: the fan-out's hot path.

Entries go in chunks, a few inserts in flight at once, so the store inserts one chunk
while the next is validated and encoded. No entry is read first: ids are deterministic
(`<user_id>:<post_id>`), so a duplicate comes from an earlier delivery of the same event,
or from a follow's or join's backfill that found the post stored before its fan-out ran.

Redelivery: the caller passes the post author's entry as `last`, written only after every
other entry, so it marks a finished fan-out. Nothing else may write it (a backfill skips
the follower's own posts, see `FanOut._backfill`). A chunk that meets a duplicate makes
the writer look for that marker by `_id` (one lookup); when it is there the earlier
delivery wrote everything, otherwise the chunks that failed are inserted entry by missing
entry (`TimelineRepository.add`), as a partial earlier delivery or a backfill requires.
Every delivery then removes what lies below a timeline's horizon
(`TimelineRepository.drop_below_horizon`): one read, which finds nothing for a new post.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from services.activity.feeds.repository import TIMELINES, TimelineRepository
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

CHUNK = 1000
IN_FLIGHT = 2


class EntryWriter:
    def __init__(
        self,
        store: DocumentStore,
        timelines: TimelineRepository,
        *,
        chunk: int = CHUNK,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._entries = store.collection(TIMELINES)
        self._timelines = timelines
        self._chunk = chunk
        self._in_flight = in_flight

    async def write(self, entries: Sequence[dict[str, Any]], last: dict[str, Any]) -> None:
        """Insert `entries`, then `last`; skips what an earlier delivery wrote."""
        every = [*entries, last]
        chunks = [every[i : i + self._chunk] for i in range(0, len(every), self._chunk)]
        # `last` closes the final chunk, inserted once all others are in: an ordered
        # insert stops at its first duplicate, so `last` stored means everything is.
        *leading, final = chunks
        gate = asyncio.Semaphore(self._in_flight)

        async def insert(chunk: list[dict[str, Any]]) -> bool:
            async with gate:
                return await self._insert(chunk)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(insert(c)) for c in leading]
        failed = [c for c, t in zip(leading, tasks, strict=True) if not t.result()]
        incomplete = failed or not await self._insert(final)
        # With the marker there an earlier delivery inserted everything (it may have stopped
        # short of the look below the horizons, which is why that runs on every delivery).
        if incomplete and not await self._entries.count({"_id": last["_id"]}):
            for chunk in [*failed, final]:
                await self._timelines.add(chunk)
        await self._timelines.drop_below_horizon(every)

    async def _insert(self, chunk: list[dict[str, Any]]) -> bool:
        """Insert a chunk of new entries; False when one was there already."""
        try:
            await self._entries.insert_many(chunk)
        except DuplicateKeyError:
            return False
        return True
