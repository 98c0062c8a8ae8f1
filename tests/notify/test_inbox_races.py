"""Races between writing a notification and what runs beside it: marking read, deleting
the post or answer it is about, another notification to the same group.

A notification's write takes several steps (counters, groups, the notification itself);
events with other keys and HTTP requests run between them. Each test holds the write at
one step (`hold`), runs the other actor in full, lets the write finish, and then checks
the invariants: every group counts exactly its visible notifications (and their unread),
every counter its recipient's. The dispatcher is driven directly on each backend's store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from services.notify.context import NotifyContext, NotifyOptions
from services.notify.inbox import build_inbox
from services.notify.inbox.domain import notification_id
from services.notify.inbox.handlers import build_dispatcher
from services.notify.inbox.repository import COUNTERS, GROUPS, NOTIFICATIONS, VISIBLE
from services.notify.inbox.service import Inbox, NotificationNotFound
from shared.backends import make_store
from shared.events import Event
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import EventData, new_event
from shared.events.schemas.activity.discussion import AnswerDeleted
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.notify.test_inbox_support import (
    NOW,
    accepted,
    answer,
    comment,
    deleted,
    post,
    reaction,
    uid,
)

# The two writes of a notification that other actors can fall between.
STEPS = ("group_all", "insert_all")


@dataclass
class Wired:
    store: DocumentStore
    inbox: Inbox
    dispatcher: EventDispatcher


@pytest.fixture
async def wired(settings: CanteenSettings) -> AsyncIterator[Wired]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(settings, "notify")
    ctx = NotifyContext(store=store, options=NotifyOptions(), signing_secret="s" * 32)
    inbox, audiences = build_inbox(ctx)
    await inbox.repo.prepare()
    await audiences.prepare()
    yield Wired(store, inbox, build_dispatcher(inbox, audiences))
    await store.close()


def at(payload: EventData, offset: int = 0) -> Event:
    """An event at a fixed time, so notifications about one thing share their group."""
    return new_event(payload).model_copy(update={"time": NOW + timedelta(seconds=1 + offset)})


@dataclass
class Step:
    """The first call of a repository method: when it started and finished; if `held`, it
    waits at its entry until released."""

    held: bool
    started: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def watch(inbox: Inbox, name: str, *, held: bool, monkeypatch: pytest.MonkeyPatch) -> Step:
    step = Step(held)
    original = getattr(inbox.repo, name)

    async def watched(*args: Any, **kwargs: Any) -> Any:
        first = not step.started.is_set()
        step.started.set()
        if not first:
            return await original(*args, **kwargs)
        try:
            if held:
                step.reached.set()
                await step.release.wait()
            return await original(*args, **kwargs)
        finally:
            step.done.set()

    monkeypatch.setattr(inbox.repo, name, watched)
    return step


async def hold(
    inbox: Inbox, held: str, write: Coroutine[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Task[Any], Step]:
    """Start `write` and return once it waits at the entry of `held`, with whatever else it
    started meanwhile (the other step, when both run at once) finished."""
    steps = {name: watch(inbox, name, held=name == held, monkeypatch=monkeypatch) for name in STEPS}
    task = asyncio.create_task(write)
    reached = asyncio.create_task(steps[held].reached.wait())
    await asyncio.wait({task, reached}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        reached.cancel()
        task.result()  # raises what the write raised
        pytest.fail(f"the write finished without calling {held}")
    for name, step in steps.items():
        if name != held and step.started.is_set():
            await step.done.wait()
    return task, steps[held]


async def finish(task: asyncio.Task[Any], step: Step) -> None:
    step.release.set()
    await task


async def check(store: DocumentStore, user: str) -> dict[str, int]:
    """Groups and counter agree with the notifications; the user's visible totals."""
    notes = await store.collection(NOTIFICATIONS).find({"recipient_id": user, **VISIBLE})
    for group in await store.collection(GROUPS).find({"recipient_id": user}):
        mine = [n for n in notes if n["group_id"] == group["_id"]]
        unread = sum(n["read_at"] is None for n in mine)
        assert (group["count"], group["unread"]) == (len(mine), unread), group["_id"]
    counter = await store.collection(COUNTERS).find_one({"_id": user}) or {}
    totals = {
        "count": len(notes),
        "unread": sum(n["read_at"] is None for n in notes),
        "unseen": sum(n["seen_at"] is None for n in notes),
    }
    assert {k: counter.get(k, 0) for k in ("unread", "unseen")} == {
        k: totals[k] for k in ("unread", "unseen")
    }
    return totals


# 1. marking read while a notification is written to the same group ----------------------


