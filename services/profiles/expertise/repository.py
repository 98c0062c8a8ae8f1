"""Expertise documents and the sources they are derived from, through the DocumentStore.

A source document (`expertise_sources`) holds the current state of one post, answer or
endorsement as far as scoring cares, updated by set-like operations that are idempotent
(`$set`, `$addToSet`, `$pull`) and versioned (`v`). Projecting it into the expertise
documents is a compare-and-swap on each document's own version (`v`), carrying the
`expertise.changed` event in the same write: one atomic single-document write each, so a
crash between two writes leaves nothing half-applied that the redelivered event does not
redo exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import structlog

from services.profiles.expertise import domain
from shared.events.envelope import new_event
from shared.events.schemas.profiles_expertise import ExpertiseChanged
from shared.outbox import insert_with_events, update_with_events
from shared.settle import settle
from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection, DocumentStore
from shared.store.reads import find_by_ids

log = structlog.get_logger()

EXPERTISE = "expertise"
SOURCES = "expertise_sources"
PEOPLE = "people"
SKILLS = "skills"  # the skills feature's taxonomy (docs/profiles.md), read only
MAX_ATTEMPTS = 100
# The most events the consumer hands the batched path at once (see `install`).
EXPERTISE_BATCH = 2000
# The most ids one `$in` read asks for: a whole batch's sources in one read, and a bounded
# command however many topics the events carry.
IN_CHUNK = EXPERTISE_BATCH
# What reads need of an expertise document (`public` and `private_groups`: who may see it).
READ_FIELDS = [
    "_id",
    "person_id",
    "topic",
    "score_ref",
    "evidence",
    "hidden",
    "public",
    "private_groups",
]


def versioned(source_id: str, update: dict[str, Any]) -> dict[str, Any]:
    """A signal's update as applied to its source: one more version, `ref_id` on insert."""
    on_insert = {**update.get("$setOnInsert", {}), "ref_id": source_id.split(":", 1)[1]}
    return {**update, "$inc": {"v": 1}, "$setOnInsert": on_insert}


