"""MongoCollection: one collection on MongoDB or FerretDB, with the port's semantics.

See shared/store/mongo.py for what is done here because FerretDB cannot.
"""

from __future__ import annotations

import copy
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pymongo import ReturnDocument, UpdateOne
from pymongo import errors as mongo_errors
from pymongo.asynchronous.collection import AsyncCollection

from shared.store import match, query
from shared.store.errors import DuplicateKeyError, StoreError, UnsupportedOperation
from shared.store.mongo_errors import translated
from shared.store.port import (
    Collection,
    Document,
    Filter,
    IndexKeys,
    Sort,
    Update,
    UpdateResult,
)
from shared.store.update import apply_update, set_path

if TYPE_CHECKING:
    from shared.store.mongo import MongoDocumentStore

_CAS_ATTEMPTS = 1000


def _client_side(update: Update) -> list[tuple[str, str]]:
    """(operator, path) pairs FerretDB gets wrong silently, so done by `_update_arrays`.

    FerretDB ignores `$slice` in `$push`, and `$pull` with a document removes only
    elements equal to it instead of elements having those field values.
    """
    pushes = [("$push", p) for p, v in update.get("$push", {}).items() if isinstance(v, dict)]
    pulls = [("$pull", p) for p, v in update.get("$pull", {}).items() if isinstance(v, dict)]
    return [(op, p) for op, p in pushes if "$slice" in update[op][p]] + pulls


def _with_upsert_id(filter: Filter, update: Update) -> Update:
    """The port's ids are strings: give an upserted document one instead of an ObjectId."""
    if "_id" in query.upsert_seed(filter) or "_id" in update.get("$setOnInsert", {}):
        return update
    on_insert = {**update.get("$setOnInsert", {}), "_id": uuid.uuid4().hex}
    return {**update, "$setOnInsert": on_insert}


# FerretDB 1.24 sends SQLite only `{_id: x}` filters; the test engine that engines.sh builds
# is patched to send top-level string and boolean equalities too (`_id` and `$in` included,
# see docs/engines.md), so filters here go to the server as they are, as on MongoDB.


