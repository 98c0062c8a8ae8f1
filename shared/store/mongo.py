"""MongoDocumentStore: the port on MongoDB, and on FerretDB 1.24 which the tests run.

FerretDB lacks some things the port promises, so this adapter does them itself:
- `$push` with `$slice` and `$pull` by document (FerretDB gets both silently wrong):
  see `MongoCollection._update_arrays`.
- TTL indexes: expiry rules are kept in the `_canteen_indexes` collection, every
  operation filters out expired documents, and writes purge them now and then. A real
  MongoDB also gets a TTL index (FerretDB answers NotImplemented, which is ignored).
- Partial indexes: a unique index asks MongoDB to skip documents missing a key field
  (FerretDB does that by itself and rejects the option, which is then dropped).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo import errors as mongo_errors

from shared.store.errors import StoreUnavailable
from shared.store.mongo_collection import MongoCollection
from shared.store.mongo_errors import translated
from shared.store.port import Document, DocumentStore

# After a write found the server unreachable, the writers queued behind it fail at once for
# this long instead of each waiting out its own server selection in turn (with 20 queued,
# the last one answered after 100 s): an outage is a prompt 503, not a hang.
UNREACHABLE_GRACE_SECONDS = 3.0

_META = "_canteen_indexes"


class MongoDocumentStore(DocumentStore):
    def __init__(
        self,
        uri: str,
        database: str,
        *,
        purge_interval_seconds: float = 60.0,
        serialize_writes: bool | None = None,
        **client_options: Any,
    ) -> None:
        # tz_aware: BSON dates come back as aware UTC datetimes, as from every adapter.
        options: dict[str, Any] = {"tz_aware": True, "serverSelectionTimeoutMS": 5000}
        self._client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri, **{**options, **client_options}
        )
        self._db = self._client[database]
        self.purge_interval_seconds = purge_interval_seconds
        self._serialize_writes = serialize_writes
        self._is_ferretdb: bool | None = None
        self._write_locks: dict[str, asyncio.Lock] = {}
        self._unreachable_until = 0.0
        self._collections: dict[str, MongoCollection] = {}

    def collection(self, name: str) -> MongoCollection:
        if name not in self._collections:
            self._collections[name] = MongoCollection(self, self._db[name], self._db[_META])
        return self._collections[name]

    async def ping(self) -> None:
        try:
            await self._client.admin.command("ping")
        except mongo_errors.PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB ping failed: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()

    async def is_ferretdb(self) -> bool:
        """FerretDB (1.24, SQLite backend) needs the workarounds in mongo_collection."""
        if self._is_ferretdb is None:
            with translated():
                info = await self._client.admin.command("buildInfo")
            self._is_ferretdb = "ferretdbVersion" in info
        return self._is_ferretdb

    @asynccontextmanager
    async def write_guard(self, collection: str) -> AsyncIterator[None]:
        """Serialise this process's writes to a collection when the server needs it.

        FerretDB (1.24, SQLite backend) applies an update as an unisolated
        read-modify-write: 50 concurrent `$inc` on one document keep only a few. MongoDB
        updates a document atomically and needs no lock. `serialize_writes=None` asks
        the server which it is; the lock cannot protect against other processes, so
        FerretDB stays a single-writer test engine.
        """
        if self._serialize_writes is None:
            self._serialize_writes = await self.is_ferretdb()
        if not self._serialize_writes:
            yield
            return
        async with self._write_locks.setdefault(collection, asyncio.Lock()):
            if time.monotonic() < self._unreachable_until:
                raise StoreUnavailable("the store was unreachable moments ago; retry shortly")
            try:
                yield
            except StoreUnavailable:
                self._unreachable_until = time.monotonic() + UNREACHABLE_GRACE_SECONDS
                raise
