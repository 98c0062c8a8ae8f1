"""The DocumentStore contract: every adapter passes these same tests.

Decisions the contract pins down (and both adapters implement):
- A unique index ignores documents missing one of its fields; an explicit None is a
  value and collides with another None (FerretDB's behaviour, and MongoDB's with the
  partial filter the Mongo adapter asks for).
- Expired documents are invisible to every operation as soon as they are past their
  time, whether or not they have been purged yet.
- Anything outside the subset raises UnsupportedOperation before touching the engine.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.store import DocumentStore, DuplicateKeyError, UnsupportedOperation
from shared.store.match import matches

FILTER_DOCS: list[dict[str, Any]] = [
    {"_id": "a", "n": 1, "s": "x", "tags": ["red", "blue"], "p": {"city": "Oslo", "z": 1}},
    {"_id": "b", "n": 2.5, "s": "y", "tags": ["green"], "p": {"city": "Rome"}, "opt": None},
    {"_id": "c", "n": 3, "s": "x", "tags": [], "flag": True, "comments": [{"by": "ann"}]},
    {"_id": "d", "s": "z", "flag": False, "opt": 7, "comments": [{"by": "bob"}, {"by": "cy"}]},
]


async def ids(store: DocumentStore, filter: dict[str, Any], **kwargs: Any) -> list[str]:
    docs = await store.collection("things").find(filter, sort=[("_id", 1)], **kwargs)
    return [d["_id"] for d in docs]


async def ids_of(collection: Any) -> list[str]:
    return [d["_id"] for d in await collection.find({}, sort=[("_id", 1)])]


# -- writing and reading documents -------------------------------------------------------


async def test_insert_then_find_returns_the_document(store: DocumentStore) -> None:
    users = store.collection("users")
    doc = {"_id": "u1", "name": "Ann", "roles": ["admin"], "profile": {"team": "core"}}
    await users.insert_one(doc)

    assert await users.find_one({"_id": "u1"}) == doc
    assert await users.find({"name": "Ann"}) == [doc]
    assert await users.find_one({"_id": "nobody"}) is None


async def test_duplicate_id_raises_a_typed_error(store: DocumentStore) -> None:
    users = store.collection("users")
    await users.insert_one({"_id": "u1"})

    with pytest.raises(DuplicateKeyError):
        await users.insert_one({"_id": "u1", "other": True})
    assert await users.count() == 1


async def test_insert_many_is_ordered_and_keeps_documents_before_a_duplicate(
    store: DocumentStore,
) -> None:
    users = store.collection("users")
    await users.insert_one({"_id": "u2"})

    with pytest.raises(DuplicateKeyError):
        await users.insert_many([{"_id": "u1"}, {"_id": "u2"}, {"_id": "u3"}])
    assert await ids_of(users) == ["u1", "u2"]


async def test_datetimes_round_trip_as_aware_utc_with_millisecond_precision(
    store: DocumentStore,
) -> None:
    events = store.collection("events")
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    await events.insert_one({"_id": "e1", "at": at, "naive": datetime(2026, 1, 1, 8, 0)})

    doc = await events.find_one({"at": at})
    assert doc is not None
    assert doc["at"] == datetime(2026, 3, 1, 10, 30, 15, 123000, tzinfo=UTC)
    assert doc["at"].utcoffset() == timedelta(0)
    assert doc["naive"] == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert await events.count({"at": {"$gt": at - timedelta(seconds=1), "$lte": at}}) == 1


async def test_unique_compound_index_rejects_duplicates_and_ignores_missing_fields(
    store: DocumentStore,
) -> None:
    members = store.collection("members")
    await members.create_index([("org", 1), ("email", 1)], unique=True, name="org_email")
    await members.create_index([("org", 1), ("email", 1)], unique=True, name="org_email")
    await members.insert_many(
        [
            {"_id": "m1", "org": "o1", "email": "a@x"},
            {"_id": "m2", "org": "o2", "email": "a@x"},
            {"_id": "m3", "org": "o1"},
            {"_id": "m4", "org": "o1"},
        ]
    )

    with pytest.raises(DuplicateKeyError, match="org_email"):
        await members.insert_one({"_id": "m5", "org": "o1", "email": "a@x"})
    with pytest.raises(DuplicateKeyError):
        await members.update_one({"_id": "m2"}, {"$set": {"org": "o1"}})
    assert await members.count() == 4


async def test_unique_index_treats_none_as_a_value(store: DocumentStore) -> None:
    handles = store.collection("handles")
    await handles.create_index([("handle", 1)], unique=True)
    await handles.insert_many([{"_id": "h1"}, {"_id": "h2"}, {"_id": "h3", "handle": None}])

    with pytest.raises(DuplicateKeyError):
        await handles.insert_one({"_id": "h4", "handle": None})


# -- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({}, ["a", "b", "c", "d"]),
        ({"s": "x"}, ["a", "c"]),
        ({"n": 1}, ["a"]),
        ({"n": 1.0}, ["a"]),
        ({"flag": True}, ["c"]),
        ({"n": True}, []),
        ({"p.city": "Rome"}, ["b"]),
        ({"p.city": "Oslo", "p.z": 1}, ["a"]),
        ({"tags": "blue"}, ["a"]),
        ({"tags": ["red", "blue"]}, ["a"]),
        ({"tags": ["blue", "red"]}, []),
        ({"tags": []}, ["c"]),
        ({"comments.by": "bob"}, ["d"]),
        ({"tags": {"$in": ["green", "blue"]}}, ["a", "b"]),
        ({"tags": {"$nin": ["green", "blue"]}}, ["c", "d"]),
        ({"s": {"$in": ["y", "z"]}}, ["b", "d"]),
        ({"s": {"$in": [1, True, "z"]}}, ["d"]),
        ({"n": {"$in": [True, "1"]}}, []),
        ({"opt": {"$in": [None, 7]}}, ["a", "b", "c", "d"]),
        ({"s": {"$nin": ["x", 1]}}, ["b", "d"]),
        ({"s": {"$ne": "x"}}, ["b", "d"]),
        ({"tags": {"$ne": "red"}}, ["b", "c", "d"]),
        ({"n": {"$gt": 1}}, ["b", "c"]),
        ({"n": {"$gte": 1, "$lt": 3}}, ["a", "b"]),
        ({"n": {"$lte": 2.5}}, ["a", "b"]),
        ({"s": {"$gt": "x"}}, ["b", "d"]),
        ({"n": {"$gt": "0"}}, []),
        ({"opt": None}, ["a", "b", "c"]),
        ({"opt": {"$ne": None}}, ["d"]),
        ({"opt": {"$exists": True}}, ["b", "d"]),
        ({"opt": {"$exists": False}}, ["a", "c"]),
        ({"p.city": {"$exists": True}}, ["a", "b"]),
        ({"comments.by": {"$exists": True}}, ["c", "d"]),
        ({"$or": [{"s": "y"}, {"flag": False}]}, ["b", "d"]),
        ({"$and": [{"s": "x"}, {"n": {"$gt": 1}}]}, ["c"]),
        ({"$or": [{"tags": "red"}, {"n": 3}], "s": "x"}, ["a", "c"]),
        ({"_id": {"$in": ["a", "d", "zz"]}}, ["a", "d"]),
        ({"_id": {"$gt": "b"}}, ["c", "d"]),
    ],
)
async def test_filter_operators_follow_mongodb(
    store: DocumentStore, filter: dict[str, Any], expected: list[str]
) -> None:
    things = store.collection("things")
    await things.insert_many(FILTER_DOCS)
    await things.create_index([("s", 1)])
    await things.create_index([("n", 1)])
    await things.create_index([("tags", 1)])

    assert await ids(store, filter) == expected


async def test_an_in_of_very_many_values_finds_every_match(store: DocumentStore) -> None:
    """More values than SQLite binds in one statement (32,766): still an answer, not an
    error (the adapters read more rows then, and filter them)."""
    things = store.collection("things")
    await things.insert_many([{"_id": f"t{i}", "k": f"k{i}"} for i in range(50)])
    await things.create_index([("k", 1)])
    wanted = [f"t{i}" for i in range(0, 50, 7)] + [f"absent{i}" for i in range(40_000)]

    assert sorted(d["_id"] for d in await things.find({"_id": {"$in": wanted}})) == sorted(
        f"t{i}" for i in range(0, 50, 7)
    )
    keys = [f"k{i}" for i in range(0, 50, 7)] + [f"absent{i}" for i in range(40_000)]
    assert await things.count({"k": {"$in": keys}}) == len(range(0, 50, 7))
    await things.update_one({"_id": "t1"}, {"$set": {"tags": ["k1", "x"]}})  # an array path
    assert await things.count({"tags": {"$in": [*keys[-20_000:], "k1"]}}) == 1
    both = {"k": {"$in": keys[:20_000]}, "_id": {"$nin": ["t0"]}, "kk": {"$nin": keys}}
    assert await things.count(both) == len(range(7, 50, 7))


async def test_range_filters_match_any_array_element(store: DocumentStore) -> None:
    scores = store.collection("scores")
    await scores.insert_many([{"_id": "a", "v": [1, 9]}, {"_id": "b", "v": [4, 5]}])

    assert await scores.count({"v": {"$gt": 8}}) == 1
    assert await scores.count({"v": {"$lt": 2, "$gt": 8}}) == 1
    assert await scores.count({"v": 5}) == 1


async def test_membership_matches_arrays_and_scalars_of_one_field_alike(
    store: DocumentStore,
) -> None:
    # One field holding arrays in some documents and a scalar in others (the SQLite
    # adapter decides string membership in SQL for such a field).
    tagged = store.collection("tagged")
    await tagged.insert_many(
        [
            {"_id": "a", "t": ["x", "y"]},
            {"_id": "b", "t": "x"},
            {"_id": "c", "t": [1, True, None]},
            {"_id": "d", "t": []},
            {"_id": "e"},
            {"_id": "f", "t": ["X", "x "]},
        ]
    )

    async def found(filter: dict[str, Any]) -> list[str]:
        return [d["_id"] for d in await tagged.find(filter, sort=[("_id", 1)])]

    assert await found({"t": "x"}) == ["a", "b"]
    assert await found({"t": {"$in": ["y", "z"]}}) == ["a"]
    assert await found({"t": {"$in": ["x"]}, "_id": {"$ne": "a"}}) == ["b"]
    assert await found({"t": {"$eq": "X"}}) == ["f"]
    assert await found({"t": 1}) == ["c"]
    assert await found({"t": {"$in": [None, "y"]}}) == ["a", "c", "e"]
    assert await found({"$or": [{"t": "y"}, {"t": "x "}]}) == ["a", "f"]


async def test_string_equalities_on_an_indexed_field_find_every_match(
    store: DocumentStore,
) -> None:
    # The test FerretDB sends string equalities to SQLite's index as a superset WHERE
    # (deploy/native/ferretdb/pushdown.go.in): arrays, odd strings, $and, $in, and the
    # write paths must still see exactly MongoDB's matches.
    odd = 'q"uo\\te ü 🙂'
    coll = store.collection("indexed")
    await coll.create_index([("k", 1), ("n", -1)])
    await coll.insert_many(
        [
            {"_id": "a", "k": "u1", "n": 1},
            {"_id": "b", "k": ["u2", "u1"], "n": 2},
            {"_id": "c", "k": [{"u1": "u1"}], "n": 3},
            {"_id": "d", "k": {"u1": 1}, "n": 4},
            {"_id": "e", "k": odd, "n": 5},
            {"_id": "f", "k": "u10", "n": 6},
            {"_id": "g", "n": 7},
            {"_id": "h", "k": ["x", {"v": odd}], "n": 8},
            {"_id": "i", "k": True, "n": 9},
            {"_id": "j", "k": [False, "u1"], "n": 10},
            {"_id": "k", "k": "true", "n": 11},
        ]
    )

    async def found(filter: dict[str, Any]) -> list[str]:
        return [d["_id"] for d in await coll.find(filter, sort=[("_id", 1)])]

    assert await found({"k": "u1"}) == ["a", "b", "j"]
    assert await found({"k": {"$eq": "u1"}, "n": {"$gte": 2, "$lte": 9}}) == ["b"]
    assert await found({"k": True}) == ["i"]
    assert await found({"k": {"$in": [False, "true"]}}) == ["j", "k"]
    assert await found({"k": {"$in": ["u2", odd]}}) == ["b", "e"]
    assert await found({"k": odd}) == ["e"]
    assert await found({"$and": [{"k": "u1"}, {"n": {"$lt": 2}}]}) == ["a"]
    assert await found({"k": "u1", "_id": {"$in": ["a", "b", "c"]}}) == ["a", "b"]
    newest = [("n", -1), ("_id", -1)]
    page = await coll.find({"k": "u1"}, sort=newest, limit=1)
    assert [d["_id"] for d in page] == ["j"]
    rest = await coll.find({"k": "u1"}, sort=newest, after={"n": 10, "_id": "j"})
    assert [d["_id"] for d in rest] == ["b", "a"]
    assert await coll.count({"k": "u1"}) == 3

    assert (await coll.update_many({"k": "u1"}, {"$set": {"seen": True}})).matched_count == 3
    assert await found({"seen": True}) == ["a", "b", "j"]
    moved = await coll.find_one_and_update({"k": "u2"}, {"$set": {"k": "u3"}})
    assert moved is not None and moved["_id"] == "b"
    assert await found({"k": "u1"}) == ["a", "j"]
    assert await coll.delete_many({"k": {"$in": ["u1", "u3"]}}) == 3
    assert await found({}) == ["c", "d", "e", "f", "g", "h", "i", "k"]


# -- sorting and paging ----------------------------------------------------------------


async def test_sort_limit_and_skip(store: DocumentStore) -> None:
    things = store.collection("things")
    await things.insert_many([{"_id": f"t{i}", "rank": i % 3, "name": f"n{i}"} for i in range(9)])

    docs = await things.find({}, sort=[("rank", -1), ("_id", 1)], skip=2, limit=4)
    assert [d["_id"] for d in docs] == ["t8", "t1", "t4", "t7"]
    assert await things.find({}, sort=[("rank", 1)], limit=0) == []
    first = await things.find_one({"rank": 1}, sort=[("_id", -1)])
    assert first is not None and first["_id"] == "t7"


async def test_sort_orders_mixed_types_and_missing_like_mongodb(store: DocumentStore) -> None:
    things = store.collection("things")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    await things.insert_many(
        [
            {"_id": "date", "v": now},
            {"_id": "true", "v": True},
            {"_id": "str", "v": "s"},
            {"_id": "num", "v": 2.5},
            {"_id": "int", "v": 1},
            {"_id": "none", "v": None},
            {"_id": "missing"},
        ]
    )
    await things.create_index([("v", 1)])

    docs = await things.find({}, sort=[("v", 1), ("_id", 1)])
    assert [d["_id"] for d in docs] == ["missing", "none", "int", "num", "str", "true", "date"]


def _mixed_value(rng: random.Random, start: datetime, *, scalar: bool = False) -> Any:
    """A field value of any kind a filter or a sort must tell apart (or no field).

    `scalar`: no arrays or embedded documents (the port sorts and compares only scalars).
    """
    kinds: list[Any] = [
        None,
        rng.choice(["a", "b", "ab", "B", "é"]),
        rng.choice([True, False]),
        rng.choice([1, 2, 3, 2.5, -1]),
        start + timedelta(minutes=rng.randint(0, 5)),
    ]
    if not scalar:
        kinds += [[rng.choice(["a", "b", "c"]) for _ in range(rng.randint(0, 3))], {"x": 1}]
        kinds += [[1, "a", None]]
    return rng.choice([*kinds, "<missing>", "<missing>", "<missing>"])


async def test_a_sorted_limited_page_is_the_head_of_the_whole_result(
    store: DocumentStore,
) -> None:
    # The test FerretDB translates filters exactly to SQL and pushes a find's sort and
    # limit down to SQLite (deploy/native/ferretdb/sortlimit.go.in). One row too many or
    # too few in that translation, or a wrong order, loses a real match: so every read,
    # count and write must select what the port's own matcher selects, and every page
    # must equal the head of the same query without a limit, over values of every type,
    # arrays, nulls and missing fields.
    rng = random.Random(20261202)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    mixed, plain = store.collection("mixed"), store.collection("plain")
    docs = []
    for i in range(160):
        doc: dict[str, Any] = {"_id": f"m{i:03d}", "p": rng.choice(["x", "y"])}
        for name in ("u", "a", "t", "s"):
            value = _mixed_value(rng, start, scalar=name == "s")
            if value != "<missing>":
                doc[name] = value
        doc["c"] = start + timedelta(seconds=rng.randint(0, 40))
        docs.append(doc)
    await mixed.insert_many(docs)
    await plain.insert_many(
        [
            {
                "_id": f"p{i:03d}",
                "p": rng.choice(["x", "y"]),
                "u": rng.choice(["a", "b", None]),
                "s": rng.randint(0, 5),
                "c": start + timedelta(seconds=rng.randint(0, 40)),
            }
            for i in range(120)
        ]
    )
    for coll in (mixed, plain):
        await coll.create_index([("p", 1), ("c", -1), ("_id", -1)])
    mid = start + timedelta(seconds=20)
    filters: list[dict[str, Any]] = [
        {},
        {"p": "x"},
        {"u": "a"},
        {"u": {"$ne": "a"}},
        {"u": None},
        {"u": {"$ne": None}},
        {"u": {"$in": ["a", "b", True]}},
        {"u": {"$nin": ["a"]}},
        {"a": {"$exists": False}},
        {"s": {"$gt": 1}},
        {"s": {"$lte": 2}},
        {"s": 2.5},
        {"t": 2.5},
        {"t": {"$ne": True}},
        {"c": {"$lt": mid}},
        {"s": {"$gte": "a", "$lt": "b"}},
        {"$or": [{"c": {"$lt": mid}}, {"c": mid, "_id": {"$lt": "m080"}}]},
        {"$and": [{"p": "x"}, {"$or": [{"u": "a"}, {"t": True}, {"a": {"$exists": False}}]}]},
        {"p": "y", "s": {"$gt": "a"}},
        {"u": {"$in": []}},
    ]
    sorts: list[list[tuple[str, int]]] = [
        [("c", -1), ("_id", -1)],
        [("s", 1), ("_id", 1)],
        [("s", -1), ("c", 1), ("_id", -1)],
        [("p", 1), ("_id", -1)],
    ]
    checked = 0
    stored = [docs, await plain.find({})]
    for coll, contents in zip((mixed, plain), stored, strict=True):
        for filter in filters:
            # Unsorted reads and counts: exactly the documents the port's own matcher picks.
            expected = sorted(d["_id"] for d in contents if matches(d, filter))
            assert sorted(d["_id"] for d in await coll.find(filter)) == expected, filter
            assert await coll.count(filter) == len(expected), filter
            for sort in sorts:
                whole = [d["_id"] for d in await coll.find(filter, sort=sort)]
                for limit in (1, 7):
                    page = await coll.find(filter, sort=sort, limit=limit)
                    assert [d["_id"] for d in page] == whole[:limit], (coll, filter, sort)
                    checked += 1
    assert checked == 2 * len(filters) * len(sorts) * 2
    # Writes select through the same translation.
    chosen = {"$or": [{"u": {"$ne": "a"}, "s": {"$gt": 1}}, {"a": {"$exists": False}}]}
    expected = sorted(d["_id"] for d in docs if matches(d, chosen))
    assert (await mixed.update_many(chosen, {"$set": {"hit": True}})).matched_count == len(expected)
    assert sorted(d["_id"] for d in await mixed.find({"hit": True})) == expected
    assert await mixed.delete_many(chosen) == len(expected)
    assert await mixed.count({}) == len(docs) - len(expected)


async def test_projection_keeps_id_and_named_fields(store: DocumentStore) -> None:
    things = store.collection("things")
    await things.insert_many(FILTER_DOCS)

    docs = await things.find({"_id": "a"}, projection=["s", "p.city"])
    assert docs == [{"_id": "a", "s": "x", "p": {"city": "Oslo"}}]
    assert await things.find({"_id": "a"}, projection=[]) == [{"_id": "a"}]
    nested = await things.find({"_id": "d"}, projection=["comments.by"])
    assert nested == [{"_id": "d", "comments": [{"by": "bob"}, {"by": "cy"}]}]


async def test_keyset_pages_visit_every_document_once_despite_ties(store: DocumentStore) -> None:
    posts = store.collection("posts")
    await posts.create_index([("audience", 1), ("created_at", -1), ("_id", -1)])
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    docs = [
        {
            "_id": f"p{i:03d}",
            "audience": "org" if i % 4 else "team",
            "created_at": base + timedelta(minutes=rng.randrange(12)),
        }
        for i in range(300)
    ]
    rng.shuffle(docs)
    await posts.insert_many(docs)
    sort = [("created_at", -1), ("_id", -1)]

    seen: list[str] = []
    after = None
    while True:
        page = await posts.find({"audience": "org"}, sort=sort, limit=20, after=after)
        if not page:
            break
        seen += [d["_id"] for d in page]
        after = {"created_at": page[-1]["created_at"], "_id": page[-1]["_id"]}

    expected = sorted(
        (d for d in docs if d["audience"] == "org"),
        key=lambda d: (d["created_at"], d["_id"]),
        reverse=True,
    )
    assert seen == [d["_id"] for d in expected]


async def test_keyset_ascending(store: DocumentStore) -> None:
    things = store.collection("things")
    await things.insert_many([{"_id": f"t{i:02d}", "k": i // 5} for i in range(23)])

    page = await things.find({}, sort=[("k", 1), ("_id", 1)], after={"k": 2, "_id": "t12"}, limit=3)
    assert [d["_id"] for d in page] == ["t13", "t14", "t15"]


# -- updates ---------------------------------------------------------------------------


async def test_set_unset_inc_min_max(store: DocumentStore) -> None:
    things = store.collection("things")
    await things.insert_one({"_id": "t", "a": 1, "gone": "x", "lo": 5, "hi": 5, "p": {"q": 1}})

    result = await things.update_one(
        {"_id": "t"},
        {
            "$set": {"b": "new", "p.r": 2},
            "$unset": {"gone": ""},
            "$inc": {"a": 2, "fresh": 1.5},
            "$min": {"lo": 3},
            "$max": {"hi": 3},
        },
    )

    assert (result.matched_count, result.modified_count, result.upserted_id) == (1, 1, None)
    assert await things.find_one({"_id": "t"}) == {
        "_id": "t",
        "a": 3,
        "lo": 3,
        "hi": 5,
        "p": {"q": 1, "r": 2},
        "b": "new",
        "fresh": 1.5,
    }


async def test_update_that_changes_nothing_is_matched_not_modified(store: DocumentStore) -> None:
    things = store.collection("things")
    await things.insert_one({"_id": "t", "a": 1})

    result = await things.update_one({"_id": "t"}, {"$set": {"a": 1}})
    missed = await things.update_one({"_id": "nope"}, {"$set": {"a": 1}})

    assert (result.matched_count, result.modified_count) == (1, 0)
    assert (missed.matched_count, missed.modified_count) == (0, 0)


@pytest.mark.parametrize(
    ("push", "expected"),
    [
        ("z", ["a", "b", "c", "z"]),
        ({"$each": ["x", "y"]}, ["a", "b", "c", "x", "y"]),
        ({"$each": ["x", "y"], "$slice": -3}, ["c", "x", "y"]),
        ({"$each": ["x", "y"], "$slice": 2}, ["a", "b"]),
        ({"$each": ["x"], "$slice": 0}, []),
    ],
)
async def test_push(store: DocumentStore, push: Any, expected: list[str]) -> None:
    things = store.collection("things")
    await things.insert_one({"_id": "t", "log": ["a", "b", "c"]})

    await things.update_one({"_id": "t"}, {"$push": {"log": push}})

    doc = await things.find_one({"_id": "t"})
    assert doc is not None and doc["log"] == expected


async def test_push_slice_keeps_the_cap_under_concurrency(store: DocumentStore) -> None:
    feed = store.collection("feed")
    await feed.insert_one({"_id": "f", "recent": [], "pushes": 0})

    await asyncio.gather(
        *[
            feed.update_one(
                {"_id": "f"},
                {"$push": {"recent": {"$each": [i], "$slice": -5}}, "$inc": {"pushes": 1}},
            )
            for i in range(30)
        ]
    )

    doc = await feed.find_one({"_id": "f"})
    assert doc is not None
    assert doc["pushes"] == 30
    assert len(doc["recent"]) == 5 and len(set(doc["recent"])) == 5


async def test_push_slice_on_many_documents_and_a_missing_field(store: DocumentStore) -> None:
    feed = store.collection("feed")
    await feed.insert_many([{"_id": "f1", "g": 1, "r": [1, 2]}, {"_id": "f2", "g": 1}])

    result = await feed.update_many({"g": 1}, {"$push": {"r": {"$each": [3, 4], "$slice": -3}}})

    assert (result.matched_count, result.modified_count) == (2, 2)
    assert [d["r"] for d in await feed.find({}, sort=[("_id", 1)])] == [[2, 3, 4], [3, 4]]


async def test_add_to_set_and_pull(store: DocumentStore) -> None:
    things = store.collection("things")
    await things.insert_one(
        {
            "_id": "t",
            "tags": ["a", "b"],
            "reactions": [{"user": "u1", "kind": "like"}, {"user": "u2", "kind": "like"}],
        }
    )

    await things.update_one({"_id": "t"}, {"$addToSet": {"tags": "a"}})
    await things.update_one({"_id": "t"}, {"$addToSet": {"tags": {"$each": ["b", "c", "c"]}}})
    await things.update_one({"_id": "t"}, {"$pull": {"tags": "a", "reactions": {"user": "u1"}}})

    doc = await things.find_one({"_id": "t"})
    assert doc is not None
    assert doc["tags"] == ["b", "c"]
    assert doc["reactions"] == [{"user": "u2", "kind": "like"}]


async def test_upsert_seeds_from_the_filter_and_applies_set_on_insert(store: DocumentStore) -> None:
    counters = store.collection("counters")

    first = await counters.update_one(
        {"_id": "c1", "kind": "views"},
        {"$inc": {"n": 1}, "$setOnInsert": {"created": "now"}},
        upsert=True,
    )
    second = await counters.update_one(
        {"_id": "c1", "kind": "views"},
        {"$inc": {"n": 1}, "$setOnInsert": {"created": "later"}},
        upsert=True,
    )
    generated = await counters.update_one({"owner.id": "o1"}, {"$set": {"n": 0}}, upsert=True)

    assert first.upserted_id == "c1" and (first.matched_count, first.modified_count) == (0, 0)
    assert second.upserted_id is None and second.modified_count == 1
    assert await counters.find_one({"_id": "c1"}) == {
        "_id": "c1",
        "kind": "views",
        "created": "now",
        "n": 2,
    }
    assert isinstance(generated.upserted_id, str)
    assert await counters.find_one({"owner.id": "o1"}) == {
        "_id": generated.upserted_id,
        "owner": {"id": "o1"},
        "n": 0,
    }


async def test_find_one_and_update_returns_new_or_old_and_upserts(store: DocumentStore) -> None:
    jobs = store.collection("jobs")
    await jobs.insert_many(
        [
            {"_id": "j1", "state": "ready", "prio": 1},
            {"_id": "j2", "state": "ready", "prio": 5},
        ]
    )

    new = await jobs.find_one_and_update(
        {"state": "ready"}, {"$set": {"state": "taken"}}, sort=[("prio", -1)]
    )
    old = await jobs.find_one_and_update(
        {"state": "ready"}, {"$set": {"state": "taken"}}, return_new=False
    )
    none = await jobs.find_one_and_update({"state": "ready"}, {"$set": {"state": "taken"}})
    upserted = await jobs.find_one_and_update(
        {"_id": "j3"}, {"$set": {"state": "ready"}}, upsert=True
    )
    sliced = await jobs.find_one_and_update(
        {"_id": "j1"}, {"$push": {"log": {"$each": ["a", "b"], "$slice": -1}}}, return_new=False
    )

    assert new == {"_id": "j2", "state": "taken", "prio": 5}
    assert old == {"_id": "j1", "state": "ready", "prio": 1}
    assert none is None
    assert upserted == {"_id": "j3", "state": "ready"}
    assert sliced == {"_id": "j1", "state": "taken", "prio": 1}
    assert (await jobs.find_one({"_id": "j1"}) or {})["log"] == ["b"]


async def test_concurrent_inc_is_exact(store: DocumentStore) -> None:
    counters = store.collection("counters")
    await counters.insert_one({"_id": "c", "n": 0})

    await asyncio.gather(
        *[counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}) for _ in range(50)]
    )

    assert await counters.find_one({"_id": "c"}) == {"_id": "c", "n": 50}


async def test_update_many_delete_and_count(store: DocumentStore) -> None:
    things = store.collection("things")
    await things.insert_many([{"_id": f"t{i}", "odd": i % 2 == 1} for i in range(10)])

    updated = await things.update_many({"odd": True}, {"$set": {"seen": True}})
    assert (updated.matched_count, updated.modified_count) == (5, 5)
    assert await things.count({"seen": True}) == 5
    assert await things.delete_one({"odd": True}) == 1
    assert await things.delete_many({"odd": True}) == 4
    assert await things.delete_many({"odd": True}) == 0
    assert await things.count() == 5
    assert await things.count({"odd": False}) == 5


async def test_update_each_applies_each_update_to_one_document_in_order(
    store: DocumentStore,
) -> None:
    versions = store.collection("versions")
    await versions.insert_many([{"_id": f"d{i}", "v": 1, "tags": ["a"]} for i in range(4)])

    matched = await versions.update_each(
        [
            ({"_id": "d0", "v": 1}, {"$set": {"x": "first"}, "$inc": {"v": 1}}),
            ({"_id": "d1", "v": 7}, {"$set": {"x": "stale"}, "$inc": {"v": 1}}),
            ({"v": 1}, {"$addToSet": {"tags": "b"}}),  # one document, as update_one
            ({"_id": "d0", "v": 2}, {"$set": {"x": "second"}, "$inc": {"v": 1}}),
            ({"_id": "gone"}, {"$set": {"x": "none"}}),
            ({"_id": "d3"}, {"$pull": {"tags": "a"}}),
        ]
    )

    assert matched == 4
    docs = {d["_id"]: d for d in await versions.find({})}
    assert docs["d0"] == {"_id": "d0", "v": 3, "tags": ["a"], "x": "second"}
    assert "x" not in docs["d1"] and docs["d1"]["v"] == 1
    assert sorted(d["_id"] for d in docs.values() if "b" in d["tags"]) == ["d1"]
    assert docs["d3"]["tags"] == []
    assert await versions.find_one({"_id": "gone"}) is None
    assert await versions.update_each([]) == 0


async def test_update_each_takes_hundreds_of_updates_in_one_call(store: DocumentStore) -> None:
    # More statements than FerretDB's 100 pooled SQLite connections: unpatched, its bulk
    # update held one per statement until the end and hung (deploy/native/ferretdb/).
    counters = store.collection("counters")
    await counters.insert_many([{"_id": f"c{i:03}", "n": 0} for i in range(300)])

    ops = [({"_id": f"c{i:03}", "n": 0}, {"$inc": {"n": 1}}) for i in range(300)]
    assert await asyncio.wait_for(counters.update_each(ops), timeout=60) == 300
    assert await counters.count({"n": 1}) == 300


async def test_update_each_stops_at_a_unique_clash_keeping_the_updates_before_it(
    store: DocumentStore,
) -> None:
    handles = store.collection("handles")
    await handles.create_index([("handle", 1)], unique=True)
    await handles.insert_many([{"_id": "u1", "handle": "ana"}, {"_id": "u2", "handle": "ben"}])

    with pytest.raises(DuplicateKeyError):
        await handles.update_each(
            [
                ({"_id": "u1"}, {"$set": {"handle": "ana2"}}),
                ({"_id": "u2"}, {"$set": {"handle": "ana2"}}),
                ({"_id": "u2"}, {"$set": {"note": "never"}}),
            ]
        )
    docs = {d["_id"]: d for d in await handles.find({})}
    assert docs == {"u1": {"_id": "u1", "handle": "ana2"}, "u2": {"_id": "u2", "handle": "ben"}}


async def test_update_each_rejects_a_bad_update_before_writing_anything(
    store: DocumentStore,
) -> None:
    things = store.collection("things")
    await things.insert_one({"_id": "t1", "n": 1})

    with pytest.raises(UnsupportedOperation):
        await things.update_each(
            [({"_id": "t1"}, {"$set": {"n": 2}}), ({"_id": "t1"}, {"$bogus": {"n": 3}})]
        )
    assert await things.find_one({"_id": "t1"}) == {"_id": "t1", "n": 1}


# -- change token ----------------------------------------------------------------------


async def test_the_change_token_moves_with_every_committed_write_and_only_then(
    store: DocumentStore,
) -> None:
    things = store.collection("things")
    await things.insert_one({"_id": "a", "n": 1})
    token = store.change_token()
    if token is None:
        # No cheap way to tell (MongoDB): callers cache nothing, so nothing is ever stale.
        await things.update_one({"_id": "a"}, {"$inc": {"n": 1}})
        assert store.change_token() is None
        return
    await things.find({})
    await things.count({"n": 1})
    assert store.change_token() == token, "a read moved the token"
    writes: list[Any] = [
        lambda: things.insert_one({"_id": "b", "n": 2}),
        lambda: things.insert_many([{"_id": "c"}, {"_id": "d"}]),
        lambda: things.update_one({"_id": "a"}, {"$inc": {"n": 1}}),
        lambda: things.update_many({}, {"$set": {"seen": True}}),
        lambda: things.update_each([({"_id": "b"}, {"$set": {"n": 3}})]),
        lambda: things.find_one_and_update({"_id": "c"}, {"$set": {"n": 4}}),
        lambda: things.delete_one({"_id": "d"}),
        lambda: things.delete_many({"n": 4}),
    ]
    for write in writes:
        await write()
        moved = store.change_token()
        assert moved is not None and moved != token, "a committed write left the token"
        token = moved


# -- expiry ----------------------------------------------------------------------------


async def test_expired_documents_are_invisible_to_every_operation(store: DocumentStore) -> None:
    sessions = store.collection("sessions")
    await sessions.create_index([("expires_at", 1)], expire_after_seconds=0)
    now = datetime.now(UTC)
    await sessions.insert_many(
        [
            {"_id": "old", "expires_at": now - timedelta(seconds=1), "k": 1},
            {"_id": "live", "expires_at": now + timedelta(hours=1), "k": 1},
            {"_id": "forever", "k": 1},
        ]
    )

    assert [d["_id"] for d in await sessions.find({"k": 1}, sort=[("_id", 1)])] == [
        "forever",
        "live",
    ]
    assert await sessions.find_one({"_id": "old"}) is None
    assert await sessions.count() == 2
    assert await sessions.find_one_and_update({"_id": "old"}, {"$set": {"k": 2}}) is None
    assert (await sessions.update_one({"_id": "old"}, {"$set": {"k": 2}})).matched_count == 0
    assert await sessions.delete_one({"_id": "old"}) == 0
    # An expired document, purged or not, does not block the next one with its key.
    await sessions.insert_one({"_id": "old", "expires_at": now + timedelta(hours=1)})
    assert await sessions.count() == 3


async def test_a_document_disappears_as_soon_as_it_expires_and_is_purged(
    store: DocumentStore,
) -> None:
    cache = store.collection("cache")
    await cache.create_index([("created_at", 1)], expire_after_seconds=1)
    # Two seconds ahead: on a loaded machine the insert and the first read can take over
    # a second, and a document created "now" would already be gone when first read.
    created_at = datetime.now(UTC) + timedelta(seconds=2)
    await cache.insert_one({"_id": "soon", "created_at": created_at})
    assert await cache.find_one({"_id": "soon"}) is not None

    # Wait for the clock to pass the expiry instant; the store must then hide the
    # document on the very next read, without any purge having run.
    expires_at = created_at + timedelta(seconds=1)
    await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 0.01)

    assert await cache.find_one({"_id": "soon"}) is None
    assert await cache.count() == 0
    assert await cache.purge_expired() == 1
    assert await cache.purge_expired() == 0


# -- outside the subset ----------------------------------------------------------------


@pytest.mark.parametrize(
    "filter",
    [
        {"s": {"$regex": "^x"}},
        {"$where": "this.s == 'x'"},
        {"s": {"$foo": 1}},
        {"tags": {"$elemMatch": {"$eq": "red"}}},
        {"$nor": [{"s": "x"}]},
        {"p": {"city": "Oslo"}},
        {"tags.0": "red"},
        {"n": {"$gt": [1]}},
    ],
)
async def test_filters_outside_the_subset_are_refused(
    store: DocumentStore, filter: dict[str, Any]
) -> None:
    things = store.collection("things")
    await things.insert_many(FILTER_DOCS)

    with pytest.raises(UnsupportedOperation, match="not supported by DocumentStore"):
        await things.find(filter)
    with pytest.raises(UnsupportedOperation):
        await things.count(filter)


@pytest.mark.parametrize(
    "update",
    [
        {"s": "replacement"},
        {"$rename": {"s": "t"}},
        {"$push": {"tags": {"$each": ["x"], "$sort": 1}}},
        {"$set": {"p": 1}, "$unset": {"p.city": ""}},
        {"$set": {"_id": "other"}},
        {"$set": {"bad.$": 1}},
        {},
    ],
)
async def test_updates_outside_the_subset_are_refused(
    store: DocumentStore, update: dict[str, Any]
) -> None:
    things = store.collection("things")
    await things.insert_many(FILTER_DOCS)

    with pytest.raises(UnsupportedOperation):
        await things.update_one({"_id": "a"}, update)
    assert await things.find_one({"_id": "a"}) == FILTER_DOCS[0]


async def test_keyset_needs_a_sort_ending_with_id(store: DocumentStore) -> None:
    things = store.collection("things")

    with pytest.raises(UnsupportedOperation):
        await things.find({}, sort=[("n", 1)], after={"n": 1})
    with pytest.raises(UnsupportedOperation):
        await things.find({}, after={"_id": "a"})


async def test_documents_outside_the_subset_are_refused(store: DocumentStore) -> None:
    things = store.collection("things")

    for bad in ({"x": 1}, {"_id": 1}, {"_id": "a", "a.b": 1}, {"_id": "a", "v": float("nan")}):
        with pytest.raises(UnsupportedOperation):
            await things.insert_one(bad)
    assert await things.count() == 0


# -- filters pinned by _id, with more conditions (conditional writes) ----------------------


async def test_conditional_writes_pinned_by_id_match_the_rest_of_the_filter(
    store: DocumentStore,
) -> None:
    docs = store.collection("pinned")
    await docs.insert_many([{"_id": "a", "v": 1, "n": 0}, {"_id": "b", "v": 5, "n": 0}])
    stale = await docs.update_one({"_id": "a", "v": 0}, {"$inc": {"n": 1}})
    assert (stale.matched_count, stale.modified_count) == (0, 0)
    fresh = await docs.update_one({"_id": "a", "v": 1}, {"$inc": {"n": 1}, "$set": {"v": 2}})
    assert (fresh.matched_count, fresh.modified_count) == (1, 1)
    assert await docs.find_one_and_update({"_id": "a", "v": 1}, {"$set": {"n": 9}}) is None
    after = await docs.find_one_and_update({"_id": "a", "v": {"$gte": 2}}, {"$inc": {"n": 1}})
    assert after is not None and after["n"] == 2
    before = await docs.find_one_and_update(
        {"_id": "b", "v": 5}, {"$set": {"v": 6}}, return_new=False
    )
    assert before is not None and before["v"] == 5
    assert await docs.delete_one({"_id": "b", "v": 5}) == 0
    assert await docs.delete_one({"_id": "b", "v": 6}) == 1
    missing = await docs.update_one({"_id": "zz", "v": 1}, {"$set": {"n": 1}})
    assert (missing.matched_count, missing.upserted_id) == (0, None)
    made = await docs.update_one({"_id": "c", "v": 1}, {"$set": {"n": 3}}, upsert=True)
    assert made.upserted_id == "c"
    assert await docs.find_one({"_id": "c"}) == {"_id": "c", "v": 1, "n": 3}


async def test_finds_pinned_by_ids_filter_sort_page_and_project(store: DocumentStore) -> None:
    docs = store.collection("pinned_find")
    await docs.insert_many([{"_id": f"d{i}", "g": i % 2, "n": i, "x": {"y": i}} for i in range(6)])
    ids = ["d5", "d1", "d2", "d9", "d1"]
    found = await docs.find(
        {"_id": {"$in": ids}, "g": 1}, sort=[("n", -1)], limit=2, projection=["x.y"]
    )
    assert found == [{"_id": "d5", "x": {"y": 5}}, {"_id": "d1", "x": {"y": 1}}]
    assert await docs.find({"_id": {"$in": ids}}, sort=[("n", 1)], skip=1) == [
        {"_id": "d2", "g": 0, "n": 2, "x": {"y": 2}},
        {"_id": "d5", "g": 1, "n": 5, "x": {"y": 5}},
    ]
    assert await docs.find_one({"_id": "d3", "g": 0}) is None
    assert (await docs.find_one({"_id": "d3", "n": {"$lt": 4}}) or {}).get("n") == 3
    many = await docs.update_many(
        {"_id": {"$in": ["d1", "d2", "d3", "d9"]}, "g": 1}, {"$inc": {"n": 10}}
    )
    assert (many.matched_count, many.modified_count) == (2, 2)
    assert [d["n"] for d in await docs.find({"g": 1}, sort=[("_id", 1)])] == [11, 13, 5]
