"""The engine's own ceiling: the document writes a benchmark's events imply, no Canteen code.

Each throughput benchmark compares against the raw engine in the same run. These functions
replay, with the bare PyMongo async driver, the writes the service makes for the same N
events: one bulk call per collection per batch (the consumer's batches of a partition's
events, three partitions at once), on collections that carry the service's own indexes
(created by the service's setup beforehand). Reads are left out, so each rate is an upper
bound for the service on that engine. The database is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, InsertOne, UpdateOne

from shared.events.envelope import EventData
from shared.events.schemas.activity.discussion import AnswerAccepted, AnswerCreated, VoteSet
from shared.events.schemas.activity.posts import PostCreated

PARTITIONS = 3
Batch = Callable[[int, int], Awaitable[None]]


async def _partitions(n: int, batch: int, write: Batch) -> float:
    """Events/s for `write(start, stop)` over [0, n) in batches, PARTITIONS at a time."""

    async def partition(p: int) -> None:
        for start in range(p * batch, n, batch * PARTITIONS):
            await write(start, min(start + batch, n))

    started = time.perf_counter()
    await asyncio.gather(*(partition(p) for p in range(PARTITIONS)))
    return n / (time.perf_counter() - started)


def _outbox(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"_outbox": [{"id": str(uuid.uuid4()), "type": event_type, "data": data}]} | {
        "_outbox_pending": True,
        "_outbox_v": 1,
    }


async def notify_writes(
    uri: str, database: str, n: int, *, outbox: str = "records", warm: str | None = None
) -> float:
    """Per comment event: an unread counter, a notification group and a notification
    inserted, then the notification's `created` event as `outbox` says:
    - "records": as the service does it: outbox records of 100 events each (as JSON text),
      inserted after the notifications, then the relay's work: read them, delete them;
    - "cleared": as the service did before the records: the event in the notification's
      own outbox, cleared by the relay (a rewrite of every notification);
    - "none": nothing (the inserts alone).
    With `warm` (a counter's `_applied`, as bench_notify --warm writes them), every
    recipient has a counter already (written before the clock starts), and each event
    updates it instead, guarded by its `seq` as the service does: one bulk call per batch."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    db = client[database]
    now = datetime.now(UTC)
    created = "canteen.notify.notification.created.v1"
    if warm is not None:
        counters = [
            {"_id": f"un{i}", "seq": 128, "unread": 1, "unseen": 1, "_applied": warm}
            for i in range(n)
        ]
        for k in range(0, n, 1000):
            await db.unread_counters.insert_many(counters[k : k + 1000])
    minute = int(time.time() // 60)

    async def write(start: int, stop: int) -> None:
        ids = [f"n{i}" for i in range(start, stop)]
        if warm is None:
            await db.unread_counters.insert_many(
                [{"_id": f"u{i}", "seq": 1, "unread": 1, "unseen": 1, "_applied": i} for i in ids]
            )
        else:
            await db.unread_counters.bulk_write(
                [
                    UpdateOne(
                        {"_id": f"u{i}", "seq": 128},
                        {
                            "$inc": {"seq": 1, "unread": 1, "unseen": 1},
                            "$set": {"_applied": f"{minute}:{i}"},
                        },
                    )
                    for i in ids
                ]
            )
        await db.notification_groups.insert_many([_group(i, now) for i in ids])
        docs = [_notification(i, now) for i in ids]
        if outbox == "cleared":
            docs = [d | _outbox(created, _event_data(d["_id"])) for d in docs]
        await db.notifications.insert_many(docs)
        if outbox == "cleared":
            await db.notifications.update_many(
                {"_id": {"$in": ids}, "_outbox_v": 1},
                {"$set": {"_outbox": [], "_outbox_pending": False}},
            )
        if outbox == "records":
            records = []
            for k in range(0, len(ids), 100):  # as the service keeps them: JSON text each
                chunk = [_outbox(created, _event_data(i))["_outbox"][0] for i in ids[k : k + 100]]
                records.append(
                    {
                        "_id": f"r{ids[k]}",
                        "_outbox": [json.dumps(e) for e in chunk],
                        "_outbox_pending": True,
                        "_outbox_v": 1,
                        "_outbox_record": True,
                    }
                )
            await db.notification_outbox.insert_many(records)
            found = await db.notification_outbox.find(
                {"_outbox_pending": True, "_id": {"$in": [r["_id"] for r in records]}}
            ).to_list()
            await db.notification_outbox.delete_many({"_id": {"$in": [r["_id"] for r in found]}})

    try:
        return await _partitions(n, 500, write)
    finally:
        await client.drop_database(database)
        await client.close()


def _event_data(nid: str) -> dict[str, Any]:
    return {
        "id": nid,
        "recipient_id": f"u{nid}",
        "type": "comment.created",
        "actor_id": "a1",
        "target_type": "post",
        "target_id": f"p{nid}",
        "group_id": f"g{nid}",
        "seq": 1,
        "critical": False,
        "private": False,
        "in_app": True,
        "created_at": "2026-12-02T17:00:00.000Z",
    }


def _notification(nid: str, now: datetime) -> dict[str, Any]:
    user, post = f"u{nid}", f"p{nid}"
    return {
        "_id": nid,
        "recipient_id": user,
        "type": "comment.created",
        "actor_id": "a1",
        "target": {"type": "post", "id": post},
        "group_key": f"{user}|comment.created|post|{post}",
        "group_id": f"g{nid}",
        "audience": "org",
        "audience_group_id": None,
        "private": False,
        "post_id": post,
        "item_id": f"c{nid}",
        "title": "New comment on your post",
        "summary": "a1 commented on your post: Nice post",
        "link": f"/posts/{post}",
        "critical": False,
        "created_at": now,
        "event_at": now,
        "event_id": str(uuid.uuid4()),
        "read_at": None,
        "seen_at": None,
        "hidden": False,
        "in_app": True,
        "channels": {"email": "no_address", "push": "now", "email_at": None, "push_at": None},
        "seq": 1,
    }


def _group(nid: str, now: datetime) -> dict[str, Any]:
    user, post = f"u{nid}", f"p{nid}"
    return {
        "_id": f"g{nid}",
        "recipient_id": user,
        "type": "comment.created",
        "target": {"type": "post", "id": post},
        "group_key": f"{user}|comment.created|post|{post}",
        "first_at": now,
        "critical": False,
        "private": False,
        "post_id": post,
        "link": f"/posts/{post}",
        "count": 1,
        "unread": 1,
        "_v": 1,
        "latest_at": now,
        "latest_seq": 1,
        "_applied": nid,
        "actors": ["a1"],
        "last_actor": f"{now.isoformat()}|a1",
    }


async def expertise_writes(
    uri: str, database: str, events: Sequence[EventData], *, batch: int
) -> float:
    """The expertise consumer's writes for `events`, `batch` events at a time, PARTITIONS
    batches at once (batches of one partition's events, as the consumer gets them): each
    source inserted when new, else compare-and-swapped once per batch; each (person, topic)
    document likewise (with its `expertise.changed` in its outbox); an answerer per answer;
    a question per acceptance."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    db = client[database]
    now = datetime.now(UTC)
    sources: set[str] = set()
    experts: set[str] = set()

    async def write(start: int, stop: int) -> None:
        src: dict[str, Any] = {}
        docs: dict[str, Any] = {}
        answerers, questions = [], []
        for e in events[start:stop]:
            source, author, topics = _touches(e)
            if source not in sources:
                sources.add(source)
                src[source] = InsertOne(_source(source, author, topics, now))
            elif source not in src:
                src[source] = UpdateOne({"_id": source, "v": 1}, {"$set": {"votes_at": now}})
            for topic in topics:
                key = f"{author}:{topic}"
                if key not in experts:
                    experts.add(key)
                    docs[key] = InsertOne(_expertise(key, author, topic, now))
                elif key not in docs:
                    docs[key] = UpdateOne({"_id": key, "v": 1}, _expertise_update(now))
            if isinstance(e, AnswerCreated):
                answerers.append({"_id": f"{e.question_id}:{e.author_id}", "question_id": e.id})
            if isinstance(e, AnswerAccepted):
                questions.append(
                    UpdateOne({"_id": e.question_id}, {"$set": {"open": 0}}, upsert=True)
                )
        await db.expertise_sources.bulk_write(list(src.values()))
        await db.expertise.bulk_write(list(docs.values()))
        if answerers:
            await db.answerers.insert_many(answerers)
        if questions:
            await db.questions.bulk_write(questions)

    try:
        return await _partitions(len(events), batch, write)
    finally:
        await client.drop_database(database)
        await client.close()


def _touches(e: EventData) -> tuple[str, str, list[str]]:
    """(source id, author, topics) of a scoring event of bench_expertise's mix."""
    if isinstance(e, AnswerCreated):
        return f"answer:{e.id}", e.author_id, list(e.topics)
    if isinstance(e, VoteSet):
        return f"answer:{e.answer_id}", e.answer_author_id, list(e.topics)
    if isinstance(e, AnswerAccepted):
        return f"answer:{e.answer_id}", e.answer_author_id, list(e.topics)
    assert isinstance(e, PostCreated)
    return f"article:{e.id}", e.author_id, list(e.topics)


def _source(source: str, author: str, topics: list[str], now: datetime) -> dict[str, Any]:
    return {
        "_id": source,
        "answered_at": now,
        "audience": "org",
        "author_id": author,
        "group_id": None,
        "group_visibility": None,
        "question_id": "q1",
        "ref_id": source.split(":", 1)[1],
        "topics": topics,
        "topics_all": topics,
        "v": 1,
        "up": ["u406", "u250"],
        "votes_at": now,
        "accepted": False,
        "write_id": uuid.uuid4().hex,
    }


def _contribution(now: datetime) -> dict[str, Any]:
    return {
        "ref": 281.97,
        "weight": 19.0,
        "kind": "accepted_answer",
        "ref_id": "a1",
        "link": "/api/v1/questions/q1/answers#a1",
        "at": now,
        "group_id": None,
        "group_visibility": None,
    }


def _expertise(key: str, person: str, topic: str, now: datetime) -> dict[str, Any]:
    return {
        "_id": key,
        "person_id": person,
        "topic": topic,
        "v": 1,
        "published_ref": 140.98,
        "score_ref": 140.98,
        "contrib": {"s1": {"v": 1} | _contribution(now)},
        "evidence": [_contribution(now)],
        "hidden": False,
        "updated_at": now,
    } | _outbox("canteen.profiles.expertise.changed.v1", {"id": key, "score": 1.5})


def _expertise_update(now: datetime) -> dict[str, Any]:
    return {
        "$set": {"score_ref": 150.0, "evidence": [_contribution(now)], "updated_at": now},
        "$inc": {"v": 1, "_outbox_v": 1},
        "$push": {"_outbox": {"id": str(uuid.uuid4()), "type": "expertise.changed"}},
    }
