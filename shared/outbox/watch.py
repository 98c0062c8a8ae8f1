"""Which outbox collections this process appended events to since the relay last looked.

A nudged relay pass used to scan every outbox collection of the service for pending
documents (activity has eight): under write load most of the engine's relay work was
scans that found nothing, and on the test FerretDB each costs an index lookup plus SQL
parsing. `WatchedStore` wraps the service's store and records the collections a write
left pending (the write set `_outbox_pending` true); a nudged pass reads only those.

The relay's timer pass still reads every collection: writes by other processes (a second
replica, the CLI) and events left over from before a restart are found there, as before.
A collection is recorded after its write returns, and the writer nudges the relay after
that, so a nudged pass never misses a write of its own process.
"""

from __future__ import annotations

from typing import Any

from shared.outbox.records import PENDING_FIELD
from shared.store.port import (
    Collection,
    Document,
    DocumentStore,
    Filter,
    IndexKeys,
    Sort,
    Update,
    UpdateResult,
)


def _leaves_pending(update: Update) -> bool:
    return (update.get("$set") or {}).get(PENDING_FIELD) is True


class WatchedStore(DocumentStore):
    """A store that remembers the collections whose writes left events pending."""

    def __init__(self, inner: DocumentStore) -> None:
        self.inner = inner
        self._pending: set[str] = set()
        self._collections: dict[str, WatchedCollection] = {}

    def take_pending(self) -> set[str]:
        """The collections written with pending events since the last call."""
        taken, self._pending = self._pending, set()
        return taken

    def mark(self, name: str) -> None:
        self._pending.add(name)

    def collection(self, name: str) -> Collection:
        if name not in self._collections:
            self._collections[name] = WatchedCollection(self.inner.collection(name), self)
        return self._collections[name]

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()

    def change_token(self) -> int | None:
        return self.inner.change_token()


class WatchedCollection(Collection):
    """Delegates everything; a write that leaves events pending marks the collection."""

    def __init__(self, inner: Collection, store: WatchedStore) -> None:
        self.inner = inner
        self.name = inner.name
        self._store = store

    async def insert_one(self, doc: Document) -> None:
        await self.inner.insert_one(doc)
        if doc.get(PENDING_FIELD) is True:
            self._store.mark(self.name)

    async def insert_many(self, docs: list[Document]) -> None:
        try:
            await self.inner.insert_many(docs)
        finally:  # the documents before a duplicate stay written
            if any(d.get(PENDING_FIELD) is True for d in docs):
                self._store.mark(self.name)

    async def find_one(self, filter: Filter, *, sort: Sort | None = None) -> Document | None:
        return await self.inner.find_one(filter, sort=sort)

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        limit: int | None = None,
        skip: int = 0,
        after: dict[str, Any] | None = None,
        projection: list[str] | None = None,
    ) -> list[Document]:
        return await self.inner.find(
            filter, sort=sort, limit=limit, skip=skip, after=after, projection=projection
        )

    async def update_one(
        self, filter: Filter, update: Update, *, upsert: bool = False
    ) -> UpdateResult:
        result = await self.inner.update_one(filter, update, upsert=upsert)
        if _leaves_pending(update):
            self._store.mark(self.name)
        return result

    async def update_many(self, filter: Filter, update: Update) -> UpdateResult:
        result = await self.inner.update_many(filter, update)
        if _leaves_pending(update):
            self._store.mark(self.name)
        return result

    async def update_each(self, updates: list[tuple[Filter, Update]]) -> int:
        try:
            return await self.inner.update_each(updates)
        finally:  # the updates before an error stay applied
            if any(_leaves_pending(u) for _, u in updates):
                self._store.mark(self.name)

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Update,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Document | None:
        doc = await self.inner.find_one_and_update(
            filter, update, upsert=upsert, return_new=return_new, sort=sort
        )
        if _leaves_pending(update):
            self._store.mark(self.name)
        return doc

    async def delete_one(self, filter: Filter) -> int:
        return await self.inner.delete_one(filter)

    async def delete_many(self, filter: Filter) -> int:
        return await self.inner.delete_many(filter)

    async def count(self, filter: Filter | None = None) -> int:
        return await self.inner.count(filter)

    async def create_index(
        self,
        keys: IndexKeys,
        *,
        unique: bool = False,
        name: str | None = None,
        expire_after_seconds: int | None = None,
    ) -> None:
        await self.inner.create_index(
            keys, unique=unique, name=name, expire_after_seconds=expire_after_seconds
        )

    async def purge_expired(self) -> int:
        return await self.inner.purge_expired()