class MongoCollection(Collection):
    def __init__(
        self,
        store: MongoDocumentStore,
        coll: AsyncCollection[Document],
        meta: AsyncCollection[Document],
    ) -> None:
        self.name = coll.name
        self._store = store
        self._coll = coll
        self._meta = meta
        self._ttl: list[tuple[str, int]] | None = None
        self._unique: list[tuple[str, list[str]]] | None = None  # (name, fields), cached
        self._last_purge = time.monotonic()

    # -- expiry --------------------------------------------------------------------

    async def _rules(self) -> list[tuple[str, int]]:
        # Loaded once per process: services create their indexes at start-up.
        if self._ttl is None:
            with translated():
                rows = await self._meta.find({"coll": self.name}).to_list()
            self._ttl = [(r["field"], r["seconds"]) for r in rows]
        return self._ttl

    async def _live(self, filter: Filter) -> Filter:
        rules = await self._rules()
        if not rules:
            return filter
        now = datetime.now(UTC)
        # `$lte` on an array matches when any date in it is old enough, which is
        # MongoDB's TTL rule (the earliest date counts); $nor keeps everything else.
        expired = [{f: {"$lte": now - timedelta(seconds=s)}} for f, s in rules]
        return {"$and": [filter, {"$nor": expired}]} if filter else {"$nor": expired}

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge > self._store.purge_interval_seconds:
            await self.purge_expired()

    async def purge_expired(self) -> int:
        async with self._store.write_guard(self.name):
            return await self._purge()

    async def _purge(self) -> int:
        self._last_purge = time.monotonic()
        now = datetime.now(UTC)
        deleted = 0
        for field, seconds in await self._rules():
            with translated():
                res = await self._coll.delete_many(
                    {field: {"$lte": now - timedelta(seconds=seconds)}}
                )
            deleted += res.deleted_count
        return deleted

    # -- port ----------------------------------------------------------------------

    async def insert_one(self, doc: Document) -> None:
        await self.insert_many([doc])

    async def insert_many(self, docs: list[Document]) -> None:
        clean = [query.normalize_document(d) for d in docs]
        await self._maybe_purge()
        async with self._store.write_guard(self.name):
            await self._insert(clean)

    async def _insert(self, docs: list[Document]) -> None:
        while docs:
            try:
                with translated():
                    # insert_one skips the bulk-write machinery: a quarter less latency.
                    if len(docs) == 1:
                        await self._coll.insert_one(docs[0])
                    else:
                        await self._coll.insert_many(docs, ordered=True)
                return
            except DuplicateKeyError as exc:
                cause = exc.__cause__
                done = 0
                if isinstance(cause, mongo_errors.BulkWriteError):
                    done = cause.details.get("nInserted", 0)
                # An expired but unpurged document must not block its successor.
                if await self._purge():
                    docs = docs[done:]
                    continue
                if "index:" in str(exc):
                    raise
                raise DuplicateKeyError(f"{exc} {await self._clash(docs[done])}") from cause

    async def _clash(self, doc: Document) -> str:
        """Name the unique index a document clashes on (FerretDB's error does not).

        Duplicates are routine (idempotent inserts), so this must not cost a round trip
        when only `_id` is unique: the unique indexes are listed once per process.
        """
        if self._unique is None:
            with translated():
                indexes = await self._coll.index_information()
            self._unique = [
                (name, [f for f, _ in info["key"]])
                for name, info in indexes.items()
                if info.get("unique") or name == "_id_"
            ]
        candidates = [(n, fs) for n, fs in self._unique if n != "_id_"]
        keyed = [(n, {f: match.get_path(doc, f) for f in fs}) for n, fs in candidates]
        keyed = [(n, k) for n, k in keyed if match.MISSING not in k.values()]
        if not keyed:
            return f"index: _id_ dup key: {{'_id': {doc.get('_id')!r}}}"
        keyed.insert(0, ("_id_", {"_id": doc.get("_id")}))
        with translated():
            for name, keys in keyed:
                if await self._coll.find_one(keys, projection={"_id": 1}):
                    return f"index: {name} dup key: {keys}"
        return "index: unknown"

    async def find_one(self, filter: Filter, *, sort: Sort | None = None) -> Document | None:
        found = await self.find(filter, sort=sort, limit=1)
        return found[0] if found else None

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
        filter = query.validate_filter(filter)
        sort = query.validate_sort(sort)
        if after is not None:
            keyset = query.keyset_filter(sort, query.normalize_value(after))
            filter = {"$and": [filter, keyset]} if filter else keyset
        fields = [query.validate_path(p) for p in projection] if projection is not None else None
        if limit == 0:
            return []
        with translated():
            cursor = self._coll.find(
                await self._live(filter),
                projection={"_id": 1, **{f: 1 for f in fields}} if fields is not None else None,
                sort=sort,
                skip=skip,
                limit=limit or 0,
            )
            docs = await cursor.to_list()
        match.check_sort_values(docs, sort)
        return docs

    async def count(self, filter: Filter | None = None) -> int:
        live = await self._live(query.validate_filter(filter or {}))
        with translated():
            return await self._coll.count_documents(live)

    async def update_one(
        self, filter: Filter, update: Update, *, upsert: bool = False
    ) -> UpdateResult:
        filter, update = query.validate_filter(filter), query.validate_update(update)
        await self._maybe_purge()
        async with self._store.write_guard(self.name):
            if _client_side(update):
                result, _, _ = await self._update_arrays(filter, update, upsert=upsert, many=False)
                return result
            if upsert:
                update = _with_upsert_id(filter, update)
            res = await self._retry_expired(
                lambda live: self._coll.update_one(live, update, upsert=upsert), filter
            )
        return UpdateResult(res.matched_count, res.modified_count, res.upserted_id)

    async def update_many(self, filter: Filter, update: Update) -> UpdateResult:
        filter, update = query.validate_filter(filter), query.validate_update(update)
        await self._maybe_purge()
        async with self._store.write_guard(self.name):
            if _client_side(update):
                result, _, _ = await self._update_arrays(filter, update, upsert=False, many=True)
                return result
            live = await self._live(filter)
            with translated():
                res = await self._coll.update_many(live, update)
        return UpdateResult(res.matched_count, res.modified_count)

    async def update_each(self, updates: list[tuple[Filter, Update]]) -> int:
        checked = [(query.validate_filter(f), query.validate_update(u)) for f, u in updates]
        if not checked:
            return 0
        if any(_client_side(u) for _, u in checked):
            # Array rewrites are compare-and-swaps of their own: one at a time.
            matched = 0
            for f, u in checked:
                matched += (await self.update_one(f, u)).matched_count
            return matched
        await self._maybe_purge()
        async with self._store.write_guard(self.name):
            ops = [UpdateOne(await self._live(f), u) for f, u in checked]
            with translated():
                res = await self._coll.bulk_write(ops, ordered=True)
        return res.matched_count

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Update,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Document | None:
        filter, update = query.validate_filter(filter), query.validate_update(update)
        sort = query.validate_sort(sort)
        await self._maybe_purge()
        async with self._store.write_guard(self.name):
            if _client_side(update):
                _, before, after = await self._update_arrays(
                    filter, update, upsert=upsert, many=False, sort=sort
                )
                return after if return_new else before
            if upsert:
                update = _with_upsert_id(filter, update)
            doc: Document | None = await self._retry_expired(
                lambda live: self._coll.find_one_and_update(
                    live,
                    update,
                    upsert=upsert,
                    sort=sort,
                    return_document=ReturnDocument.AFTER if return_new else ReturnDocument.BEFORE,
                ),
                filter,
            )
        match.check_sort_values([doc] if doc else [], sort)
        return doc

    async def _retry_expired(self, op: Any, filter: Filter) -> Any:
        """Run a possibly upserting write; an expired twin blocking the upsert is purged."""
        for attempt in range(2):
            try:
                with translated():
                    return await op(await self._live(filter))
            except DuplicateKeyError:
                if attempt or not await self._purge():
                    raise
        raise AssertionError("unreachable")

    async def _update_arrays(
        self,
        filter: Filter,
        update: Update,
        *,
        upsert: bool,
        many: bool,
        sort: Sort | None = None,
    ) -> tuple[UpdateResult, Document | None, Document | None]:
        """`$push` with `$slice` and `$pull` by document as a compare-and-swap.

        The new arrays are computed here and written with `$set` by an update whose
        filter also requires each of those arrays to still hold the value it was computed
        from; the other operators in the update run on the server in the same atomic
        single-document write. A concurrent change makes the filter miss, and the
        document is read and tried again, so every committed array is exactly what
        MongoDB's native `$slice` would have produced, with no transient over-long array
        (which "push, then trim" would expose) and no transaction (FerretDB has none).
        """
        client_side = _client_side(update)
        sliced = [path for _, path in client_side]
        rest = copy.deepcopy(update)
        for op, path in client_side:
            del rest[op][path]
            if not rest[op]:
                del rest[op]
        matched = modified = 0
        before = after = None
        live = await self._live(filter)
        with translated():
            cursor = self._coll.find(live, sort=sort, limit=0 if many else 1, projection={"_id": 1})
            ids = [d["_id"] for d in await cursor.to_list()]
        for doc_id in ids:
            for _ in range(_CAS_ATTEMPTS):
                guard = {"$and": [await self._live(filter), {"_id": doc_id}]}
                with translated():
                    doc = await self._coll.find_one(guard)
                if doc is None:
                    break
                new = apply_update(doc, update)
                for path in sliced:
                    old = match.get_path(doc, path)
                    guard["$and"].append(
                        {path: {"$exists": False} if old is match.MISSING else old}
                    )
                ops = copy.deepcopy(rest)
                arrays = {p: match.get_path(new, p) for p in sliced}
                arrays = {p: v for p, v in arrays.items() if v is not match.MISSING}
                if arrays:
                    ops.setdefault("$set", {}).update(arrays)
                with translated():
                    written = (
                        await self._coll.find_one_and_update(
                            guard, ops, return_document=ReturnDocument.AFTER
                        )
                        if ops
                        else await self._coll.find_one(guard)
                    )
                if written is not None:
                    matched += 1
                    modified += not match.bson_eq(doc, written)
                    before, after = doc, written
                    break
            else:
                raise StoreError(f"$push with $slice on {self.name}: too much contention")
        if ids or not upsert:
            return UpdateResult(matched, modified), before, after
        seed: Document = {}
        for path, value in query.upsert_seed(filter).items():
            set_path(seed, path, value)
        doc = apply_update(seed, update, inserting=True)
        doc = {"_id": doc.pop("_id", None) or uuid.uuid4().hex, **doc}
        try:
            await self._insert([doc])
        except DuplicateKeyError:
            # Another writer may have upserted it first: update theirs, as MongoDB does.
            result = await self._update_arrays(filter, update, upsert=False, many=many, sort=sort)
            if not result[0].matched_count:
                raise
            return result
        return UpdateResult(0, 0, doc["_id"]), None, doc

    async def delete_one(self, filter: Filter) -> int:
        filter = query.validate_filter(filter)
        live = await self._live(filter)
        async with self._store.write_guard(self.name):
            with translated():
                return (await self._coll.delete_one(live)).deleted_count

    async def delete_many(self, filter: Filter) -> int:
        live = await self._live(query.validate_filter(filter))
        async with self._store.write_guard(self.name):
            with translated():
                return (await self._coll.delete_many(live)).deleted_count

    async def create_index(
        self,
        keys: IndexKeys,
        *,
        unique: bool = False,
        name: str | None = None,
        expire_after_seconds: int | None = None,
    ) -> None:
        fields = [query.validate_path(f) for f, _ in keys]
        if not keys or any(d not in (1, -1) for _, d in keys):
            raise UnsupportedOperation(f"index keys {keys!r} are not supported")
        if expire_after_seconds is not None and len(keys) != 1:
            raise UnsupportedOperation("an expiring index must have exactly one field")
        options: dict[str, Any] = {"name": name} if name else {}
        if unique:
            options["unique"] = True
            options["partialFilterExpression"] = {f: {"$exists": True} for f in fields}
        if expire_after_seconds is not None:
            options["expireAfterSeconds"] = expire_after_seconds
        index_name = await self._create_index(keys, options)
        self._unique = None
        if expire_after_seconds is not None:
            rule = {"coll": self.name, "field": fields[0], "seconds": expire_after_seconds}
            with translated():
                await self._meta.replace_one(
                    {"_id": f"{self.name}:{index_name}"}, rule, upsert=True
                )
            self._ttl = [r for r in await self._rules() if r[0] != fields[0]]
            self._ttl.append((fields[0], expire_after_seconds))

    async def _create_index(self, keys: IndexKeys, options: dict[str, Any]) -> str:
        # Drop what the server cannot do (FerretDB: TTL and partial indexes), one option
        # at a time; the adapter enforces both itself.
        for optional in (None, "partialFilterExpression", "expireAfterSeconds"):
            options.pop(optional or "", None)
            try:
                with translated():
                    name: str = await self._coll.create_index(keys, **options)
                return name
            except UnsupportedOperation:
                continue
        raise UnsupportedOperation(f"index {keys!r} on {self.name}")
