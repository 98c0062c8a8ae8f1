"""Relevance on a generated Q&A corpus (seeded): nDCG@10 >= 0.7, expert precision@5.

The corpus is fed by calling the consumer's handlers directly (a bulk corpus; the bus path
is covered by the other tests), then the index relay flushes it; queries go through the
search use case with a caller who sees everything public.
"""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from services.search.context import SearchContext
from services.search.domain.query import parse_query
from services.search.indexing.handlers import build_dispatcher
from services.search.querying.discovery import DiscoveryService
from services.search.querying.service import SearchParams, SearchService
from shared.events.envelope import new_event
from shared.events.schemas import profiles as pr
from shared.events.schemas import profiles_expertise as pe
from shared.events.schemas.activity import discussion as d
from shared.events.schemas.activity import posts as p

TOPICS = {
    "kubernetes": "pod deployment helm ingress kubelet node",
    "postgres": "vacuum index replication query planner wal",
    "kafka": "partition consumer broker offset producer topic",
    "python": "asyncio typing packaging pip decorator generator",
    "react": "component hooks state render props jsx",
    "terraform": "module provider state plan apply drift",
    "security": "vulnerability patch cve secrets encryption audit",
    "observability": "tracing metrics dashboards alerting logs spans",
    "networking": "dns latency firewall routing subnet bgp",
    "testing": "fixtures mocking coverage flaky assertions pytest",
    "design": "typography figma prototype wireframe palette layout",
    "hiring": "interview candidate offer onboarding recruiter loop",
    "finance": "budget invoice expense forecast payroll ledger",
    "legal": "contract compliance gdpr license clause liability",
    "sales": "pipeline quota prospect renewal discount crm",
    "marketing": "campaign newsletter seo audience brand launch",
    "mobile": "android ios swift kotlin appstore push",
    "rust": "borrow lifetime cargo trait ownership crate",
    "golang": "goroutine channel interface module gofmt context",
    "java": "jvm spring garbage maven bytecode hotspot",
    "datascience": "pandas regression notebook feature dataset model",
    "ml": "training gradient embedding transformer inference gpu",
    "accessibility": "screenreader contrast aria keyboard captions wcag",
    "ux": "research persona usability journey interview survey",
    "devex": "tooling monorepo build cache lint editor",
    "incidents": "postmortem outage pager oncall severity rollback",
    "cloud": "region bucket iam autoscaling quota billing",
    "linux": "kernel systemd cgroups filesystem permissions shell",
    "git": "rebase merge branch commit bisect cherrypick",
    "product": "roadmap discovery metrics okr backlog prioritization",
}
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def corpus(rng: random.Random) -> tuple[list[Any], dict[str, dict[str, int]]]:
    """Events, and per query the graded judgements (3 exact, 2 on topic, 1 mentions)."""
    events: list[Any] = []
    judgements: dict[str, dict[str, int]] = {}
    names = list(TOPICS)
    for t_index, (topic, vocab) in enumerate(TOPICS.items()):
        words = vocab.split()
        query = f"{words[0]} {words[1]}"
        grades = judgements.setdefault(query, {})
        for i in range(8):
            pid = f"{topic}-{i}"
            other = TOPICS[rng.choice(names)].split()
            picked = rng.sample(words, 3) if i >= 2 else [words[0], words[1], rng.choice(words[2:])]
            title = " ".join(picked) + " question"
            text = " ".join(rng.choices(words, k=8) + rng.choices(other, k=4))
            kind = "question" if i % 3 else ("resource" if i % 2 else "article")
            events.append(
                p.PostCreated(
                    id=pid,
                    kind=kind,
                    author_id=f"u{t_index}",
                    audience="org",
                    title=title,
                    text=text,
                    topics=[topic],
                    created_at=T0 + timedelta(hours=rng.randint(0, 500)),
                    url="https://example.org/r" if kind == "resource" else None,
                    resource_type="article" if kind == "resource" else None,
                )
            )
            if kind == "question":
                events.append(
                    d.AnswerCreated(
                        id=f"{pid}-a",
                        question_id=pid,
                        question_author_id=f"u{t_index}",
                        author_id="helper",
                        audience="org",
                        text=" ".join(rng.choices(words, k=6)),
                        created_at=T0,
                    )
                )
            both_in_title = words[0] in picked and words[1] in picked
            grades[pid] = 3 if both_in_title else 2
        # Noise: other topics' posts that mention one query word in passing.
        for j in range(3):
            nid = f"noise-{topic}-{j}"
            host = rng.choice([n for n in names if n != topic])
            text = " ".join(TOPICS[host].split()[:4]) + f" and a note on {words[0]}"
            events.append(
                p.PostCreated(
                    id=nid,
                    kind="note",
                    author_id="noise",
                    audience="org",
                    text=text,
                    topics=[host],
                    created_at=T0,
                )
            )
            grades[nid] = 1
    return events, judgements


