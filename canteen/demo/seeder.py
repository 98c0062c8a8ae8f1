"""Create the demo organisation in a running stack through its public APIs, idempotently.

Every step first looks at what exists (people by id, groups by slug, memberships, a
person's posts, a question's answers, a post's comments) or uses a PUT that is a no-op
when nothing changes (follows, skills, votes, reactions, acceptance); creations carry a
stable Idempotency-Key. A second run therefore creates nothing, and an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from canteen.demo.client import Api, SeedError
from canteen.demo.data import Group, Org, Person, Post
from canteen.demo.scim import ensure_people

log = structlog.get_logger(__name__)
ADMIN = "demo-admin"

Progress = Callable[[str, int, int], None]  # (phase, done in phase, phase total)


@dataclass
class SeedReport:
    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, created: bool) -> None:
        (self.created if created else self.existing)[kind] += 1

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys([*self.created, *self.existing, *self.skipped]))


@dataclass
class _Ids:
    groups: dict[str, str] = field(default_factory=dict)  # slug -> id
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # post key -> view
    answers: dict[tuple[str, int], str] = field(default_factory=dict)  # (post key, i) -> id


async def seed(api: Api, org: Org, *, progress: Progress | None = None) -> SeedReport:
    """Make the stack hold `org`; returns what was created and what already existed."""
    report = SeedReport()
    ids = _Ids()
    show = progress or (lambda phase, done, total: None)
    await api.token(ADMIN, ("admin",))  # fails early, and clearly, outside dev mode
    await ensure_people(api, org.people, report, _phase(show, "people", len(org.people)))
    await _skills(api, org, report, show)
    await _groups(api, org.groups, ids, report, show)
    await _memberships(api, org.groups, ids, report, show)
    await _follows(api, org, report, show)
    await _posts(api, org, ids, report, show)
    await _answers(api, org, ids, report, show)
    await _votes_and_acceptance(api, org, ids, report, show)
    await _comments(api, org, ids, report, show)
    await _reactions(api, org, ids, report, show)
    log.info("demo.seed.finished", created=dict(report.created))
    return report


def _phase(show: Progress, name: str, total: int) -> Callable[[], None]:
    done = 0
    show(name, 0, total)

    def tick() -> None:
        nonlocal done
        done += 1
        show(name, done, total)

    return tick


async def _each(
    items: Sequence[Any], phase: str, show: Progress, work: Callable[[Any], Awaitable[None]]
) -> None:
    tick = _phase(show, phase, len(items))

    async def one(item: Any) -> None:
        await work(item)
        tick()

    await asyncio.gather(*(one(i) for i in items))


# -- profile, groups, follows ---------------------------------------------------------------


async def _skills(api: Api, org: Org, report: SeedReport, show: Progress) -> None:
    async def declare(person: Person) -> None:
        listed = await api.call("GET", "/api/v1/skills/people/me", as_user=person.id)
        have = {s["skill_id"] for s in listed.json()["skills"] if s.get("level")}
        for rank, topic in enumerate(person.interests):
            if topic in have:
                report.add("skills", False)
                continue
            await api.call(
                "PUT",
                f"/api/v1/skills/mine/{topic}",
                as_user=person.id,
                json={"level": 5 - min(rank, 2)},  # the first interest is the strongest
            )
            report.add("skills", True)

    await _each(org.people, "skills", show, declare)


async def _groups(
    api: Api, groups: Sequence[Group], ids: _Ids, report: SeedReport, show: Progress
) -> None:
    async def ensure(group: Group) -> None:
        found = await api.call(
            "GET", f"/api/v1/groups/by-slug/{group.slug}", as_user=group.owner_id, ok=(404,)
        )
        if found.status_code == 200:
            ids.groups[group.slug] = found.json()["id"]
            report.add("groups", False)
            return
        created = await api.call(
            "POST",
            "/api/v1/groups",
            as_user=group.owner_id,
            json={
                "name": group.name,
                "slug": group.slug,
                "visibility": group.visibility,
                "join_policy": group.join_policy,
            },
            idempotency_key=f"demo-group-{group.slug}",
        )
        ids.groups[group.slug] = created.json()["id"]
        report.add("groups", True)

    await _each(groups, "groups", show, ensure)


async def _memberships(
    api: Api, groups: Sequence[Group], ids: _Ids, report: SeedReport, show: Progress
) -> None:
    active: dict[str, set[str]] = {}

    async def look(group: Group) -> None:
        gid = ids.groups[group.slug]
        # The owner sees the members of a private group too (a non-member gets a 404).
        listed = await api.pages(f"/api/v1/groups/{gid}/members", as_user=group.owner_id)
        active[group.slug] = {m["user_id"] for m in listed}

    await _each(groups, "memberships (looking up)", show, look)
    pairs = [(g, m) for g in groups for m in g.members]

    async def ensure(pair: tuple[Group, str]) -> None:
        group, member = pair
        if member in active[group.slug]:
            report.add("memberships", False)
            return
        gid = ids.groups[group.slug]
        if group.join_policy == "invite":
            # Inviting someone already invited changes nothing (an interrupted run).
            await api.call(
                "POST",
                f"/api/v1/groups/{gid}/invitations",
                as_user=group.owner_id,
                json={"user_id": member},
            )
            await api.call("POST", f"/api/v1/groups/{gid}/invitations/accept", as_user=member)
        else:
            joined = await api.call("POST", f"/api/v1/groups/{gid}/join", as_user=member)
            if joined.json().get("state") == "requested":
                await api.call(
                    "POST",
                    f"/api/v1/groups/{gid}/requests/{member}/approve",
                    as_user=group.owner_id,
                )
        report.add("memberships", True)

    await _each(pairs, "memberships", show, ensure)


async def _follows(api: Api, org: Org, report: SeedReport, show: Progress) -> None:
    held: dict[str, set[tuple[str, str]]] = {}

    async def look(person: Person) -> None:
        listed = await api.pages("/api/v1/follows/me", as_user=person.id)
        held[person.id] = {(f["target_type"], f["target_id"]) for f in listed}

    await _each(org.people, "follows (looking up)", show, look)
    targets = [(who, "person", t) for who, ts in org.follows_people.items() for t in ts]
    targets += [(who, "topic", t) for who, ts in org.follows_topics.items() for t in ts]

    async def follow(item: tuple[str, str, str]) -> None:
        who, kind, target = item
        if (kind, target) in held.get(who, set()):
            report.add("follows", False)
            return
        path = "people" if kind == "person" else "topics"
        response = await api.call("PUT", f"/api/v1/follows/{path}/{target}", as_user=who)
        report.add("follows", response.status_code == 201)

    await _each(targets, "follows", show, follow)


# -- posts and their discussion ---------------------------------------------------------------


def _identity(kind: str, title: str | None, body_md: str) -> tuple[str, str]:
    return (kind, title if title else body_md.strip())


async def _posts(api: Api, org: Org, ids: _Ids, report: SeedReport, show: Progress) -> None:
    authors = sorted({p.author_id for p in org.posts})
    existing: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    async def look(author: str) -> None:
        items = await api.pages(f"/api/v1/feeds/people/{author}", as_user=author)
        existing[author] = {
            _identity(i["kind"], i.get("title"), i["body_md"]): i
            for i in items
            if i["author_id"] == author
        }

    await _each(authors, "posts (looking up)", show, look)

    async def ensure(post: Post) -> None:
        found = existing[post.author_id].get(_identity(post.kind, post.title, post.body_md))
        if found is not None:
            ids.posts[post.key] = found
            report.add("posts", False)
            return
        body: dict[str, Any] = {"kind": post.kind, "body_md": post.body_md, "tags": list(post.tags)}
        if post.title:
            body["title"] = post.title
        if post.group_slug:
            body["group_id"] = ids.groups[post.group_slug]
        if post.url:
            body["url"], body["resource_type"] = post.url, post.resource_type
        created = await api.call(
            "POST", "/api/v1/posts", as_user=post.author_id, json=body, idempotency_key=post.key
        )
        ids.posts[post.key] = created.json()
        report.add("posts", True)

    # In order, so the feeds read like a timeline of the generated company.
    tick = _phase(show, "posts", len(org.posts))
    for chunk in _chunks(org.posts, 8):
        await asyncio.gather(*(ensure(p) for p in chunk))
        for _ in chunk:
            tick()


async def _answers(api: Api, org: Org, ids: _Ids, report: SeedReport, show: Progress) -> None:
    questions = [p for p in org.posts if p.kind == "question" and p.answers]

    async def ensure(post: Post) -> None:
        qid = ids.posts[post.key]["id"]
        listed = (
            await api.call("GET", f"/api/v1/questions/{qid}/answers", as_user=post.author_id)
        ).json()
        have = {(a["author_id"], a["body_md"].strip()): a["id"] for a in listed}
        for i, answer in enumerate(post.answers):
            found = have.get((answer.author_id, answer.text))
            if found is None:
                created = await api.call(
                    "POST",
                    f"/api/v1/questions/{qid}/answers",
                    as_user=answer.author_id,
                    json={"text": answer.text},
                    idempotency_key=f"{post.key}-answer-{i}",
                )
                found = created.json()["id"]
            ids.answers[(post.key, i)] = found
            report.add("answers", found not in have.values())

    await _each(questions, "answers", show, ensure)


async def _votes_and_acceptance(
    api: Api, org: Org, ids: _Ids, report: SeedReport, show: Progress
) -> None:
    votes = [
        (ids.answers[(p.key, i)], voter, value)
        for p in org.posts
        for i, a in enumerate(p.answers)
        for voter, value in a.votes
    ]

    async def vote(item: tuple[str, str, int]) -> None:
        answer_id, voter, value = item
        response = await api.call(
            "PUT", f"/api/v1/answers/{answer_id}/vote", as_user=voter, json={"value": value}
        )
        report.add("votes", response.json().get("previous_value") != value)

    await _each(votes, "votes", show, vote)
    accepted = [p for p in org.posts if p.accepted is not None]

    async def accept(post: Post) -> None:
        assert post.accepted is not None
        answer_id = ids.answers[(post.key, post.accepted)]
        before = ids.posts[post.key].get("accepted_answer_id")
        await api.call(
            "PUT",
            f"/api/v1/questions/{ids.posts[post.key]['id']}/accepted-answer",
            as_user=post.author_id,
            json={"answer_id": answer_id},
        )
        report.add("accepted answers", before != answer_id)

    await _each(accepted, "accepted answers", show, accept)


async def _comments(api: Api, org: Org, ids: _Ids, report: SeedReport, show: Progress) -> None:
    posts = [p for p in org.posts if p.comments]

    async def ensure(post: Post) -> None:
        pid = ids.posts[post.key]["id"]
        listed = await api.pages(f"/api/v1/posts/{pid}/comments", as_user=post.author_id)
        have = {(c["author_id"], c["body_md"].strip()) for c in listed}
        for i, comment in enumerate(post.comments):
            if (comment.author_id, comment.text) in have:
                report.add("comments", False)
                continue
            await api.call(
                "POST",
                f"/api/v1/posts/{pid}/comments",
                as_user=comment.author_id,
                json={"text": comment.text},
                idempotency_key=f"{post.key}-comment-{i}",
            )
            report.add("comments", True)

    await _each(posts, "comments", show, ensure)


async def _reactions(api: Api, org: Org, ids: _Ids, report: SeedReport, show: Progress) -> None:
    items = [(ids.posts[p.key]["id"], who, kind) for p in org.posts for who, kind in p.reactions]

    async def react(item: tuple[str, str, str]) -> None:
        pid, who, kind = item
        response = await api.call(
            "PUT", f"/api/v1/posts/{pid}/reactions", as_user=who, json={"kind": kind}
        )
        report.add("reactions", response.json().get("previous_kind") != kind)

    await _each(items, "reactions", show, react)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["SeedError", "SeedReport", "seed"]
