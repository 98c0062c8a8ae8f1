"""DocumentStore: the Mongo-shaped subset of document storage the services rely on.

Both adapters give the same results for everything in this subset and raise
UnsupportedOperation for anything outside it (see shared/store/query.py), so a
service tested on SQLite behaves the same on MongoDB or FerretDB.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]
Filter = dict[str, Any]
Update = dict[str, Any]
Sort = list[tuple[str, int]]
IndexKeys = list[tuple[str, int]]


@dataclass(frozen=True)
class UpdateResult:
    matched_count: int
    modified_count: int
    upserted_id: str | None = None


class Collection(ABC):
    """One named collection of documents keyed by a string `_id`."""

    name: str

    @abstractmethod
    async def insert_one(self, doc: Document) -> None:
        """Insert `doc` (which must carry a str `_id`); DuplicateKeyError on a unique clash."""

    @abstractmethod
    async def insert_many(self, docs: list[Document]) -> None:
        """Insert in order, stopping at the first DuplicateKeyError (earlier docs stay)."""

    @abstractmethod
    async def find_one(self, filter: Filter, *, sort: Sort | None = None) -> Document | None:
        """First matching document in `sort` order, or None."""

    @abstractmethod
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
        """Matching documents.

        `after` is a keyset cursor: the sort-key values of the last item of the previous
        page. Only documents strictly after it in `sort` order are returned; `sort` must be
        given, name every key of `after`, and end with `_id` so the order is total.
        """

    @abstractmethod
    async def update_one(
        self, filter: Filter, update: Update, *, upsert: bool = False
    ) -> UpdateResult: ...

    @abstractmethod
    async def update_many(self, filter: Filter, update: Update) -> UpdateResult: ...

    @abstractmethod
    async def update_each(self, updates: list[tuple[Filter, Update]]) -> int:
        """Apply each `(filter, update)` as `update_one` would (no upsert), in order, as one
        write: one round trip (MongoDB's ordered bulk write), one transaction on SQLite.

        Returns how many of them matched a document (MongoDB reports no more than the
        total, so a caller doing compare-and-swaps re-reads when it is short). Stops at the
        first error, like `insert_many`: the updates before it stay applied.
        """

    @abstractmethod
    async def find_one_and_update(
        self,
        filter: Filter,
        update: Update,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Document | None:
        """Update the first match in `sort` order; return it after (or before) the update."""

    @abstractmethod
    async def delete_one(self, filter: Filter) -> int: ...

    @abstractmethod
    async def delete_many(self, filter: Filter) -> int: ...

    @abstractmethod
    async def count(self, filter: Filter | None = None) -> int: ...

    @abstractmethod
    async def create_index(
        self,
        keys: IndexKeys,
        *,
        unique: bool = False,
        name: str | None = None,
        expire_after_seconds: int | None = None,
    ) -> None:
        """Create the index unless it exists.

        A unique index ignores documents missing one of its fields (None is a value
        and collides with None). With
        `expire_after_seconds` (single datetime field), a document whose field is at or
        before now - seconds is invisible to every operation at once and purged later.
        """

    @abstractmethod
    async def purge_expired(self) -> int:
        """Delete expired documents now; return how many were deleted."""


class DocumentStore(ABC):
    """A database of collections; open in a lifespan, close after it."""

    @abstractmethod
    def collection(self, name: str) -> Collection: ...

    @abstractmethod
    async def ping(self) -> None:
        """Return when the store answers; raise StoreUnavailable otherwise."""

    @abstractmethod
    async def close(self) -> None: ...

    def change_token(self) -> int | None:
        """A value that differs once any write has been committed to this database, by this
        store or by any other process; None when the adapter cannot tell cheaply.

        For caches of derived results: read the token *before* reading what is kept, and
        serve the result only while the token is unchanged. Expiry (TTL) is not a write and
        does not move it. Synchronous and non-blocking, so it may be called on the event
        loop; MongoDB has no cheap equivalent (FerretDB has no change streams).
        """
        return None