def ndcg_at_10(ranked: list[str], grades: dict[str, int]) -> float:
    def dcg(rels: list[int]) -> float:
        return sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(rels[:10]))

    ideal = dcg(sorted(grades.values(), reverse=True))
    return dcg([grades.get(doc, 0) for doc in ranked]) / ideal if ideal else 0.0


async def feed(ctx: SearchContext, payloads: list[Any]) -> None:
    """Handle every event (32 at a time, as several partitions would), then flush the relay."""
    dispatcher = build_dispatcher(ctx.projections, lambda name: None)
    gate = asyncio.Semaphore(32)

    async def handle(payload: Any) -> None:
        async with gate:
            await dispatcher(new_event(payload))

    await asyncio.gather(*(handle(payload) for payload in payloads))
    while await ctx.relay.flush_once():
        pass
    for family in ("posts", "resources", "people", "groups"):
        await ctx.index.refresh(ctx.indexes.alias(family))


async def test_ndcg_at_10_on_a_generated_qa_corpus(ctx: SearchContext) -> None:
    events, judgements = corpus(random.Random(20261130))
    await feed(ctx, events)
    service = SearchService(ctx.index, ctx.indexes, ctx.projections)
    scores = {}
    for query, grades in judgements.items():
        params = SearchParams(parsed=parse_query(query), type="post", limit=10)
        result = await service.search("reader", params)
        scores[query] = ndcg_at_10([h["id"] for h in result.hits], grades)
    mean = sum(scores.values()) / len(scores)
    print(f"\nnDCG@10 over {len(scores)} queries: {mean:.3f} (min {min(scores.values()):.3f})")
    assert mean >= 0.7, scores


async def test_expert_precision_at_5(ctx: SearchContext) -> None:
    rng = random.Random(7)
    payloads: list[Any] = []
    truth: dict[str, set[str]] = {}
    for topic in list(TOPICS)[:10]:
        truth[topic] = set()
        for k in range(12):
            pid = f"{topic}-p{k}"
            payloads.append(pr.PersonCreated(id=pid, handle=pid, display_name=f"Person {pid}"))
            expert = k < 5
            hidden = k == 5  # the strongest of all, but hidden: never shown
            score = rng.uniform(50, 100) if expert else rng.uniform(1, 40)
            score = 500.0 if hidden else score
            if expert:
                truth[topic].add(pid)
            payloads.append(
                pe.ExpertiseChanged(
                    id=f"{pid}:{topic}",
                    person_id=pid,
                    topic_id=topic,
                    score=score,
                    score_ref=score,
                    hidden=hidden,
                    at=T0,
                )
            )
    await feed(ctx, payloads)
    service = DiscoveryService(SearchService(ctx.index, ctx.indexes, ctx.projections))
    precisions = []
    for topic, experts in truth.items():
        top = [e["id"] for e in await service.experts("reader", topic, 5)]
        precisions.append(len(set(top) & experts) / 5)
    mean = sum(precisions) / len(precisions)
    print(f"\nexpert precision@5 over {len(precisions)} topics: {mean:.3f}")
    assert mean >= 0.9
