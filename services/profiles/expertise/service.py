"""Expertise reads (a person's topics, experts, who to ask, people to follow) and hiding.

Public rules, applied at read time from the `people` documents (the authority): a
deactivated person never appears, a topic a person hid appears only to themselves.
Private groups, from `group_members` on every read (`Viewer`): their evidence counts for
everyone's score but is shown only to their members, and a topic only they support is
listed only to a member of one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import structlog

from services.profiles.expertise import domain
from services.profiles.expertise.local import LocalCopies
from services.profiles.expertise.repository import PEOPLE, ExpertiseRepository
from shared.http.auth.principal import Principal
from shared.store.port import DocumentStore

log = structlog.get_logger()

TOPICS_SHOWN = 50
EVIDENCE_SHOWN = 10
EXPERT_EVIDENCE = 3
QUESTION_TOPICS = 5
CANDIDATES_PER_TOPIC = 30
WHO_TO_ASK = 5
SUGGESTED_TO_ASKER = 3
# Each open request costs as much rank as a third of one's score: load spreads quickly.
LOAD_SOFTNESS = 3.0
SUGGESTIONS = 20


class PersonNotFound(LookupError):
    """Unknown or deactivated person (the same to the caller)."""


class QuestionNotFound(LookupError):
    """Unknown, deleted, or in a private group the caller is not a member of."""


class ExpertiseService:
    def __init__(
        self,
        repo: ExpertiseRepository,
        local: LocalCopies,
        store: DocumentStore,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = repo
        self._local = local
        self._people = store.collection(PEOPLE)
        self._clock = clock

    def _score(self, score_ref: float, now: datetime) -> float:
        return domain.score_now(score_ref, now, self._repo.half_life_days)

    async def people(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        docs = await self._people.find({"_id": {"$in": wanted}})
        return {d["_id"]: d for d in docs}

    async def _visible_person(self, caller: Principal, person_id: str) -> dict[str, Any]:
        person = await self._people.find_one({"_id": person_id})
        if person_id != caller.user_id and (person is None or not person.get("active", True)):
            raise PersonNotFound(person_id)
        return person or {"_id": person_id}

    def viewer(self, caller: Principal) -> Viewer:
        return Viewer(self._local, caller.user_id)

    def _evidence(self, doc: dict[str, Any], viewer: Viewer, n: int) -> list[dict[str, Any]]:
        now = self._clock()
        shown = [e for e in doc.get("evidence", []) if viewer.sees_item(e)][:n]
        return [
            {
                "kind": e["kind"],
                "ref_id": e["ref_id"],
                "link": e["link"],
                "weight": self._score(e["ref"], now),
                "base_weight": e["weight"],
                "at": e["at"],
                "group_id": e.get("group_id"),
            }
            for e in shown
        ]

    async def of_person(self, caller: Principal, person_id: str) -> list[dict[str, Any]]:
        """A person's topics by current score; hidden ones only for themselves."""
        person = await self._visible_person(caller, person_id)
        own = person_id == caller.user_id
        hidden = set(person.get("hidden_topics", []))
        viewer = self.viewer(caller)
        docs: list[dict[str, Any]] = []
        skip, batch = 0, TOPICS_SHOWN + len(hidden)
        while len(docs) < TOPICS_SHOWN:
            page = await self._repo.of_person(person_id, limit=batch, skip=skip)
            await viewer.learn(page)
            docs += [d for d in page if (own or d["topic"] not in hidden) and viewer.sees_topic(d)]
            if len(page) < batch:
                break
            skip += batch
        now = self._clock()
        return [
            {
                "topic": d["topic"],
                "score": self._score(d["score_ref"], now),
                "hidden": d["topic"] in hidden,
                "evidence": self._evidence(d, viewer, EVIDENCE_SHOWN),
            }
            for d in docs[:TOPICS_SHOWN]
        ]

    async def ranked(
        self,
        viewer: Viewer,
        topic: str | list[str],
        limit: int,
        *,
        exclude: set[str] | None = None,
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(expertise doc, person) pairs for a topic (or any of its names: each person's
        best one), best first, those the viewer may see."""
        topics = [topic] if isinstance(topic, str) else topic
        out: list[tuple[dict[str, Any], dict[str, Any]]] = []
        seen = set(exclude or ())
        skip, batch = 0, limit * 2 + 10
        while len(out) < limit:
            docs = await self._repo.top(topics, limit=batch, skip=skip)
            people = await self.people(d["person_id"] for d in docs)
            await viewer.learn(docs)
            for d in docs:
                person = people.get(d["person_id"]) or {"_id": d["person_id"]}
                if d["person_id"] in seen or not _public(person, d["topic"]):
                    continue
                if not viewer.sees_topic(d):
                    continue
                seen.add(d["person_id"])
                out.append((d, person))
            if len(docs) < batch:
                break
            skip += batch
        return out[:limit]

    async def experts(self, caller: Principal, topic: str, limit: int) -> list[dict[str, Any]]:
        """People ranked by current score in a topic, each with up to 3 evidence items.

        The topic is resolved through the skills taxonomy: `k8s` finds `kubernetes` too.
        """
        names = await self._repo.topic_names(topic)
        topic = names[0]
        viewer = self.viewer(caller)
        pairs = await self.ranked(viewer, names, limit)
        now = self._clock()
        return [
            _person_view(person)
            | {
                "topic": topic,
                "score": self._score(d["score_ref"], now),
                "evidence": self._evidence(d, viewer, EXPERT_EVIDENCE),
            }
            for d, person in pairs
        ]

    async def _names_of(self, topics: list[str]) -> list[list[str]]:
        """Each topic's names in the skills taxonomy (`k8s`: kubernetes and its aliases)."""
        return [await self._repo.topic_names(topic) for topic in topics]

    async def for_question(self, caller: Principal, question_id: str) -> list[dict[str, Any]]:
        """Who to ask: experts in the question's topics, the less loaded first."""
        q = await self._local.question(question_id)
        if q is None or "author_id" not in q:
            raise QuestionNotFound(question_id)
        # The question's copy says how its group was when it was asked; the group's own
        # events may have said since that it turned private or was deleted.
        group = q.get("group_id")
        state = (await self._local.group_states({group})).get(group) if group else None
        if state == "deleted":
            raise QuestionNotFound(question_id)
        gated = "private" in (q.get("group_visibility"), state)
        outsider = gated and caller.user_id != q["author_id"]
        if outsider and not await self._local.groups_of(caller.user_id, {q["group_id"]}):
            raise QuestionNotFound(question_id)
        answered = await self._local.answerers_of([question_id])
        exclude = {q["author_id"], *answered.get(question_id, set())}
        now = self._clock()
        scores: dict[str, float] = {}
        found: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        viewer = self.viewer(caller)
        # A question tagged `k8s` and `kubernetes` asks about one skill, counted once.
        named = await self._names_of(q.get("topics", [])[:QUESTION_TOPICS])
        for names in {names[0]: names for names in named}.values():
            for d, person in await self.ranked(
                viewer, names, CANDIDATES_PER_TOPIC, exclude=exclude
            ):
                scores[person["_id"]] = scores.get(person["_id"], 0.0) + self._score(
                    d["score_ref"], now
                )
                found.setdefault(person["_id"], []).append((d, person))
        load = await self._local.load(list(scores))
        open_of = {p: len(load.get(p, set()) - {question_id}) for p in scores}
        rank = {p: s / (1 + open_of[p] / LOAD_SOFTNESS) for p, s in scores.items()}
        best = sorted(rank, key=lambda p: (-rank[p], p))[:WHO_TO_ASK]
        if caller.user_id == q["author_id"]:
            # Shown to the asker = asked: it counts in their load until answered or closed.
            await self._local.request(question_id, best[:SUGGESTED_TO_ASKER])
        return [
            _person_view(found[p][0][1])
            | {
                "score": scores[p],
                "rank_score": rank[p],
                "open_requests": open_of[p],
                "topics": [d["topic"] for d, _ in found[p]],
                "evidence": [
                    e for d, _ in found[p] for e in self._evidence(d, viewer, EXPERT_EVIDENCE)
                ][:EXPERT_EVIDENCE],
            }
            for p in best
        ]

    async def suggestions(self, caller: Principal, person_id: str) -> list[dict[str, Any]]:
        """People to follow, each with a reason; never myself or people I follow."""
        if person_id != caller.user_id:
            raise PersonNotFound(person_id)
        me = await self._people.find_one({"_id": person_id}) or {}
        follows = await self._local.following(person_id)
        followed = {f["target_id"] for f in follows if f["target_type"] == "person"}
        topics = [f["target_id"] for f in follows if f["target_type"] == "topic"][:10]
        exclude = followed | {person_id}
        reasons: dict[str, dict[str, Any]] = {}
        viewer = self.viewer(caller)
        for topic, names in zip(topics, await self._names_of(topics), strict=True):
            for _, person in await self.ranked(viewer, names, 5, exclude=exclude):
                reasons.setdefault(person["_id"], {"reason": "expert", "topic": topic})
        if me.get("department"):
            colleagues = await self._people.find(
                {"department": me["department"], "active": True}, limit=SUGGESTIONS + 1
            )
            for person in colleagues:
                if person["_id"] not in exclude:
                    reasons.setdefault(
                        person["_id"], {"reason": "department", "department": me["department"]}
                    )
        asked = [q["_id"] for q in await self._local.asked_by(person_id)]
        for answerers in (await self._local.answerers_of(asked)).values():
            for answerer in sorted(answerers):
                if answerer not in exclude:
                    reasons.setdefault(answerer, {"reason": "answered_your_question"})
        people = await self.people(reasons)
        out = []
        for pid, why in reasons.items():
            person = people.get(pid) or {"_id": pid}
            if person.get("active", True):
                out.append(_person_view(person) | why)
        return out[:SUGGESTIONS]

    async def set_hidden(self, caller: Principal, topic: str, hidden: bool) -> list[str]:
        """Hide (or show again) one of my topics: `people.hidden_topics`, one update."""
        op = "$addToSet" if hidden else "$pull"
        person = await self._people.find_one_and_update(
            {"_id": caller.user_id}, {op: {"hidden_topics": topic}}
        )
        if person is None:
            raise PersonNotFound(caller.user_id)
        await self._repo.set_hidden(caller.user_id, topic, hidden)
        log.info("profiles.expertise.topic_hidden", topic=topic, hidden=hidden)
        return list(person.get("hidden_topics", []))


def _public(person: dict[str, Any], topic: str) -> bool:
    return bool(person.get("active", True)) and topic not in person.get("hidden_topics", [])


def _person_view(person: dict[str, Any]) -> dict[str, Any]:
    return {
        "person_id": person["_id"],
        "handle": person.get("handle"),
        "display_name": person.get("display_name"),
    }


class Viewer:
    """One read's caller and which private groups it is a member of, asked once per group.

    Read afresh for every request (memberships decide who sees what: never cached across
    requests); `learn` asks only when the documents name private groups.
    """

    def __init__(self, local: LocalCopies, user_id: str) -> None:
        self._local = local
        self._user_id = user_id
        self._asked: set[str] = set()
        self._mine: set[str] = set()

    async def learn(self, docs: Iterable[dict[str, Any]]) -> None:
        groups = {g for d in docs for g in d.get("private_groups", ())}
        # Documents written before `private_groups` existed name them only in evidence.
        groups |= {e["group_id"] for d in docs for e in d.get("evidence", []) if _private(e)}
        ask = groups - self._asked
        if ask:
            self._mine |= await self._local.groups_of(self._user_id, ask)
            self._asked |= ask

    def sees_item(self, item: dict[str, Any]) -> bool:
        return item.get("group_visibility") != "private" or item.get("group_id") in self._mine

    def sees_topic(self, doc: dict[str, Any]) -> bool:
        """Listed to all if a source outside private groups counts; else to their members."""
        return bool(doc.get("public", True)) or not self._mine.isdisjoint(
            doc.get("private_groups", ())
        )


def _private(item: dict[str, Any]) -> bool:
    return item.get("group_visibility") == "private" and bool(item.get("group_id"))
