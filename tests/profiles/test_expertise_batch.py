"""The batched expertise projection leaves what the per-event path leaves (both backends):
same scores, evidence, contributions and sources; redelivery, partial failure followed by
the per-event fallback, and concurrent batches of two partitions change nothing more."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.profiles.expertise import repository
from services.profiles.expertise.local import LocalCopies
from services.profiles.expertise.repository import ExpertiseRepository
from shared.events.envelope import EventData, new_event
from shared.events.schemas.activity.discussion import AnswerDeleted, ReactionRemoved, ReactionSet
from shared.events.schemas.activity.posts import PostDeleted, PostUpdated
from shared.events.schemas.activity.social import GroupCreated
from shared.events.schemas.profiles_expertise import EndorsementAdded, EndorsementWithdrawn
from shared.settings import CanteenSettings
from tests.profiles.test_expertise_support import (
    NOW,
    Harness,
    accepted,
    add_people,
    answer,
    approx,
    harness,
    post,
    profiles_store,
    question,
    vote,
)

PEOPLE = ["ana", "bob", "cy", "dee"]
TOPICS = ["go", "sql", "rust"]


def twin(settings: CanteenSettings, name: str) -> CanteenSettings:
    """The same backend with its own databases: two paths, side by side."""
    update: dict[str, Any] = {"data_dir": Path(settings.data_dir).parent / name}
    if settings.backend == "external":
        update["mongodb_database_prefix"] = f"{settings.mongodb_database_prefix}{name}"
    return settings.model_copy(update=update)


def reaction(target: str, author: str, user: str, *, on: bool = True) -> EventData:
    fields: dict[str, Any] = {
        "id": f"post:{target}:{user}",
        "target_type": "post",
        "target_id": target,
        "target_author_id": author,
        "post_id": target,
        "user_id": user,
        "at": NOW,
        "audience": "org",
    }
    if on:
        return ReactionSet(kind="like", **fields)
    return ReactionRemoved(previous_kind="like", **fields)


def endorsement(endorser: str, person: str, skill: str, revision: int, on: bool) -> EventData:
    model = EndorsementAdded if on else EndorsementWithdrawn
    return model(
        id=f"{endorser}:{person}:{skill}",
        endorser_id=endorser,
        person_id=person,
        skill_id=skill,
        revision=revision,
        at=NOW - timedelta(days=revision),
    )


def scenario(seed: int, n: int = 160) -> list[EventData]:
    """Posts, re-tags, deletions, answers, votes that change, acceptances and their
    withdrawal, reactions, endorsements, private groups: many signals per source."""
    rng = random.Random(seed)
    out: list[EventData] = [
        GroupCreated(
            id="g1",
            slug="g1",
            name="G1",
            visibility="private",
            join_policy="invite",
            owner_id="ana",
            actor_id="ana",
            created_at=NOW,
        )
    ]
    answers: list[tuple[str, str, str, list[str]]] = []
    posts: list[tuple[str, str, str]] = []
    for i in range(n):
        at = NOW - timedelta(days=rng.randrange(400))
        who = rng.choice(PEOPLE)
        topics = rng.sample(TOPICS, rng.choice([1, 2]))
        r = rng.random()
        if r < 0.2 or not answers:
            qid, aid = f"q{i}", f"a{i}"
            place: dict[str, Any] = (
                {"audience": "group", "group_id": "g1", "group_visibility": "private"}
                if rng.random() < 0.2
                else {}
            )
            out.append(question(qid, "asker", topics, mentions=[who], **place))
            out.append(answer(aid, qid, "asker", who, topics, at=at, **place))
            answers.append((aid, qid, who, topics))
        elif r < 0.45:
            aid, qid, author, ts = rng.choice(answers)
            value = rng.choice([1, -1, 0])
            out.append(vote(aid, qid, author, rng.choice(PEOPLE), value, 0, ts, at=at))
        elif r < 0.55:
            aid, qid, author, ts = rng.choice(answers)
            out.append(accepted(aid, qid, "asker", author, ts, yes=rng.random() < 0.7, at=at))
        elif r < 0.6:
            aid, qid, author, ts = rng.choice(answers)
            out.append(
                AnswerDeleted(
                    id=aid,
                    question_id=qid,
                    question_author_id="asker",
                    author_id=author,
                    deleted_by=author,
                    topics=ts,
                    deleted_at=at,
                    audience="org",
                )
            )
        elif r < 0.72:
            pid, kind = f"p{i}", rng.choice(["article", "note", "resource"])
            out.append(post(pid, who, kind, topics, at=at))
            posts.append((pid, who, kind))
        elif r < 0.8 and posts:
            pid, author, kind = rng.choice(posts)
            out.append(
                PostUpdated(
                    id=pid,
                    kind=kind,  # type: ignore[arg-type]
                    author_id=author,
                    editor_id=author,
                    title=None,
                    text="edited",
                    topics=rng.sample(TOPICS, 1),
                    revision=2,
                    edited_at=at,
                    audience="org",
                    url="https://example.com/x" if kind == "resource" else None,
                )
            )
        elif r < 0.83 and posts:
            pid, author, kind = rng.choice(posts)
            out.append(
                PostDeleted(
                    id=pid,
                    kind=kind,  # type: ignore[arg-type]
                    author_id=author,
                    deleted_by=author,
                    deleted_at=at,
                    audience="org",
                )
            )
        elif r < 0.92 and posts:
            pid, author, _ = rng.choice(posts)
            out.append(reaction(pid, author, rng.choice(PEOPLE), on=rng.random() < 0.7))
        else:
            endorser, person = rng.sample(PEOPLE, 2)
            out.append(endorsement(endorser, person, rng.choice(TOPICS), i + 1, rng.random() < 0.7))
    return out


async def snapshot(h: Harness) -> dict[str, Any]:
    """What both paths must agree on; versions, timestamps and write ids are bookkeeping."""
    expertise = {}
    for d in await h.store.collection("expertise").find({}):
        expertise[d["_id"]] = {
            "score_ref": d["score_ref"],
            "hidden": d["hidden"],
            "public": d["public"],
            "private_groups": d["private_groups"],
            "evidence": d["evidence"],
            "contrib": {
                k: {f: v for f, v in c.items() if f != "v"} for k, c in d["contrib"].items()
            },
        }
    sources = {
        d["_id"]: {k: v for k, v in d.items() if k != "write_id"}
        for d in await h.store.collection("expertise_sources").find({})
    }
    local = {
        name: {d["_id"]: d for d in await h.store.collection(name).find({})}
        for name in ("questions", "answerers", "open_requests", "group_members")
    }
    # A person asked and answering in one batch: one by one, the request is added and
    # then pulled (an empty set is left); a batch records the answer first and never adds.
    local["open_requests"] = {k: d for k, d in local["open_requests"].items() if d["open"]}
    return {"expertise": expertise, "sources": sources, "local": local}


def assert_same(a: dict[str, Any], b: dict[str, Any], *, source_versions: bool = True) -> None:
    """Equal projections; sources equal too, their version counters unless told not to
    (a replay after a partial failure counts its updates again, and may reorder the
    set-like arrays; nothing else changes)."""
    if source_versions:
        assert a["sources"] == b["sources"]
    else:
        assert _as_sets(a["sources"]) == _as_sets(b["sources"])
    assert a["local"] == b["local"]
    assert a["expertise"].keys() == b["expertise"].keys()
    for doc_id, x in a["expertise"].items():
        y = b["expertise"][doc_id]
        assert approx(x["score_ref"], y["score_ref"]), doc_id
        assert x["hidden"] == y["hidden"], doc_id
        assert x["contrib"] == y["contrib"], doc_id
        assert x["evidence"] == y["evidence"], doc_id


def _as_sets(docs: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {f: sorted(v) if isinstance(v, list) else v for f, v in d.items() if f != "v"}
        for k, d in docs.items()
    }


async def setup_people(h: Harness) -> None:
    await add_people(
        h.store,
        *({"_id": p} for p in PEOPLE),
        {"_id": "asker"},
    )
    await h.store.collection("people").update_one(
        {"_id": "cy"}, {"$set": {"hidden_topics": ["sql"]}}
    )


def chunks(events: list[Any], size: int) -> list[list[Any]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


@pytest.mark.parametrize("size", [1, 7, 500])
async def test_a_batch_leaves_what_one_by_one_leaves(settings: CanteenSettings, size: int) -> None:
    events = scenario(seed=size)
    async with harness(twin(settings, "single")) as one, harness(twin(settings, "batch")) as many:
        await setup_people(one)
        await setup_people(many)
        await one.deliver(*events)
        for chunk in chunks(events, size):
            await many.deliver_batch(*chunk)
        expected, got = await snapshot(one), await snapshot(many)
        assert expected["expertise"], "the scenario must produce expertise"
        assert_same(expected, got)


async def test_reads_split_into_chunks_leave_the_same(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch touching more documents than one `$in` read asks for reads them in pieces."""
    monkeypatch.setattr(repository, "IN_CHUNK", 3)
    events = scenario(seed=11)
    async with harness(twin(settings, "single")) as one, harness(twin(settings, "batch")) as many:
        await setup_people(one)
        await setup_people(many)
        await one.deliver(*events)
        for chunk in chunks(events, 40):  # later batches read what earlier ones wrote
            await many.deliver_batch(*chunk)
        expected, got = await snapshot(one), await snapshot(many)
        assert len(expected["expertise"]) > 3 and len(expected["sources"]) > 3
        assert_same(expected, got)


