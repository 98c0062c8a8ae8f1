"""The batched projection: a whole batch of scoring events in a few reads and writes.

The per-event path costs 3-5 store round trips per event (source update, expertise read,
people read, expertise write). Here a batch of one partition's events, in offset order:

1. groups the signals per source and reads every touched source at once (`$in` by `_id`);
   applies each source's updates in memory, in order, with the store's own update rules
   (`shared.store.update.apply_update`, pinned to MongoDB's by the contract suite), and
   writes each source once;
2. re-derives each touched source's contribution from its final state (and each
   endorsement's), grouped per (person, topic) document;
3. reads every touched expertise document at once, folds the contributions in with the
   same pure `domain.project` the per-event path uses (`domain.project_all`), and writes
   each document once.

New sources and new expertise documents (most of a batch: every answer and article is a
new source) go in one `insert_many` per collection instead of one insert each; on
FerretDB, where every write is a round trip serialised per collection, that is most of a
batch's cost.

Concurrency: the same answer can change on another partition (acceptances travel under
the question's key) and the same (person, topic) from any partition, or from the skills
feature's endorsements. Every write is a compare-and-swap on the document's version `v`
(see `ExpertiseRepository.write_projection` for why not `$inc`); a loser re-reads just
the documents it lost and recomputes them, so no update is lost.

Idempotency: source updates are set-like, and a contribution is stored per source with the
source's version; one that is already there unchanged is not written again. So
redelivering a batch, or its events one by one after a partial failure, leaves the same
scores and evidence. What differs from the per-event path is bookkeeping only: a source's
contribution carries the version of its last state in the batch, the documents' own `v`
grows once per batch, and `expertise.changed` is decided once per document per batch
(the final score against the last published one), so fewer intermediate events go out.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from services.profiles.expertise import domain
from services.profiles.expertise.repository import (
    MAX_ATTEMPTS,
    ExpertiseRepository,
    versioned,
)
from services.profiles.expertise.scorer import endorsement_source
from services.profiles.expertise.signals import Signal
from shared.store.query import validate_update
from shared.store.update import apply_update

log = structlog.get_logger()

DocKey = tuple[str, str]  # (person_id, topic)


@dataclass(frozen=True)
class Endorsed:
    endorser_id: str
    person_id: str
    skill_id: str
    active: bool
    at: datetime
    revision: int


class BatchScorer:
    def __init__(self, repo: ExpertiseRepository) -> None:
        self._repo = repo

    async def apply(self, signals: list[Signal], endorsements: list[Endorsed]) -> None:
        """Apply signals and endorsements (each list in offset order) to the projections."""
        updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for source_id, update in signals:
            updates[source_id].append(validate_update(versioned(source_id, update)))
        sources = await self._fold_sources(dict(updates))
        steps: dict[DocKey, list[domain.Step]] = defaultdict(list)
        h = self._repo.half_life_days
        for source_id, src in sources.items():
            author_id = src.get("author_id")
            if not author_id:
                continue
            contribution = domain.source_contribution(source_id, src, h)
            key = domain.source_key(source_id)
            current = set(src.get("topics", []))
            for topic in src.get("topics_all", []):
                counted = contribution if topic in current else None
                steps[(author_id, topic)].append((key, counted, src["v"]))
        for e in endorsements:
            key = domain.source_key(endorsement_source(e.endorser_id, e.person_id, e.skill_id))
            contribution = domain.endorsement_contribution(e.endorser_id, e.active, e.at, h)
            steps[(e.person_id, e.skill_id)].append((key, contribution, e.revision))
        await self._project(dict(steps))
        log.debug(
            "profiles.expertise.batch_applied",
            signals=len(signals),
            endorsements=len(endorsements),
            sources=len(sources),
            documents=len(steps),
        )

    async def _fold_sources(
        self, updates: dict[str, list[dict[str, Any]]]
    ) -> dict[str, dict[str, Any]]:
        """Each source's state after its updates, written once; lost races are redone."""
        done: dict[str, dict[str, Any]] = {}
        pending = updates
        # The replacements go in one round trip, which reports only how many matched; each
        # carries a fresh `write_id`, so the next read tells which of them landed.
        tried: dict[str, str] = {}
        for _ in range(MAX_ATTEMPTS):
            current = await self._repo.sources_by_id(list(pending)) if pending else {}
            landed = {s for s, w in tried.items() if current.get(s, {}).get("write_id") == w}
            done.update((sid, current[sid]) for sid in landed)
            pending = {sid: ups for sid, ups in pending.items() if sid not in landed}
            if not pending:
                return done
            folded = {sid: _fold(sid, current.get(sid), ups) for sid, ups in pending.items()}
            created = [sid for sid in folded if sid not in current]
            changed = [sid for sid in folded if sid in current]
            # New sources in one insert (most signals create their source); if another
            # writer created one meanwhile, all of them are read again next round.
            if await self._repo.insert_sources([folded[sid] for sid in created]):
                done.update((sid, folded[sid]) for sid in created)
            tried = {sid: uuid.uuid4().hex for sid in changed}
            for sid in changed:
                folded[sid]["write_id"] = tried[sid]
            if await self._repo.replace_sources([(current[sid], folded[sid]) for sid in changed]):
                done.update((sid, folded[sid]) for sid in changed)
                tried = {}
            pending = {sid: ups for sid, ups in pending.items() if sid not in done}
        raise RuntimeError("expertise sources kept changing; giving up (will be retried)")

    async def _project(self, steps: dict[DocKey, list[domain.Step]]) -> None:
        pending = steps
        for _ in range(MAX_ATTEMPTS):
            if not pending:
                return
            docs = await self._repo.expertise_by_id([f"{p}:{t}" for p, t in pending])
            new_people = {p for p, t in pending if f"{p}:{t}" not in docs}
            # Read before the insert; `insert_projections` reads it again after and marks
            # what a hide (or show) changed in between.
            hidden = await self._repo.hidden_topics(new_people)
            created: list[tuple[str, str, domain.Projected, bool]] = []
            writes = []
            for (person_id, topic), doc_steps in pending.items():
                doc = docs.get(f"{person_id}:{topic}")
                projected = domain.project_all(doc, doc_steps)
                if projected is None:
                    continue
                if doc is None:
                    is_hidden = topic in hidden.get(person_id, set())
                    created.append((person_id, topic, projected, is_hidden))
                    continue
                is_hidden = bool(doc["hidden"])
                writes.append(((person_id, topic), (person_id, topic, doc, projected, is_hidden)))
            lost: set[DocKey] = set()
            if not await self._repo.insert_projections(created):
                lost.update((p, t) for p, t, _, _ in created)
            # One round trip for all; if it falls short, all are read again: re-projecting
            # one that was written is a no-op (its sources' versions are already there).
            if not await self._repo.write_projections([args for _, args in writes]):
                lost.update(key for key, _ in writes)
            pending = {key: s for key, s in pending.items() if key in lost}
        raise RuntimeError("expertise documents kept changing; giving up (will be retried)")


def _fold(source_id: str, doc: dict[str, Any] | None, updates: list[dict[str, Any]]) -> Any:
    """A source's state after `updates`, as the store would leave it (upserting if new)."""
    state = doc
    for update in updates:
        if state is None:
            seeded = apply_update({"_id": source_id}, update, inserting=True)
            state = {"_id": source_id, **{k: v for k, v in seeded.items() if k != "_id"}}
        else:
            state = apply_update(state, update)
    return state
