"""Expertise scoring rules: weights, decay by reference score, contributions, evidence.

Pure: no I/O. A *source* is one thing that can count (a post, an answer, an endorsement);
its contribution to (person, topic) is re-derived from the source's whole current state
every time it changes, and the expertise document keeps each source's contribution under
its own key. So a deleted answer, a withdrawn acceptance or a changed vote subtracts exactly
what it added (the score is re-summed from the contributions, never incremented), and
applying the same state twice changes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Scores are referenced to this fixed epoch (docs/profiles.md "Decay without rewriting").
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
EVIDENCE_CAP = 20
# Publish `expertise.changed` when the score moved by more than this fraction since the last
# published value (or when the topic was hidden / shown).
PUBLISH_THRESHOLD = 0.10


@dataclass(frozen=True)
class Weights:
    """What one signal is worth before decay. Accepted answers weigh most."""

    accepted_answer: float = 10.0
    answer_vote: float = 2.0  # per net upvote on an answer (downvotes subtract)
    answer: float = 1.0
    article: float = 3.0
    resource: float = 1.0
    resource_reaction: float = 1.0  # per distinct other person who reacted to a resource
    resource_reaction_cap: int = 20
    note: float = 0.5
    endorsement: float = 2.0


WEIGHTS = Weights()
POST_WEIGHT = {"article": "article", "resource": "resource", "note": "note"}


def growth(at: datetime, half_life_days: float) -> float:
    """2^((at - EPOCH) / h): multiply a weight by it to reference it to the epoch."""
    exponent = (at - EPOCH).total_seconds() / (half_life_days * 86_400)
    # Beyond ~2^1000 floats overflow: a half-life of a week still leaves ~19 years of range.
    return math.pow(2.0, max(-1000.0, min(1000.0, exponent)))


def score_now(score_ref: float, now: datetime, half_life_days: float) -> float:
    """Today's score from the reference score: every signal decayed with half-life h."""
    return score_ref / growth(now, half_life_days)


