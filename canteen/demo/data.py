"""The demo company as plain data, generated deterministically from a seed.

`build_org(seed, people=60, posts=400)` always returns the same organisation for the same
arguments, so seeding twice aims at the same people, groups and posts (and the seeder can
recognise what exists). Content follows the company's shape: people ask about the topics
of their department, colleagues who know the topic answer, group posts stay among members.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field, replace

from canteen.demo import catalog

KINDS = ("question", "note", "resource", "article")
KIND_WEIGHTS = (40, 20, 20, 20)
REACTIONS = ("like", "insightful", "thanks", "celebrate")
REACTION_WEIGHTS = (50, 20, 20, 10)
TITLE_PREFIXES = ("", "Quick one: ", "Still unsure: ", "Newbie question: ", "Follow-up: ")
EMAIL_DOMAIN = "demo.canteen.example"


@dataclass(frozen=True)
class Person:
    id: str
    user_name: str
    given_name: str
    family_name: str
    title: str
    department: str
    manager_id: str | None
    location: str
    interests: tuple[str, ...]

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def handle(self) -> str:
        return self.user_name.split("@", 1)[0]

    @property
    def email(self) -> str:
        return self.user_name


@dataclass(frozen=True)
class Group:
    slug: str
    name: str
    visibility: str
    join_policy: str
    topic: str
    owner_id: str
    members: tuple[str, ...]  # without the owner


@dataclass(frozen=True)
class Answer:
    author_id: str
    text: str
    votes: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Comment:
    author_id: str
    text: str


@dataclass(frozen=True)
class Post:
    key: str  # stable across runs: the seeder's Idempotency-Key
    kind: str
    author_id: str
    title: str | None
    body_md: str
    tags: tuple[str, ...]
    group_slug: str | None = None
    url: str | None = None
    resource_type: str | None = None
    answers: tuple[Answer, ...] = ()
    accepted: int | None = None  # index into answers
    comments: tuple[Comment, ...] = ()
    reactions: tuple[tuple[str, str], ...] = ()  # (user id, kind)


@dataclass(frozen=True)
class Org:
    people: tuple[Person, ...]
    groups: tuple[Group, ...]
    posts: tuple[Post, ...]
    follows_people: dict[str, tuple[str, ...]] = field(default_factory=dict)
    follows_topics: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def person(self, person_id: str) -> Person:
        return next(p for p in self.people if p.id == person_id)


def slug(text: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")


def build_org(seed: int = 2026, *, people: int = 60, posts: int = 400) -> Org:
    if people < 2:
        raise ValueError("the demo organisation needs at least 2 people")
    rng = random.Random(seed)
    staff = _people(rng, people)
    groups = _groups(rng, staff)
    content = _posts(rng, staff, groups, posts)
    follows_people, follows_topics = _follows(rng, staff)
    return Org(tuple(staff), tuple(groups), tuple(content), follows_people, follows_topics)


# -- people -------------------------------------------------------------------------------


def _names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    pairs = [(f, last) for f in catalog.FIRST_NAMES for last in catalog.LAST_NAMES]
    rng.shuffle(pairs)
    chosen: list[tuple[str, str]] = []
    firsts: set[str] = set()
    for first, last in pairs:  # distinct first names while they last: easier to tell apart
        if first not in firsts or len(firsts) == len(catalog.FIRST_NAMES):
            chosen.append((first, last))
            firsts.add(first)
        if len(chosen) == n:
            break
    return chosen


def _headcounts(n: int) -> list[tuple[str, int]]:
    slots = n - 1  # the CEO is not in a department
    names = list(catalog.DEPARTMENTS)[: max(1, min(slots, len(catalog.DEPARTMENTS)))]
    weights = [catalog.DEPARTMENTS[d][0] for d in names]
    counts = [max(1, round(slots * w / sum(weights))) for w in weights]
    while sum(counts) > slots:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < slots:
        counts[counts.index(min(counts))] += 1
    return [(d, c) for d, c in zip(names, counts, strict=True) if c > 0]


def _person(
    rng: random.Random,
    name: tuple[str, str],
    *,
    title: str,
    department: str,
    manager_id: str | None,
    topics: tuple[str, ...],
) -> Person:
    first, last = name
    handle = f"{slug(first)}.{slug(last).replace('-', '')}"
    interests = rng.sample(topics, k=min(len(topics), rng.choice((2, 3))))
    return Person(
        id=f"demo-{slug(first)}-{slug(last)}",
        user_name=f"{handle}@{EMAIL_DOMAIN}",
        given_name=first,
        family_name=last,
        title=title,
        department=department,
        manager_id=manager_id,
        location=rng.choice(catalog.LOCATIONS),
        interests=tuple(interests),
    )


def _people(rng: random.Random, n: int) -> list[Person]:
    names = iter(_names(rng, n))
    ceo = _person(
        rng,
        next(names),
        title=catalog.CEO_TITLE,
        department="Executive",
        manager_id=None,
        topics=("okr", "customer-feedback", "onboarding"),
    )
    staff = [ceo]
    for department, count in _headcounts(n):
        _, head_title, titles, topics = catalog.DEPARTMENTS[department]
        head = _person(
            rng,
            next(names),
            title=head_title,
            department=department,
            manager_id=ceo.id,
            topics=topics,
        )
        staff.append(head)
        lead: Person | None = None
        for i in range(count - 1):
            # Big departments get a team lead halfway: a three-level manager chain.
            manager = lead.id if lead is not None and i >= 4 else head.id
            title = f"Team Lead, {department}" if i == 3 and count >= 8 else rng.choice(titles)
            person = _person(
                rng,
                next(names),
                title=title,
                department=department,
                manager_id=manager,
                topics=topics,
            )
            if title.startswith("Team Lead"):
                lead = person
            staff.append(person)
    return staff


# -- groups -------------------------------------------------------------------------------


def _groups(rng: random.Random, staff: list[Person]) -> list[Group]:
    ceo = staff[0]
    heads = [p for p in staff if p.manager_id == ceo.id]
    out = []
    for group_slug, (name, visibility, policy, topic, departments) in catalog.GROUPS.items():
        if group_slug == "leadership-team":
            owner, members = ceo, [h.id for h in heads]
        else:
            inside = [p for p in staff if p.department in departments]
            owner = next((p for p in inside if p in heads), inside[0] if inside else ceo)
            members = [p.id for p in inside if p is not owner and rng.random() < 0.75]
            if visibility == "public":
                others = [p.id for p in staff if p.id not in members and p is not owner]
                members += rng.sample(others, k=min(len(others), 3))
        out.append(
            Group(group_slug, name, visibility, policy, topic, owner.id, tuple(sorted(members)))
        )
    return out


# -- posts --------------------------------------------------------------------------------


def _posts(rng: random.Random, staff: list[Person], groups: list[Group], n: int) -> list[Post]:
    used_titles: set[str] = set()
    used_bodies: set[str] = set()
    membership = {g.slug: {g.owner_id, *g.members} for g in groups}
    out: list[Post] = []
    for i in range(n):
        author = rng.choice(staff)
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        topic = rng.choice(author.interests)
        mine = [g for g in groups if author.id in membership[g.slug]]
        group = next((g for g in mine if g.topic == topic and rng.random() < 0.6), None)
        if group is None and mine and rng.random() < 0.15:
            group = rng.choice(mine)
            topic = group.topic
        audience = sorted(membership[group.slug]) if group else [p.id for p in staff]
        others = [p for p in staff if p.id != author.id and p.id in set(audience)]
        post = _post(rng, i, kind, author, topic, group, others, used_titles, used_bodies)
        out.append(post)
    return out


def _unique(text: str, used: set[str], rng: random.Random, variants: tuple[str, ...]) -> str:
    for prefix in variants:
        candidate = prefix + text
        if candidate not in used:
            used.add(candidate)
            return candidate
    candidate = f"{text} (#{rng.randrange(1000, 9999)})"
    used.add(candidate)
    return candidate


def _fill(template: str, *, topic: str, dept: str, title: str = "") -> str:
    return template.format(
        topic=topic,
        topic_title=topic.replace("-", " ").capitalize(),
        dept=dept,
        title_lower=title[:1].lower() + title[1:].rstrip("?"),
    )


def _experts(people: list[Person], topic: str) -> list[Person]:
    knows = [p for p in people if topic in p.interests]
    return knows + [p for p in people if p not in knows]


def _post(
    rng: random.Random,
    index: int,
    kind: str,
    author: Person,
    topic: str,
    group: Group | None,
    others: list[Person],
    used_titles: set[str],
    used_bodies: set[str],
) -> Post:
    dept = author.department
    question = rng.choice(catalog.QUESTIONS[topic])
    comments, reactions = _social(rng, others)
    post = Post(
        key=f"demo-post-{index:04d}",
        kind=kind,
        author_id=author.id,
        title=None,
        body_md="",
        tags=(topic,),
        group_slug=group.slug if group else None,
        comments=comments,
        reactions=reactions,
    )
    if kind == "question":
        title = _unique(question, used_titles, rng, TITLE_PREFIXES)
        body = (
            f"I am in {dept} ({author.location}) and could not find this in the handbook. "
            f"{rng.choice(('Any pointers welcome.', 'Thanks in advance!', 'What do you all do?'))}"
        )
        answers = _answers(rng, _experts(others, topic), topic)
        accepted = 0 if answers and rng.random() < 0.7 else None
        return replace(post, title=title, body_md=body, answers=answers, accepted=accepted)
    if kind == "resource":
        name, url, resource_type = rng.choice(catalog.RESOURCES[topic])
        title = _unique(name, used_titles, rng, ("", "Worth a read: ", "Bookmark: ", "Handy: "))
        body = (
            f"Sharing {name[:1].lower() + name[1:]}: it answers most of the {topic} questions "
            f"we get. Recommended by the {dept} team."
        )
        return replace(post, title=title, body_md=body, url=url, resource_type=resource_type)
    if kind == "article":
        angle = rng.choice(catalog.ARTICLE_ANGLES)
        title = _unique(
            _fill(angle, topic=topic, dept=dept, title=question),
            used_titles,
            rng,
            ("", "Updated: ", "Part 2: ", "Revisited: "),
        )
        steps = rng.sample(catalog.ANSWER_STEPS, 3)
        body = "\n\n".join(
            [
                f"## Why this matters\n\nIn {dept} we keep hearing the same question: "
                f"*{question}* Here is what we settled on.",
                "## What to do\n\n"
                + "\n".join(f"1. {_fill(s, topic=topic, dept=dept).capitalize()}" for s in steps),
                f"## Questions?\n\nAsk in the {topic} topic; someone will pick it up.",
            ]
        )
        return replace(post, title=title, body_md=body)
    body = _unique(
        _fill(rng.choice(catalog.NOTES), topic=topic, dept=dept),
        used_bodies,
        rng,
        ("", "Heads-up: ", "FYI: ", "Team update: ", "Small win: "),
    )
    return replace(post, body_md=body)


def _answers(rng: random.Random, experts: list[Person], topic: str) -> tuple[Answer, ...]:
    count = min(len(experts), rng.choices((0, 1, 2, 3), (10, 35, 35, 20))[0])
    authors = experts[:count] if rng.random() < 0.7 else rng.sample(experts, count)
    out = []
    for who in authors:
        steps = rng.sample(catalog.ANSWER_STEPS, 2)
        text = (
            f"{rng.choice(catalog.ANSWER_OPENERS)} First "
            f"{_fill(steps[0], topic=topic, dept=who.department)}, then "
            f"{_fill(steps[1], topic=topic, dept=who.department)}. "
            f"{rng.choice(catalog.ANSWER_CLOSERS)}"
        )
        colleagues = [p for p in experts[:4] if p is not who]
        if colleagues and rng.random() < 0.2:  # mentions make notifications and evidence
            text += f" cc @{rng.choice(colleagues).handle}"
        voters = [p for p in experts if p is not who]
        votes = tuple(
            (v.id, 1 if rng.random() < 0.9 else -1)
            for v in rng.sample(voters, min(len(voters), rng.randrange(0, 5)))
        )
        out.append(Answer(who.id, text, votes))
    return tuple(out)


def _social(
    rng: random.Random, others: list[Person]
) -> tuple[tuple[Comment, ...], tuple[tuple[str, str], ...]]:
    n_comments = rng.choices((0, 1, 2, 3), (55, 25, 15, 5))[0]
    commenters = rng.sample(others, min(len(others), n_comments))
    texts = rng.sample(catalog.COMMENTS, len(commenters))
    reactors = rng.sample(others, min(len(others), rng.randrange(0, 5)))
    return (
        tuple(Comment(p.id, t) for p, t in zip(commenters, texts, strict=True)),
        tuple((p.id, rng.choices(REACTIONS, REACTION_WEIGHTS)[0]) for p in reactors),
    )


# -- follows ------------------------------------------------------------------------------


def _follows(
    rng: random.Random, staff: list[Person]
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    people: dict[str, tuple[str, ...]] = {}
    topics: dict[str, tuple[str, ...]] = {}
    for person in staff:
        colleagues = [p.id for p in staff if p.department == person.department and p is not person]
        elsewhere = [p.id for p in staff if p.department != person.department]
        chosen = set(rng.sample(colleagues, min(len(colleagues), rng.randrange(2, 5))))
        chosen |= set(rng.sample(elsewhere, min(len(elsewhere), rng.randrange(0, 3))))
        if person.manager_id:
            chosen.add(person.manager_id)
        people[person.id] = tuple(sorted(chosen))
        topics[person.id] = tuple(sorted(person.interests))
    return people, topics
