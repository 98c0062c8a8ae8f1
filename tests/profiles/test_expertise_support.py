"""Helpers of the skills and expertise tests: people written straight into the profiles
store (the people feature owns them), activity events built as the activity service would
publish them, and a harness that runs the expertise consumer's handlers directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.profiles.context import ProfilesContext, ProfilesOptions
from services.profiles.expertise import install, repository_for
from services.profiles.expertise.batch import BatchScorer
from services.profiles.expertise.handlers import build_dispatcher
from services.profiles.expertise.local import LocalCopies
from services.profiles.expertise.scorer import Scorer
from services.profiles.expertise.service import ExpertiseService
from shared.backends import make_bus
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event, EventData, new_event
from shared.events.schemas import activity, profiles
from shared.events.schemas.activity.discussion import AnswerAccepted, AnswerCreated, VoteSet
from shared.events.schemas.activity.posts import PostCreated
from shared.http.auth.principal import Principal
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.support import service_store

PROBLEM = "application/problem+json"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@asynccontextmanager
async def profiles_store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    """A second connection to the profiles service's own store."""
    async with service_store(settings, "profiles") as store:
        yield store


async def add_people(store: DocumentStore, *people: dict[str, Any]) -> None:
    """`people` documents (shape of docs/profiles.md), defaults filled in."""
    now = datetime.now(UTC)
    docs = [
        {
            "handle": p["_id"].lower(),
            "display_name": p["_id"].title(),
            "active": True,
            "hidden_topics": [],
            "department": None,
            "created_at": now,
            "updated_at": now,
        }
        | p
        for p in people
    ]
    await store.collection("people").insert_many(docs)


async def publish(settings: CanteenSettings, *payloads: EventData) -> list[Event]:
    """Publish events on their topic, as their producing service would."""
    bus = make_bus(settings, "test-publisher", topics=[profiles.TOPIC, activity.TOPIC])
    await bus.start()
    events = [new_event(p) for p in payloads]
    try:
        await bus.publish_batch([(p.topic, e) for p, e in zip(payloads, events, strict=True)])
    finally:
        await bus.close()
    return events


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    """The expertise feature on a store, with an injectable clock, without the bus."""

    store: DocumentStore
    clock: Clock
    dispatcher: EventDispatcher
    service: ExpertiseService
    scorer: Scorer
    delivered: list[Event] = field(default_factory=list)

    async def deliver(self, *payloads: EventData | Event) -> list[Event]:
        events = [p if isinstance(p, Event) else new_event(p) for p in payloads]
        for event in events:
            await self.dispatcher(event)
            self.delivered.append(event)
        return events

    async def deliver_batch(self, *payloads: EventData | Event) -> list[Event]:
        """Through the batched path, as the bus hands a partition's batch to it."""
        events = [p if isinstance(p, Event) else new_event(p) for p in payloads]
        await self.dispatcher.handle_batch(events)
        self.delivered.extend(events)
        return events

    async def expertise(self, person_id: str, topic: str) -> dict[str, Any] | None:
        return await self.store.collection("expertise").find_one({"_id": f"{person_id}:{topic}"})


@asynccontextmanager
async def harness(
    settings: CanteenSettings, *, half_life_days: float = 180.0
) -> AsyncIterator[Harness]:
    async with profiles_store(settings) as store:
        clock = Clock()
        ctx = ProfilesContext(
            store=store, options=ProfilesOptions(expertise_half_life_days=half_life_days)
        )
        feature = install(ctx, clock=clock)
        for step in feature.setup:
            await step()
        repo = repository_for(ctx, clock)
        local = LocalCopies(store)
        yield Harness(
            store=store,
            clock=clock,
            dispatcher=build_dispatcher(Scorer(repo), local, BatchScorer(repo)),
            service=ExpertiseService(repo, local, store, clock=clock),
            scorer=Scorer(repo),
        )


def me(user_id: str) -> Principal:
    return Principal(user_id=user_id)


def question(
    qid: str, author: str, topics: list[str], *, at: datetime = NOW, **extra: Any
) -> PostCreated:
    fields: dict[str, Any] = {"audience": "org", "title": f"Q {qid}", "text": "?"} | extra
    return PostCreated(
        id=qid, kind="question", author_id=author, topics=topics, created_at=at, **fields
    )


def post(
    pid: str, author: str, kind: str, topics: list[str], *, at: datetime = NOW, **extra: Any
) -> PostCreated:
    fields: dict[str, Any] = {"audience": "org", "text": "body"} | extra
    return PostCreated(
        id=pid,
        kind=kind,  # type: ignore[arg-type]
        author_id=author,
        topics=topics,
        created_at=at,
        url="https://example.com/x" if kind == "resource" else None,
        **fields,
    )


def answer(
    aid: str, qid: str, asker: str, author: str, topics: list[str], *, at: datetime = NOW, **x: Any
) -> AnswerCreated:
    return AnswerCreated(
        id=aid,
        question_id=qid,
        question_author_id=asker,
        author_id=author,
        topics=topics,
        text="answer",
        created_at=at,
        **({"audience": "org"} | x),
    )


def accepted(
    aid: str,
    qid: str,
    asker: str,
    author: str,
    topics: list[str],
    *,
    yes: bool = True,
    at: datetime = NOW,
    **x: Any,
) -> AnswerAccepted:
    return AnswerAccepted(
        question_id=qid,
        answer_id=aid,
        answer_author_id=author,
        asker_id=asker,
        accepted=yes,
        decided_by=asker,
        topics=topics,
        at=at,
        **({"audience": "org"} | x),
    )


def vote(
    aid: str,
    qid: str,
    author: str,
    voter: str,
    value: int,
    previous: int,
    topics: list[str],
    *,
    at: datetime = NOW,
    **x: Any,
) -> VoteSet:
    return VoteSet(
        answer_id=aid,
        answer_author_id=author,
        question_id=qid,
        voter_id=voter,
        value=value,  # type: ignore[arg-type]
        previous_value=previous,  # type: ignore[arg-type]
        topics=topics,
        at=at,
        **({"audience": "org"} | x),
    )


def approx(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


Probe = Callable[[], Any]