def source_key(source_id: str) -> str:
    """A store-safe map key for a source id (ids may hold '.', ':' or '$')."""
    return "s" + hashlib.blake2b(source_id.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class Contribution:
    """One source's current worth for one (person, topic), with what evidence shows."""

    ref: float  # weight referenced to the epoch (0: counts nothing now)
    weight: float  # undecayed weight
    kind: str
    ref_id: str
    link: str
    at: datetime
    group_id: str | None = None
    group_visibility: str | None = None

    def record(self, version: int) -> dict[str, Any]:
        return {
            "v": version,
            "ref": self.ref,
            "weight": self.weight,
            "kind": self.kind,
            "ref_id": self.ref_id,
            "link": self.link,
            "at": self.at,
            "group_id": self.group_id,
            "group_visibility": self.group_visibility,
        }


def _placement(src: dict[str, Any]) -> dict[str, Any]:
    """The source's group and its visibility: the more private of what the post's events
    said (as of when they were written) and what the group's own events said (as of when
    we last heard; `handlers.group_fields` sets both when the group changes). Either may
    be the older, so neither may show what the other hides."""
    said = {src.get("group_visibility"), src.get("group_state")}
    visibility = "private" if "private" in said else src.get("group_visibility")
    return {"group_id": src.get("group_id"), "group_visibility": visibility}


def _gone(src: dict[str, Any]) -> bool:
    """Deleted itself, in a deleted group, or (an answer) under a deleted question."""
    return bool(
        src.get("deleted") or src.get("group_state") == "deleted" or src.get("question_deleted")
    )


def post_contribution(src: dict[str, Any], h: float, w: Weights = WEIGHTS) -> Contribution | None:
    """A note, article or resource counts for its author; a resource more when others react."""
    kind = src.get("kind")
    if _gone(src) or kind not in POST_WEIGHT or "at" not in src:
        return None
    weight = getattr(w, POST_WEIGHT[kind])
    if kind == "resource":
        reactors = [u for u in src.get("reactors", []) if u != src.get("author_id")]
        weight += w.resource_reaction * min(len(reactors), w.resource_reaction_cap)
    return Contribution(
        ref=weight * growth(src["at"], h),
        weight=weight,
        kind=kind,
        ref_id=src["ref_id"],
        link=f"/api/v1/posts/{src['ref_id']}",
        at=src["at"],
        **_placement(src),
    )


def answer_contribution(src: dict[str, Any], h: float, w: Weights = WEIGHTS) -> Contribution | None:
    """An answer: a little for answering, net votes, most for being accepted (never < 0)."""
    if _gone(src) or "author_id" not in src:
        return None
    parts: list[tuple[float, datetime]] = []
    if "answered_at" in src:
        parts.append((w.answer, src["answered_at"]))
    net = len(src.get("up", [])) - len(src.get("down", []))
    if net and "votes_at" in src:
        parts.append((w.answer_vote * net, src["votes_at"]))
    if src.get("accepted") and "accepted_at" in src:
        parts.append((w.accepted_answer, src["accepted_at"]))
    if not parts:
        return None
    ref = max(0.0, sum(weight * growth(at, h) for weight, at in parts))
    return Contribution(
        ref=ref,
        weight=max(0.0, sum(weight for weight, _ in parts)),
        kind="accepted_answer" if src.get("accepted") else "answer",
        ref_id=src["ref_id"],
        link=f"/api/v1/questions/{src.get('question_id')}/answers#{src['ref_id']}",
        at=max(at for _, at in parts),
        **_placement(src),
    )


def endorsement_contribution(
    endorser_id: str, active: bool, at: datetime, h: float, w: Weights = WEIGHTS
) -> Contribution | None:
    if not active:
        return None
    return Contribution(
        ref=w.endorsement * growth(at, h),
        weight=w.endorsement,
        kind="endorsement",
        ref_id=endorser_id,
        link=f"/api/v1/people/{endorser_id}",
        at=at,
    )


def source_contribution(
    source_id: str, src: dict[str, Any], h: float, w: Weights = WEIGHTS
) -> Contribution | None:
    """A post's or an answer's contribution, by the kind its id names.

    One in a private group counts like any other; it carries its group, so that reads show
    it (and a topic it alone supports) only to the group's members (see `project`).
    """
    if source_id.startswith("post:"):
        return post_contribution(src, h, w)
    return answer_contribution(src, h, w)


@dataclass(frozen=True)
class Projected:
    """The new state of an expertise document after one source's contribution changed."""

    contrib: dict[str, Any]
    score_ref: float
    evidence: list[dict[str, Any]]
    publish: bool
    # Whether a source outside private groups counts, and which private groups' sources
    # count: reads decide from these alone who may see the topic listed at all.
    public: bool = True
    private_groups: tuple[str, ...] = ()

    @property
    def public_ref(self) -> float:
        """What other services may know: the whole score, or nothing for a members-only topic."""
        return self.score_ref if self.public else 0.0


def project(
    doc: dict[str, Any] | None,
    key: str,
    contribution: Contribution | None,
    version: int,
) -> Projected | None:
    """Put one source's contribution into an expertise document; None if stale or unchanged.

    `version` grows with every change of the source, so a late, older projection never
    overwrites a newer one. A source that no longer counts keeps only its version.
    """
    contrib = dict((doc or {}).get("contrib", {}))
    current = contrib.get(key)
    if current is not None and current["v"] >= version:
        return None
    record = contribution.record(version) if contribution else {"v": version, "ref": 0.0}
    if current is not None and {**current, "v": version} == record:
        return None
    contrib[key] = record
    counting = [c for c in contrib.values() if c["ref"] > 0]
    private = [c for c in counting if c.get("group_visibility") == "private"]
    public = len(private) < len(counting)
    score_ref = breadth_score(c["ref"] for c in contrib.values())
    return Projected(
        contrib=contrib,
        score_ref=score_ref,
        evidence=_evidence(counting),
        publish=should_publish((doc or {}).get("published_ref"), score_ref if public else 0.0),
        public=public,
        private_groups=tuple(sorted({c["group_id"] for c in private if c.get("group_id")})),
    )


def _evidence(counting: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The strongest items outside private groups and, apart, the strongest inside them:
    members-only items never crowd out what everyone may see."""

    def strongest(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda c: (-c["ref"], c["ref_id"]))

    private = [c for c in counting if c.get("group_visibility") == "private"]
    shown = [c for c in counting if c.get("group_visibility") != "private"]
    kept = strongest(shown)[:EVIDENCE_CAP] + strongest(private)[:EVIDENCE_CAP]
    return strongest({k: v for k, v in c.items() if k != "v"} for c in kept)


Step = tuple[str, Contribution | None, int]  # (source key, contribution, source version)


def project_all(doc: dict[str, Any] | None, steps: Iterable[Step]) -> Projected | None:
    """Apply several sources' contributions in order, as `project` one at a time would.

    The batched path folds a whole batch into one write per expertise document with it;
    the publish decision compares the final score with the last published one.
    """
    state, last = doc, None
    deferred: list[Step] = []
    for key, contribution, version in steps:
        if state is None and contribution is None:
            # No document for a source that counts nothing; but if a later source creates
            # it, this one still leaves its version there (as one by one it would have,
            # having counted earlier in the batch), so a stale projection cannot land.
            deferred.append((key, contribution, version))
            continue
        projected = project(state, key, contribution, version)
        if projected is not None:
            state, last = {**(state or {}), "contrib": projected.contrib}, projected
    for key, contribution, version in deferred if state is not None else []:
        projected = project(state, key, contribution, version)
        if projected is not None:
            state, last = {**(state or {}), "contrib": projected.contrib}, projected
    if last is None:
        return None
    publish = should_publish((doc or {}).get("published_ref"), last.public_ref)
    return dataclasses.replace(last, publish=publish)


def breadth_score(refs: Iterable[float]) -> float:
    """Σ refs * n/(n+1), n = sources that count: one lucky answer is not yet expertise.

    The factor does not depend on time, so ranking by this stored value is still ranking by
    today's score.
    """
    counting = [r for r in refs if r > 0]
    n = len(counting)
    return math.fsum(counting) * n / (n + 1) if n else 0.0


def should_publish(published_ref: float | None, score_ref: float) -> bool:
    if published_ref is None:
        return score_ref > 0
    return abs(score_ref - published_ref) > PUBLISH_THRESHOLD * max(published_ref, score_ref)
