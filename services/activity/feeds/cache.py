"""Rendered feed pages, kept while nothing at all has been written to the activity store.

A feed page costs about eight store reads, the posts' validation and an ETag over them;
a reader polling a feed that has not changed (a phone resuming, a tab left open) gets
the same bytes each time. The store's change token (`DocumentStore.change_token`) moves
with every committed write, by this process or any other, so a kept page is served only
while the store holds exactly what it held when the page was read: leaving a private
group, a deleted post, a reaction's new count, a new timeline entry — each is a write, and
the next page is read afresh. Any write forgets every page, which keeps this simple and
exact; under a steady write load it simply misses. Adapters without a cheap token
(MongoDB) keep nothing.

Requests that miss the same page while it is being read wait for that one read instead
of each reading it (`read_once`): a person's phone and browser polling at once, or a
load test's clients, after a write forgot the page. A waiter joins only a read that began
under the token it saw itself, so it gets exactly what a kept page would have given it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

# A page larger than this share of the budget is not kept (one huge page would evict all).
_MAX_SHARE = 8


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page as served: its weak ETag and its JSON body."""

    etag: str
    body: bytes


class PageCache:
    """Pages by key (route, principal, page parameters), oldest out past `max_bytes`."""

    def __init__(self, token: Callable[[], int | None], *, max_bytes: int) -> None:
        self._token = token
        self._max_bytes = max_bytes
        self._seen: int | None = None
        self._pages: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._bytes = 0
        # Reads in flight: key -> (the token they began under, the read).
        self._reads: dict[Hashable, tuple[int, asyncio.Task[Rendered]]] = {}

    def current(self) -> int | None:
        """The store's token now, to be read before the page is: None means do not keep.

        Forgets every page when the token moved since it was last asked.
        """
        if self._max_bytes <= 0:
            return None
        token = self._token()
        if token != self._seen:
            self._pages.clear()
            self._bytes = 0
            self._seen = token
        return token

    def get(self, key: Hashable) -> Rendered | None:
        """The page kept under `key`; call right after `current()`, with no await between."""
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def put(self, key: Hashable, token: int | None, page: Rendered) -> None:
        """Keep a page read after `current()` returned `token`, unless the store has moved
        on since another request asked. If it moved and nobody asked yet, the next
        `current()` forgets this page with the rest."""
        size = len(page.body)
        if token is None or token != self._seen or size > self._max_bytes // _MAX_SHARE:
            return
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        self._pages[key] = page
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, dropped = self._pages.popitem(last=False)
            self._bytes -= len(dropped.body)

    def reading(self, key: Hashable, token: int | None) -> asyncio.Task[Rendered] | None:
        """The read of this page begun under `token`, if one is in flight."""
        flight = self._reads.get(key)
        return flight[1] if flight is not None and flight[0] == token else None

    async def read_once(
        self, key: Hashable, token: int | None, read: Callable[[], Awaitable[Rendered]]
    ) -> Rendered:
        """The page from one read shared by every request that misses it meanwhile (and
        kept); with no token, simply read. A failed read fails every waiter alike."""
        if token is None:
            return await read()
        task = self.reading(key, token)
        if task is None:

            async def read_and_keep() -> Rendered:
                try:
                    page = await read()
                finally:
                    self._reads.pop(key, None)
                self.put(key, token, page)
                return page

            # A task of its own: a waiter leaving (client gone) does not cancel the others.
            task = asyncio.ensure_future(read_and_keep())
            self._reads[key] = (token, task)
        return await asyncio.shield(task)

    def __len__(self) -> int:
        return len(self._pages)
