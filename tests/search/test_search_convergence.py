"""At-least-once and out of order: a shuffled, duplicated replay converges to the same index."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.events import Event
from shared.events.envelope import new_event
from shared.events.schemas.activity import discussion as d
from shared.events.schemas.activity import posts as p
from tests.conftest import Login
from tests.search.conftest import Publish
from tests.support import eventually

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def history() -> list[Event]:
    """A question edited and answered (one answer deleted, one edited, accepted); a note deleted."""
    payloads: list[Any] = [
        p.PostCreated(
            id="q",
            kind="question",
            author_id="a",
            audience="org",
            title="Old title",
            text="original body",
            created_at=T0,
        ),
        p.PostUpdated(
            id="q",
            kind="question",
            author_id="a",
            editor_id="a",
            audience="org",
            title="Quokka question",
            text="edited body",
            revision=2,
            edited_at=T0,
        ),
        d.AnswerCreated(
            id="a1",
            question_id="q",
            question_author_id="a",
            author_id="b",
            audience="org",
            text="wombat answer",
            created_at=T0,
        ),
        d.AnswerCreated(
            id="a2",
            question_id="q",
            question_author_id="a",
            author_id="c",
            audience="org",
            text="first draft",
            created_at=T0,
        ),
        d.AnswerUpdated(
            id="a2",
            question_id="q",
            question_author_id="a",
            author_id="c",
            editor_id="c",
            audience="org",
            text="numbat answer",
            revision=2,
            edited_at=T0,
        ),
        d.AnswerDeleted(
            id="a1",
            question_id="q",
            question_author_id="a",
            author_id="b",
            deleted_by="b",
            audience="org",
            deleted_at=T0,
        ),
        d.AnswerAccepted(
            question_id="q",
            answer_id="a2",
            answer_author_id="c",
            asker_id="a",
            accepted=True,
            decided_by="a",
            audience="org",
            at=T0,
        ),
        p.PostCreated(
            id="n", kind="note", author_id="a", audience="org", text="quokka note", created_at=T0
        ),
        p.PostDeleted(
            id="n", kind="note", author_id="a", deleted_by="a", audience="org", deleted_at=T0
        ),
    ]
    events = []
    for i, payload in enumerate(payloads):
        e = new_event(payload)
        events.append(e.model_copy(update={"time": T0 + timedelta(seconds=i)}))
    return events


async def test_shuffled_duplicated_replay_converges(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("viewer")
    events = history()
    replay = events * 3
    random.Random(7).shuffle(replay)
    await publish(*replay)

    async def probe() -> dict[str, Any]:
        view: dict[str, Any] = {}
        for word in ("quokka", "numbat", "wombat", "original", "draft"):
            r = await client.get("/api/v1/search", params={"q": word}, headers=auth)
            view[word] = [(h["id"], h["title"], h["state"]) for h in r.json()["items"]]
        return view

    # Every duplicate and every late event applied: the newest state, the deleted note gone.
    expected = [("q", "Quokka question", "answered")]
    final = {"quokka": expected, "numbat": expected, "wombat": [], "original": [], "draft": []}
    assert await eventually(probe, until=lambda v: v == final) == final