@pytest.mark.parametrize("held", STEPS)
@pytest.mark.parametrize("mark", ["all", "one"])
@pytest.mark.parametrize("before", [0, 1])
async def test_marking_read_during_a_write_keeps_group_and_counter_exact(
    wired: Wired, held: str, mark: str, before: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`before`: notifications in the group already (0: the write creates the group)."""
    ana, note = uid("ana"), uid("post")
    for i in range(before):
        await wired.dispatcher(at(reaction("post", note, ana, uid("bo"), note), i))
    second = at(reaction("post", note, ana, uid("cy"), note), before)
    task, step = await hold(wired.inbox, held, wired.dispatcher(second), monkeypatch)
    if mark == "all":
        await wired.inbox.mark_all(ana)
    else:
        with suppress(NotificationNotFound):  # not written yet
            await wired.inbox.mark_one(ana, notification_id(second.id, ana))
    await finish(task, step)

    totals = await check(wired.store, ana)
    assert totals["count"] == before + 1
    await wired.inbox.mark_all(ana)
    assert (await check(wired.store, ana))["unread"] == 0
    groups = await wired.inbox.repo.group_page(ana, unread=False, type_=None, limit=5, after=None)
    assert [g["unread"] for g in groups] == [0]  # never below zero


# 2. a post deleted while a comment on it is notified -------------------------------------


@pytest.mark.parametrize("held", STEPS)
async def test_post_deleted_during_a_write_leaves_no_group(
    wired: Wired, held: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana, bo = uid("ana"), uid("bo")
    note = post(ana)
    write = wired.dispatcher(at(comment(note.id, ana, bo)))
    task, step = await hold(wired.inbox, held, write, monkeypatch)
    await wired.dispatcher(at(deleted(note.id, ana)))
    await finish(task, step)

    assert await check(wired.store, ana) == {"count": 0, "unread": 0, "unseen": 0}
    repo = wired.inbox.repo
    assert await repo.group_page(ana, unread=False, type_=None, limit=5, after=None) == []


# 3. an answer deleted before or while something about it is notified ---------------------


def answer_deleted(answer_id: str, question_id: str, asker: str, author: str) -> AnswerDeleted:
    return AnswerDeleted(
        id=answer_id,
        question_id=question_id,
        question_author_id=asker,
        author_id=author,
        deleted_by=author,
        deleted_at=NOW,
        audience="org",
    )


@pytest.mark.parametrize("held", [None, *STEPS])
@pytest.mark.parametrize("about", ["reaction", "accepted"])
async def test_answer_deleted_hides_what_is_notified_about_it_after(
    wired: Wired, held: str | None, about: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`held` None: the deletion is handled first, in full (other keys, so any order)."""
    ana, bo, cy = uid("ana"), uid("bo"), uid("cy")
    question = post(ana, kind="question")
    ans = answer(question.id, ana, bo)
    gone = at(answer_deleted(ans.id, question.id, ana, bo))
    late = (
        reaction("answer", ans.id, bo, cy, question.id)
        if about == "reaction"
        else accepted(question.id, ans.id, bo, ana)
    )
    if held is None:
        await wired.dispatcher(gone)
        await wired.dispatcher(at(late))
    else:
        task, step = await hold(wired.inbox, held, wired.dispatcher(at(late)), monkeypatch)
        await wired.dispatcher(gone)
        await finish(task, step)

    assert await check(wired.store, bo) == {"count": 0, "unread": 0, "unseen": 0}
    assert (
        await wired.inbox.repo.group_page(bo, unread=False, type_=None, limit=5, after=None) == []
    )


@pytest.mark.parametrize("about", ["post", "answer"])
async def test_a_redelivery_after_a_crash_hides_what_the_crash_left_visible(
    wired: Wired, about: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write crashed after inserting and before looking for tombstones; the deletion
    (other key) had hidden nothing yet. The redelivered event is filtered out by the
    tombstone before writing, so it must hide what the first delivery left."""
    ana, bo, cy = uid("ana"), uid("bo"), uid("cy")
    question = post(ana, kind="question")
    ans = answer(question.id, ana, bo)
    if about == "post":
        event, gone = at(comment(question.id, ana, cy)), at(deleted(question.id, ana))
        owner = ana
    else:
        event = at(reaction("answer", ans.id, bo, cy, question.id))
        gone, owner = at(answer_deleted(ans.id, question.id, ana, bo)), bo

    async def crash(written: list[dict[str, Any]]) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(wired.inbox, "_hide_deleted", crash)
    with pytest.raises(RuntimeError):
        await wired.dispatcher(event)
    monkeypatch.undo()
    assert (await check(wired.store, owner))["count"] == 1
    # The deletion's tombstone lands; its hide ran before the insert (found nothing).
    hide = wired.inbox.repo.hide_about

    async def too_early(field: str, value: str) -> int:
        return 0

    monkeypatch.setattr(wired.inbox.repo, "hide_about", too_early)
    await wired.dispatcher(gone)
    monkeypatch.setattr(wired.inbox.repo, "hide_about", hide)
    assert (await check(wired.store, owner))["count"] == 1

    await wired.dispatcher(event)  # the bus redelivers the event that failed
    assert await check(wired.store, owner) == {"count": 0, "unread": 0, "unseen": 0}


# 4. the last actor of a group ----------------------------------------------------------


async def test_group_names_the_latest_actor_whichever_write_lands_last(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The earlier reaction's group write lands after the later one's."""
    ana, bo, cy, note = uid("ana"), uid("bo"), uid("cy"), uid("post")
    first = wired.dispatcher(at(reaction("post", note, ana, bo, note), 1))
    task, step = await hold(wired.inbox, "group_all", first, monkeypatch)
    await wired.dispatcher(at(reaction("post", note, ana, cy, note), 2))
    await finish(task, step)

    [group] = await wired.inbox.repo.group_page(ana, unread=False, type_=None, limit=5, after=None)
    assert group["count"] == 2 and group["last_actor_id"] == cy
