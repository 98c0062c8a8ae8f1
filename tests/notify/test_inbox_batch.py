"""The inbox's batch path leaves exactly the state of the per-event path, and a redelivery
(whole batch again, or a failed batch replayed event by event) duplicates nothing.

The dispatcher is driven directly on each backend's store (no bus): `handle_batch` is what
the bus calls with a run of events, `dispatcher(event)` what it calls per event.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.notify.context import NotifyContext, NotifyOptions
from services.notify.inbox import build_inbox
from services.notify.inbox.handlers import build_dispatcher
from services.notify.inbox.repository import (
    APPLIED_CAP,
    APPLIED_MINUTES,
    CLAIM_CHUNK,
    COUNTERS,
    GROUPS,
    INBOX_BATCH,
    NOTIFICATIONS,
    OUTBOX,
    applied_ids,
    kept,
)
from services.notify.preferences.repository import PreferenceRepository
from shared.events import Event
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import new_event
from shared.events.schemas.activity.social import GroupCreated
from shared.store.port import DocumentStore
from tests.notify.conftest import NotifyStores
from tests.notify.test_inbox_support import (
    NOW,
    accepted,
    answer,
    comment,
    deleted,
    follow,
    membership,
    pinned,
    post,
    reaction,
    uid,
)

# Stamped at write time, so they differ between two runs of the same events.
VOLATILE = {"created_at", "created_event_id", "first_at", "latest_at"}


def scenario() -> tuple[list[Event], dict[str, str]]:
    """Every kind of notification, privacy gates, aggregation, a deletion mid-stream, a
    muted post, and an event delivered twice within the batch."""
    ana, bo, cy, dee, eve = (uid(n) for n in ("ana", "bo", "cy", "dee", "eve"))
    grp = uid("grp")
    question = post(ana, kind="question", mentions=[bo, ana])
    secret = post(ana, group=grp, visibility="private", mentions=[bo, cy])
    doomed = post(cy, mentions=[ana])
    muted = post(dee, mentions=[eve])
    ans = answer(question.id, ana, bo, mentions=[cy])
    payloads: list[Any] = [
        GroupCreated(
            id=grp,
            slug=grp,
            name="Secret",
            visibility="private",
            join_policy="request",
            owner_id=ana,
            actor_id=ana,
            created_at=NOW,
        ),
        membership(grp, bo, "approved", "active", actor=ana),
        membership(grp, cy, "invited", "invited", actor=ana),
        question,
        ans,
        accepted(question.id, ans.id, bo, ana),
        comment(question.id, ana, bo),
        comment(question.id, ana, cy),
        reaction("answer", ans.id, bo, cy, question.id),
        reaction("answer", ans.id, bo, dee, question.id),
        reaction("answer", ans.id, bo, bo, question.id),
        follow(cy, ana),
        follow(dee, ana),
        secret,
        comment(secret.id, ana, bo, group=grp, visibility="private", mentions=[cy]),
        pinned(secret.id, ana, ana, grp),
        doomed,
        deleted(doomed.id, cy),
        comment(doomed.id, cy, dee, mentions=[ana]),
        muted,
        comment(muted.id, dee, ana, mentions=[eve]),
    ]
    events = [new_event(p) for p in payloads]
    events.insert(5, events[4])  # the answer, delivered twice in a row
    return events, {"ana": ana, "bo": bo, "cy": cy, "dee": dee, "eve": eve, "muted": muted.id}


async def mute(store: DocumentStore, user: str, post_id: str) -> None:
    await PreferenceRepository(store).put(user, {"muted_posts": [post_id]})


async def snapshot(store: DocumentStore, *, seq: bool = True) -> dict[str, Any]:
    """Notifications, counters and groups without what is stamped at write time."""

    def keep(doc: dict[str, Any]) -> dict[str, Any]:
        drop = VOLATILE | ({"seq", "latest_seq"} if not seq else set())
        # `_applied` as its ids: one claim or several (and when) depends on the path.
        return {
            k: (applied_ids(doc) if k == "_applied" else v) for k, v in doc.items() if k not in drop
        }

    out: dict[str, Any] = {}
    for name in (NOTIFICATIONS, GROUPS):
        docs = await store.collection(name).find({}, sort=[("_id", 1)])
        out[name] = [keep(d) for d in docs]
    counters = await store.collection(COUNTERS).find({}, sort=[("_id", 1)])
    # `_applied` as a set: a replay may apply the same ids in another order.
    out[COUNTERS] = [
        {
            k: (sorted(applied_ids(d)) if k == "_applied" else v)
            for k, v in d.items()
            if seq or k != "seq"
        }
        for d in counters
    ]
    return out


async def per_event(dispatcher: EventDispatcher, events: list[Event]) -> None:
    for event in events:
        await dispatcher(event)


async def test_batch_equals_per_event(notify_stores: NotifyStores) -> None:
    events, who = scenario()
    one_store, _, one = await notify_stores()
    many_store, _, many = await notify_stores()
    for store in (one_store, many_store):
        await mute(store, who["eve"], who["muted"])
    await per_event(one, events)
    await many.handle_batch(events)
    expected = await snapshot(one_store)
    assert await snapshot(many_store) == expected
    # the scenario exercised what it claims: aggregation, privacy, deletion, mutes
    notes = expected[NOTIFICATIONS]
    about = {(n["recipient_id"], n["type"]) for n in notes}
    assert (who["bo"], "reaction") in about
    assert (who["bo"], "announcement") in about  # member of the private group
    assert (who["cy"], "announcement") not in about  # only invited
    cy_private = {n["type"] for n in notes if n["recipient_id"] == who["cy"] and n["private"]}
    assert cy_private == {"group.invited"}  # nothing about the group's content
    assert not any(n["recipient_id"] == who["eve"] for n in notes)  # muted that post
    reactions = next(g for g in expected[GROUPS] if g["type"] == "reaction")
    assert reactions["count"] == 2
    counters = {c["_id"]: c for c in expected[COUNTERS]}
    assert counters[who["ana"]]["seq"] == len([n for n in notes if n["recipient_id"] == who["ana"]])


async def test_redelivered_batch_duplicates_nothing(notify_stores: NotifyStores) -> None:
    events, who = scenario()
    store, _, dispatcher = await notify_stores()
    await mute(store, who["eve"], who["muted"])
    await dispatcher.handle_batch(events)
    once = await snapshot(store)
    await dispatcher.handle_batch(events)
    assert await snapshot(store) == once
    await per_event(dispatcher, events)
    assert await snapshot(store) == once
    # a batch cut at other boundaries (Kafka fetches differ between deliveries)
    await dispatcher.handle_batch(events[3:9])
    await dispatcher.handle_batch(events[9:])
    assert await snapshot(store) == once


async def test_a_whole_batch_for_one_recipient_redelivered_counts_once(
    notify_stores: NotifyStores,
) -> None:
    """A crash (or a failed batch replayed event by event) redelivers up to one batch of
    the subscription's size, here more notifications for one recipient (and one group)
    than a counter or group keeps ids of: what is stored is found first, so none counts
    twice."""
    events = [new_event(comment("p-hot", "bo", f"fan{i}")) for i in range(INBOX_BATCH)]
    store, _, dispatcher = await notify_stores()
    await dispatcher.handle_batch(events)
    once = await snapshot(store)
    await dispatcher.handle_batch(events)
    await per_event(dispatcher, events[:50])
    assert await snapshot(store) == once
    counter = await store.collection(COUNTERS).find_one({"_id": "bo"})
    assert counter is not None
    assert (counter["unread"], counter["seq"]) == (INBOX_BATCH, INBOX_BATCH)
    [group] = await store.collection(GROUPS).find({"recipient_id": "bo"})
    assert group["unread"] == INBOX_BATCH


async def test_killed_between_chunks_a_redelivery_counts_each_once(
    notify_stores: NotifyStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One recipient's notifications are counted and stored in chunks of at most
    CLAIM_CHUNK. Killed while storing the second chunk (counted, grouped, not stored): the
    redelivery finds the first chunk stored, the second in the counter's kept ids, and
    counts the rest once."""
    n = 2 * CLAIM_CHUNK + 100
    events = [new_event(comment("p-hot", "bo", f"fan{i}")) for i in range(n)]
    store, inbox, dispatcher = await notify_stores()
    original = inbox.repo.insert_all
    calls: list[int] = []

    async def dies_on_the_second(docs: list[dict[str, Any]]) -> list[str]:
        calls.append(len(docs))
        if len(calls) == 2:
            raise RuntimeError("killed")
        return await original(docs)

    monkeypatch.setattr(inbox.repo, "insert_all", dies_on_the_second)
    with pytest.raises(RuntimeError):
        await dispatcher.handle_batch(events)
    assert calls == [CLAIM_CHUNK, CLAIM_CHUNK]
    assert await store.collection(NOTIFICATIONS).count({}) == CLAIM_CHUNK
    monkeypatch.undo()
    await dispatcher.handle_batch(events)
    counter = await store.collection(COUNTERS).find_one({"_id": "bo"})
    assert counter is not None and counter["unread"] == n
    [group] = await store.collection(GROUPS).find({"recipient_id": "bo"})
    assert group["unread"] == n
    assert await store.collection(NOTIFICATIONS).count({}) == n
    assert len(set(await announced(store))) == n


