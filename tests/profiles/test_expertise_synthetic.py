"""A synthetic organisation with planted experts: does `/experts?topic=` find them?

200 people, 40 topics, 5 true experts per topic; 600 questions with ~1,700 answers, votes,
acceptances and 300 noise posts (seeded RNG). The events go through the consumer's real
batched path (the dispatcher's `handle_batch`, validated against the registry) directly,
in batches as the bus hands them over, phase by phase so each key's events keep their
order; the bus path is covered by tests/profiles/test_expertise_routes.py, the batched
path's equality with the per-event one by tests/profiles/test_expertise_batch.py. Reads go
through HTTP.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta

import httpx

from services.profiles.expertise.repository import EXPERTISE_BATCH
from shared.events.envelope import EventData
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_expertise_support import (
    NOW,
    accepted,
    add_people,
    answer,
    harness,
    post,
    question,
    vote,
)

PEOPLE, TOPICS, EXPERTS_PER_TOPIC, QUESTIONS_PER_TOPIC = 200, 40, 5, 15
# What the expertise subscription hands its batch handler at most (`max_batch`).
BATCH = EXPERTISE_BATCH


def organisation(
    seed: int = 7, questions_per_topic: int = QUESTIONS_PER_TOPIC, noise: int = 300, run: str = ""
) -> tuple[dict[str, set[str]], list[list[EventData]]]:
    """Planted experts per topic, and the events in phases (each key once per phase).

    `run` suffixes every id and topic (the draws stay the same): on Kafka and FerretDB
    other runs' documents and events must never count."""
    rng = random.Random(seed)
    people = [f"u{i:03d}{run}" for i in range(PEOPLE)]
    topics = [f"topic-{t:02d}{run}" for t in range(TOPICS)]
    experts = {
        topic: {people[(t * EXPERTS_PER_TOPIC + k) % PEOPLE] for k in range(EXPERTS_PER_TOPIC)}
        for t, topic in enumerate(topics)
    }
    posts: list[EventData] = []
    answers: list[EventData] = []
    votes: list[EventData] = []
    accepts: list[EventData] = []
    n = 0
    for topic in topics:
        pros = sorted(experts[topic])
        for _ in range(questions_per_topic):
            n += 1
            at = NOW - timedelta(days=rng.uniform(0, 365))
            qtopics = [topic] + ([rng.choice(topics)] if rng.random() < 0.2 else [])
            qtopics = list(dict.fromkeys(qtopics))
            asker = rng.choice(people)
            qid = f"q{n}{run}"
            posts.append(question(qid, asker, qtopics, at=at))
            answerers = [
                rng.choice(pros) if rng.random() < 0.8 else rng.choice(people),
                rng.choice(pros) if rng.random() < 0.6 else rng.choice(people),
                rng.choice(people),
            ]
            answerers = [a for a in dict.fromkeys(answerers) if a != asker]
            ids = []
            for k, who in enumerate(answerers):
                aid = f"{qid}a{k}"
                ids.append((aid, who))
                answers.append(answer(aid, qid, asker, who, qtopics, at=at + timedelta(hours=k)))
                ups = rng.randint(1, 3) if who in pros else rng.randint(0, 1)
                for v in range(ups):
                    votes.append(vote(aid, qid, who, f"voter{v}", 1, 0, qtopics, at=at))
                if who not in pros and rng.random() < 0.3:
                    votes.append(vote(aid, qid, who, "critic", -1, 0, qtopics, at=at))
            if ids:
                pro_answers = [(a, w) for a, w in ids if w in pros]
                aid, who = pro_answers[0] if pro_answers and rng.random() < 0.9 else rng.choice(ids)
                accepts.append(accepted(aid, qid, asker, who, qtopics, at=at + timedelta(days=1)))
    for i in range(noise):
        kind = rng.choice(["note", "note", "note", "article", "resource"])
        at = NOW - timedelta(days=rng.uniform(0, 365))
        posts.append(post(f"n{i}{run}", rng.choice(people), kind, [rng.choice(topics)], at=at))
    phases = [posts, answers, votes, accepts]
    for phase in phases:
        # Interleave topics, as real traffic does (and as partitions would).
        rng.shuffle(phase)
    return experts, phases


async def test_planted_experts_are_found(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    run = uuid.uuid4().hex[:8]
    experts, phases = organisation(run=run)
    total = sum(len(p) for p in phases)
    started = time.monotonic()
    async with harness(settings) as h:
        await add_people(h.store, *({"_id": f"u{i:03d}{run}"} for i in range(PEOPLE)))
        for phase in phases:
            # Batches in offset order, as one partition hands them over; a phase goes in
            # whole before the next, so each key's events keep their order.
            for start in range(0, len(phase), BATCH):
                await h.deliver_batch(*phase[start : start + BATCH])
    fed = time.monotonic() - started
    viewer = await login(f"u000{run}")
    precisions = []
    for topic, planted in sorted(experts.items()):
        response = await client.get(f"/api/v1/experts?topic={topic}&limit=5", headers=viewer)
        assert response.status_code == 200, response.text
        top = [e["person_id"] for e in response.json()]
        assert len(top) == 5, topic
        precisions.append(len(set(top) & planted) / 5)
    precision = sum(precisions) / len(precisions)
    print(
        f"\nsynthetic org: {total} events fed in {fed:.1f}s ({total / fed:.0f}/s), "
        f"precision@5 over {TOPICS} topics = {precision:.3f}"
    )
    assert precision >= 0.8