class ExpertiseRepository:
    def __init__(
        self,
        store: DocumentStore,
        *,
        half_life_days: float,
        clock: Callable[[], datetime],
        on_events: Callable[[], None] = lambda: None,
    ) -> None:
        self._expertise = store.collection(EXPERTISE)
        self._sources = store.collection(SOURCES)
        self._people = store.collection(PEOPLE)
        self._skills = store.collection(SKILLS)
        self.half_life_days = half_life_days
        self.clock = clock
        self._on_events = on_events

    async def prepare(self) -> None:
        await self._expertise.create_index([("topic", 1), ("score_ref", -1), ("_id", 1)])
        await self._expertise.create_index([("person_id", 1), ("score_ref", -1)])
        # A group's or a question's change of state reaches the sources under it.
        await self._sources.create_index([("group_id", 1)])
        await self._sources.create_index([("question_id", 1)])

    async def source_ids(self, filter: dict[str, Any]) -> list[str]:
        """The ids of the sources matching `filter` (the posts of a group, say)."""
        return [d["_id"] for d in await self._sources.find(filter, projection=[])]

    async def update_source(self, source_id: str, update: dict[str, Any]) -> dict[str, Any]:
        """Apply a set-like update to a source (created if new); its new state."""
        update = versioned(source_id, update)
        doc = await self._sources.find_one_and_update({"_id": source_id}, update, upsert=True)
        assert doc is not None
        return doc

    async def project(
        self,
        person_id: str,
        topics: list[str],
        source_id: str,
        contribution: Callable[[str], domain.Contribution | None],
        version: int,
    ) -> None:
        """Put the source's contribution (per topic, None: nothing) into each expertise doc."""
        key = domain.source_key(source_id)
        for topic in topics:
            await self._project_one(person_id, topic, key, contribution(topic), version)

    async def _project_one(
        self,
        person_id: str,
        topic: str,
        key: str,
        contribution: domain.Contribution | None,
        version: int,
    ) -> None:
        doc_id = f"{person_id}:{topic}"
        for _ in range(MAX_ATTEMPTS):
            doc = await self._expertise.find_one({"_id": doc_id})
            if doc is None and contribution is None:
                return
            projected = domain.project(doc, key, contribution, version)
            if projected is None:
                return
            # A new document's `hidden` is read before its insert; `insert_projections`
            # reads it again after and marks what a hide (or show) changed in between.
            hidden = bool(doc["hidden"]) if doc else await self._hidden(person_id, topic)
            if await self.write_projection(person_id, topic, doc, projected, hidden):
                return
        raise RuntimeError(f"expertise {doc_id} kept changing; giving up (will be retried)")

    async def write_projection(
        self,
        person_id: str,
        topic: str,
        doc: dict[str, Any] | None,
        projected: domain.Projected,
        hidden: bool,
    ) -> bool:
        """Write a projection computed from `doc` (None: new); False if `doc` changed since."""
        if doc is None:
            return await self.insert_projections([(person_id, topic, projected, hidden)])
        return await self.write_projections([(person_id, topic, doc, projected, hidden)])

    async def write_projections(
        self, writes: list[tuple[str, str, dict[str, Any], domain.Projected, bool]]
    ) -> bool:
        """Write projections of existing documents, each computed from the `doc` given, in
        one round trip; False if any of those documents changed since (its write was not
        made: the caller re-reads them all and re-projects, a no-op for those written).

        A compare-and-swap on the document's `v`, not `$inc`: the score (breadth factor)
        and the top evidence depend on the whole `contrib` map, so no per-source increment
        can keep them right. A loser re-reads and re-projects; per-source versions inside
        `contrib` make re-applying a source a no-op.
        """
        ops, events = [], []
        for person_id, topic, doc, projected, hidden in writes:
            fields, doc_events = self._projection_fields(person_id, topic, projected, hidden)
            update = update_with_events({"$set": fields, "$inc": {"v": 1}}, doc_events)
            ops.append(({"_id": doc["_id"], "v": doc["v"]}, update))
            events += doc_events
        matched = await self._expertise.update_each(ops)
        self._notify(events)  # a nudge to the relay; it publishes only what was written
        return matched == len(ops)

    async def insert_projections(self, new: list[tuple[str, str, domain.Projected, bool]]) -> bool:
        """Create expertise documents (person, topic, projection, hidden) in one write.

        False if one already existed (another writer created it since it was read): the
        documents before it in the list were written, the rest were not; the caller
        re-reads them all and goes on from what is there (re-projecting its own is a no-op).
        """
        docs, events = [], []
        for person_id, topic, projected, hidden in new:
            fields, doc_events = self._projection_fields(person_id, topic, projected, hidden)
            docs.append(
                insert_with_events(
                    {"_id": f"{person_id}:{topic}", "person_id": person_id, "topic": topic}
                    | {"v": 1, "published_ref": None}
                    | fields,
                    doc_events,
                )
            )
            events += doc_events
        if not docs:
            return True
        try:
            await self._expertise.insert_many(docs)
            inserted = True
        except DuplicateKeyError:
            inserted = False  # some may be in: the relay looks, and so does the check below
        self._notify(events)
        await self._follow_hidden(new)
        return inserted

    async def _follow_hidden(self, new: list[tuple[str, str, domain.Projected, bool]]) -> None:
        """Re-read the people's hidden topics after creating their documents.

        `hidden` was read before the insert: a hide (or show) in between found no document
        to mark, so the new one would stay as it was read, and be published so. Whatever
        moved since is marked now, with its corrected `expertise.changed`.
        """
        hidden = await self.hidden_topics({person_id for person_id, _, _, _ in new})
        for person_id, topic, _, was in new:
            now = topic in hidden.get(person_id, set())
            if now != was:
                await self.set_hidden(person_id, topic, now)

    def _projection_fields(
        self, person_id: str, topic: str, projected: domain.Projected, hidden: bool
    ) -> tuple[dict[str, Any], list[Any]]:
        fields: dict[str, Any] = {
            "score_ref": projected.score_ref,
            "contrib": projected.contrib,
            "evidence": projected.evidence,
            "hidden": hidden,
            "public": projected.public,
            "private_groups": list(projected.private_groups),
            "updated_at": self.clock(),
        }
        events = []
        if projected.publish:
            # A topic only private groups support is never named to other services (search
            # facets have no members-only view); one that had been is withdrawn as hidden.
            fields["published_ref"] = projected.public_ref
            events.append(
                self._changed(
                    person_id, topic, projected.public_ref, hidden or not projected.public
                )
            )
        return fields, events

    # batched reads and writes (see batch.py)

    async def expertise_by_id(self, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
        """What projecting needs of each document (not its evidence or outbox)."""
        projection = ["v", "contrib", "published_ref", "hidden"]
        return await _by_id(self._expertise, doc_ids, projection)

    async def sources_by_id(self, source_ids: list[str]) -> dict[str, dict[str, Any]]:
        return await _by_id(self._sources, source_ids, None)

    async def hidden_topics(self, person_ids: set[str]) -> dict[str, set[str]]:
        people = await _by_id(self._people, list(person_ids), ["hidden_topics"])
        return {pid: set(p.get("hidden_topics", [])) for pid, p in people.items()}

    async def insert_sources(self, docs: list[dict[str, Any]]) -> bool:
        """Create sources in one write; False if one already existed (see insert_projections)."""
        if not docs:
            return True
        try:
            await self._sources.insert_many(docs)
        except DuplicateKeyError:
            return False
        return True

    async def replace_sources(self, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> bool:
        """Write sources' new states, each computed from the old one given, in one round
        trip; False if any of them changed since (the caller re-reads and re-folds them).

        A compare-and-swap on the source's `v`: another partition may be updating the same
        answer (acceptances travel under the question's key, votes under the answer's).
        """
        ops = [
            ({"_id": old["_id"], "v": old["v"]}, {"$set": {k: new[k] for k in new if k != "_id"}})
            for old, new in pairs
        ]
        return await self._sources.update_each(ops) == len(ops)

    async def set_hidden(self, person_id: str, topic: str, hidden: bool) -> None:
        """Mark a topic hidden (or shown) and tell search, in one write; `hidden` is the
        person's choice as the caller read it.

        The choice is read again after marking: a hide and a show (or a scoring event's
        correction) may race, and the one marking last may carry the older choice. Each
        caller marks until a read after its write agrees, so the last mark stands behind
        the person's latest choice.
        """
        await self._mark_hidden(person_id, topic, hidden)
        await settle(
            partial(self._hidden, person_id, topic),
            partial(self._mark_hidden, person_id, topic),
            written=hidden,
            error=lambda: RuntimeError(f"hidden topic {person_id}:{topic} kept changing"),
            rounds=MAX_ATTEMPTS,
        )

    async def _mark_hidden(self, person_id: str, topic: str, hidden: bool) -> None:
        doc_id = f"{person_id}:{topic}"
        for _ in range(MAX_ATTEMPTS):
            doc = await self._expertise.find_one({"_id": doc_id})
            if doc is None or bool(doc.get("hidden")) == hidden:
                return
            update: dict[str, Any] = {"$set": {"hidden": hidden}, "$inc": {"v": 1}}
            # Other services never heard of a members-only topic: nothing to tell them.
            events = []
            if doc.get("public", True):
                events.append(self._changed(person_id, topic, doc["score_ref"], hidden))
                update["$set"]["published_ref"] = doc["score_ref"]
            result = await self._expertise.update_one(
                {"_id": doc_id, "v": doc["v"]}, update_with_events(update, events)
            )
            if result.matched_count:
                self._notify(events)
                return

    def _notify(self, events: list[Any]) -> None:
        if events:
            self._on_events()

    async def _hidden(self, person_id: str, topic: str) -> bool:
        person = await self._people.find_one({"_id": person_id})
        return bool(person and topic in person.get("hidden_topics", []))

    def _changed(self, person_id: str, topic: str, score_ref: float, hidden: bool) -> Any:
        now = self.clock()
        return new_event(
            ExpertiseChanged(
                id=f"{person_id}:{topic}",
                person_id=person_id,
                topic_id=topic,
                score=max(0.0, domain.score_now(score_ref, now, self.half_life_days)),
                score_ref=max(0.0, score_ref),
                hidden=hidden,
                at=now,
            )
        )

    async def of_person(self, person_id: str, *, limit: int, skip: int = 0) -> list[dict[str, Any]]:
        return await self._expertise.find(
            {"person_id": person_id, "score_ref": {"$gt": 0}},
            sort=[("score_ref", -1), ("_id", 1)],
            limit=limit,
            skip=skip,
            projection=READ_FIELDS,
        )

    async def topic_names(self, topic: str) -> list[str]:
        """A slug's skill in the taxonomy and all its names (canonical first), or itself.

        Activity topics are stored as tagged (`k8s`), endorsements under the canonical skill
        (`kubernetes`): a read by any of the names asks for them all.
        """
        skill = await self._skills.find_one({"$or": [{"_id": topic}, {"aliases": topic}]})
        if skill is None:
            return [topic]
        return list(dict.fromkeys([str(skill["_id"]), *skill.get("aliases", [])]))

    async def top(self, topics: list[str], *, limit: int, skip: int = 0) -> list[dict[str, Any]]:
        """Expertise documents in any of `topics`, best first."""
        topic = topics[0] if len(topics) == 1 else {"$in": topics}
        return await self._expertise.find(
            {"topic": topic, "score_ref": {"$gt": 0}},
            sort=[("score_ref", -1), ("_id", 1)],
            limit=limit,
            skip=skip,
            projection=READ_FIELDS,
        )


async def _by_id(
    collection: Collection, ids: list[str], projection: list[str] | None
) -> dict[str, dict[str, Any]]:
    """The documents with these ids, by id, read IN_CHUNK ids at a time."""
    return await find_by_ids(collection, ids, projection=projection, chunk=IN_CHUNK)