async def test_redelivering_a_batch_changes_nothing(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await setup_people(h)
        events = await h.deliver_batch(*scenario(seed=3))
        first = {d["_id"]: d for d in await h.store.collection("expertise").find({})}
        before = await snapshot(h)
        await h.deliver_batch(*events)  # the same batch again: not even rewritten
        again = {d["_id"]: d for d in await h.store.collection("expertise").find({})}
        assert again == first
        # One by one, as the fallback would: intermediate states come and go again.
        for event in events:
            await h.dispatcher(event)
        after = await snapshot(h)
        assert after["expertise"] == before["expertise"]
        assert after["local"] == before["local"]


async def test_a_batch_failing_half_way_then_one_by_one_ends_the_same(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = scenario(seed=5)
    async with harness(twin(settings, "single")) as one, harness(twin(settings, "batch")) as many:
        await setup_people(one)
        await setup_people(many)
        await one.deliver(*events)
        # Sources are written, then half of the new projections, then the store fails.
        real = ExpertiseRepository.insert_projections

        async def half_then_fail(self: ExpertiseRepository, new: list[Any]) -> bool:
            assert len(new) > 1, "the scenario should create several projections"
            await real(self, new[: len(new) // 2])
            raise RuntimeError("store went away")

        monkeypatch.setattr(ExpertiseRepository, "insert_projections", half_then_fail)
        envelopes = [new_event(e) for e in events]
        with pytest.raises(RuntimeError, match="store went away"):
            await many.dispatcher.handle_batch(envelopes)
        monkeypatch.setattr(ExpertiseRepository, "insert_projections", real)
        for event in envelopes:  # what the bus does after a failed batch
            await many.dispatcher(event)
        assert_same(await snapshot(one), await snapshot(many), source_versions=False)


async def test_concurrent_batches_of_two_partitions_lose_nothing(
    settings: CanteenSettings,
) -> None:
    # ana answers in `go` on two partitions at once: both batches read her document
    # before either writes it, so one compare-and-swap loses and is redone.
    left = [answer(f"l{i}", f"ql{i}", "asker", "ana", ["go"]) for i in range(20)]
    right = [answer(f"r{i}", f"qr{i}", "asker", "ana", ["go"]) for i in range(20)]
    right += [accepted(f"r{i}", f"qr{i}", "asker", "ana", ["go"]) for i in range(5)]
    async with harness(twin(settings, "single")) as one, harness(twin(settings, "batch")) as many:
        await setup_people(one)
        await setup_people(many)
        await one.deliver(*left, *right)
        await asyncio.gather(many.deliver_batch(*left), many.deliver_batch(*right))
        assert_same(await snapshot(one), await snapshot(many))
        doc = await many.expertise("ana", "go")
        assert doc is not None and len(doc["contrib"]) == 40


def race_after_first(
    monkeypatch: pytest.MonkeyPatch, read: str, race: Callable[[], Awaitable[None]]
) -> asyncio.Event:
    """Make the repository's first `read` run `race` after reading, before returning; the
    event is set once it has."""
    real = getattr(ExpertiseRepository, read)
    raced = asyncio.Event()

    async def read_then_race(self: ExpertiseRepository, ids: list[str]) -> Any:
        found = await real(self, ids)
        if not raced.is_set():
            raced.set()
            await race()
        return found

    monkeypatch.setattr(ExpertiseRepository, read, read_then_race)
    return raced


@pytest.mark.parametrize("read", ["sources_by_id", "expertise_by_id"])
async def test_a_document_created_by_another_writer_after_the_batch_read_it(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    # The batch reads its sources (or ana's `go` document) as missing; before it inserts
    # them, the one-by-one path delivers the batch's first answer, creating both. The
    # batch's insert clashes; it reads again and ends where one-by-one delivery ends.
    batch = [answer(f"b{i}", f"qb{i}", "asker", "ana", ["go"]) for i in range(5)]
    async with harness(twin(settings, "single")) as one, harness(twin(settings, "batch")) as many:
        await setup_people(one)
        await setup_people(many)
        await one.deliver(*batch)
        raced = race_after_first(monkeypatch, read, lambda: many.deliver(batch[0]))
        await many.deliver_batch(*batch)
        assert raced.is_set()
        assert_same(await snapshot(one), await snapshot(many), source_versions=False)
        doc = await many.expertise("ana", "go")
        assert doc is not None and len(doc["contrib"]) == 5


@pytest.mark.parametrize("read", ["sources_by_id", "expertise_by_id"])
async def test_a_document_changed_by_another_writer_after_the_batch_read_it(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    # The batch's votes update existing sources and ana's existing `go` document in one
    # round trip each. Between its read and that write, the one-by-one path applies a
    # vote on a2: the bulk falls short; only what did not land is folded again.
    answers = [answer(f"a{i}", f"q{i}", "asker", "ana", ["go"]) for i in range(5)]
    votes = [vote(f"a{i}", f"q{i}", "ana", "bob", 1, 0, ["go"]) for i in range(5)]
    extra = vote("a2", "q2", "ana", "cy", 1, 0, ["go"])
    async with harness(twin(settings, "single")) as one, harness(twin(settings, "batch")) as many:
        await setup_people(one)
        await setup_people(many)
        await one.deliver(*answers, extra, *votes)
        await many.deliver(*answers)
        raced = race_after_first(monkeypatch, read, lambda: many.deliver(extra))
        short: list[str] = []
        for name in ("replace_sources", "write_projections"):
            bulk = getattr(ExpertiseRepository, name)

            async def recorded(self: ExpertiseRepository, items: Any, _b: Any = bulk) -> bool:
                ok: bool = await _b(self, items)
                if not ok:
                    short.append(_b.__name__)
                return ok

            monkeypatch.setattr(ExpertiseRepository, name, recorded)
        await many.deliver_batch(*votes)
        assert raced.is_set() and short, "the race did not make a bulk write fall short"
        assert_same(await snapshot(one), await snapshot(many), source_versions=False)
        source = await many.store.collection("expertise_sources").find_one({"_id": "answer:a2"})
        assert source is not None and sorted(source["up"]) == ["bob", "cy"]
        doc = await many.expertise("ana", "go")
        assert doc is not None and len(doc["contrib"]) == 5


async def test_answerers_kept_on_questions_before_move_to_their_collection(
    settings: CanteenSettings,
) -> None:
    async with profiles_store(settings) as store:
        await store.collection("questions").insert_one(
            {"_id": "old-q", "author_id": "cy", "deleted": False, "answered_by": ["ana", "bob"]}
        )
        local = LocalCopies(store)
        await local.prepare()
        await local.prepare()  # a second start finds nothing left to move

        assert await local.answerers_of(["old-q"]) == {"old-q": {"ana", "bob"}}
        question = await store.collection("questions").find_one({"_id": "old-q"})
        assert question is not None and "answered_by" not in question
        assert await local.answered_by("old-q", ["bob", "dee"]) == {"bob"}