@pytest.mark.parametrize("miss", ["another_writer_first", "short_report"])
async def test_known_counters_claimed_in_one_write_stay_exact_when_some_miss(
    notify_stores: NotifyStores, monkeypatch: pytest.MonkeyPatch, miss: str
) -> None:
    """Known recipients' claims go to the store as one bulk of guarded writes, and the store
    reports only how many matched. Whether one really missed (another writer counted for
    that recipient in between) or all landed and the report fell short, every notification
    counts once and each recipient's seqs stay distinct."""
    store, inbox, dispatcher = await notify_stores()
    ctx = NotifyContext(store=store, options=NotifyOptions(), signing_secret="s" * 32)
    other_inbox, other_audiences = build_inbox(ctx)
    other = build_dispatcher(other_inbox, other_audiences)
    authors = ["ana", "bo", "cy"]
    await dispatcher.handle_batch([new_event(comment(f"p-{a}", a, "dee")) for a in authors])
    original = inbox.repo.counters.update_each
    raced: list[int] = []

    async def racing(ops: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
        if raced:
            return await original(ops)
        raced.append(len(ops))
        if miss == "another_writer_first":
            await other.handle_batch([new_event(comment("p-bo", "bo", "fay"))])
            return await original(ops)
        return await original(ops) - 1

    monkeypatch.setattr(inbox.repo.counters, "update_each", racing)
    await dispatcher.handle_batch([new_event(comment(f"p-{a}", a, "eve")) for a in authors])

    assert raced == [3]
    expected = {"ana": 2, "bo": 3 if miss == "another_writer_first" else 2, "cy": 2}
    for user, n in expected.items():
        docs = await store.collection(NOTIFICATIONS).find({"recipient_id": user})
        counter = await store.collection(COUNTERS).find_one({"_id": user})
        assert counter is not None and (counter["unread"], len(docs)) == (n, n), user
        assert len({d["seq"] for d in docs}) == n, user


async def test_ids_kept_as_a_list_by_an_earlier_version_still_deduplicate(
    notify_stores: NotifyStores,
) -> None:
    """Counters and groups written before session 19 keep their ids as a list. Killed
    after counting and grouping but before storing, the redelivery counts nothing twice."""
    store, _, dispatcher = await notify_stores()
    event = new_event(comment("p-old", "bo", "fan"))
    await dispatcher.handle_batch([event])
    for name in (COUNTERS, GROUPS):
        for doc in await store.collection(name).find({}):
            listed = {"_applied": applied_ids(doc)}
            await store.collection(name).update_one({"_id": doc["_id"]}, {"$set": listed})
    await store.collection(NOTIFICATIONS).delete_many({})  # counted, grouped, not stored
    await dispatcher.handle_batch([event])

    counter = await store.collection(COUNTERS).find_one({"_id": "bo"})
    [group] = await store.collection(GROUPS).find({"recipient_id": "bo"})
    assert counter is not None and (counter["unread"], group["unread"]) == (1, 1)
    assert await store.collection(NOTIFICATIONS).count({}) == 1


async def announced(store: DocumentStore) -> list[tuple[str, str]]:
    """(event id, notification id) of every `created` event waiting in outbox records."""
    records = await store.collection(OUTBOX).find({}, sort=[("_id", 1)])
    events = [Event.from_record(e) for r in records for e in r["_outbox"]]
    return [(e.id, e.data["id"]) for e in events]


async def stored_ids(store: DocumentStore) -> list[tuple[str, str]]:
    docs = await store.collection(NOTIFICATIONS).find({})
    return sorted((d["created_event_id"], d["_id"]) for d in docs)


async def test_each_notification_is_announced_once_by_the_batch_that_wrote_it(
    notify_stores: NotifyStores,
) -> None:
    events, _ = scenario()
    store, _, dispatcher = await notify_stores()
    await dispatcher.handle_batch(events)
    got = await announced(store)
    assert sorted(got) == await stored_ids(store)
    assert len(got) == len(set(got)) > 10


async def test_killed_before_announcing_the_redelivery_announces_what_is_stored(
    notify_stores: NotifyStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notifications written, the process dies before their outbox records: the redelivered
    events find them stored and announce them, with the event ids stored in them (so an
    announcement made twice is the same event, which consumers drop)."""
    events, _ = scenario()
    ref_store, _, ref = await notify_stores()
    await ref.handle_batch(events)
    store, inbox, dispatcher = await notify_stores()

    async def killed(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed before the records")

    monkeypatch.setattr(inbox.repo, "announce", killed)
    with pytest.raises(RuntimeError):
        await dispatcher.handle_batch(events)
    assert await announced(store) == []
    assert await store.collection(NOTIFICATIONS).count({}) > 0  # written, not announced
    monkeypatch.undo()
    await dispatcher.handle_batch(events)
    assert await snapshot(store, seq=False) == await snapshot(ref_store, seq=False)
    assert sorted(set(await announced(store))) == await stored_ids(store) != []


@pytest.mark.parametrize("failing", ["insert_all", "group_all"])
async def test_failed_batch_replayed_per_event_counts_once(
    notify_stores: NotifyStores, failing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bus replays a failed batch event by event: counters applied before the failure
    are not applied again. Only seqs may differ (a counted notification that was never
    inserted gets a fresh seq), never counts."""
    events, who = scenario()
    ref_store, _, ref = await notify_stores()
    store, inbox, dispatcher = await notify_stores()
    for s in (ref_store, store):
        await mute(s, who["eve"], who["muted"])
    await per_event(ref, events)

    original = getattr(inbox.repo, failing)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        if failing == "group_all":  # fails after writing: the groups are applied
            await original(*args, **kwargs)
        raise RuntimeError("store went away")

    monkeypatch.setattr(inbox.repo, failing, broken)
    with pytest.raises(RuntimeError):
        await dispatcher.handle_batch(events)
    monkeypatch.setattr(inbox.repo, failing, original)
    await per_event(dispatcher, events)

    got, expected = await snapshot(store, seq=False), await snapshot(ref_store, seq=False)
    assert got == expected
    for user in who.values():
        seqs = [
            n["seq"]
            for n in await store.collection(NOTIFICATIONS).find(
                {"recipient_id": user}, sort=[("seq", 1), ("_id", 1)]
            )
        ]
        assert len(seqs) == len(set(seqs))  # unique, so resume by Last-Event-ID holds


def test_kept_ids_are_the_recent_claims_and_at_most_the_cap() -> None:
    """A counter or group keeps the ids of its claims of the last APPLIED_MINUTES, newest
    APPLIED_CAP at most, as one string; a list from an earlier version reads as old."""
    now = 1_000_000
    old = kept(None, ["a", "b"], minute=now - APPLIED_MINUTES - 1)
    recent = kept(old, ["c"], minute=now - 5)
    assert applied_ids({"_applied": recent}) == ["a", "b", "c"]
    assert applied_ids({"_applied": kept(recent, ["d", "e"], minute=now)}) == ["c", "d", "e"]
    assert applied_ids({"_applied": kept(["x", "y"], ["z"], minute=now)}) == ["z"]
    assert applied_ids({"_applied": ["x", "y"]}) == ["x", "y"]
    many = [f"n{i}" for i in range(APPLIED_CAP + 10)]
    capped = kept(kept(None, many[:20], minute=now - 1), many[20:], minute=now)
    assert applied_ids({"_applied": capped}) == many[-APPLIED_CAP:]
