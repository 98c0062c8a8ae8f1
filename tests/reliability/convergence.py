"""Compare every service with the store of truth (activity) and the load generator's ledger.

`Truth` is read from activity once the load has stopped (its writes are synchronous: what it
holds then is final). `problems(...)` lists every disagreement; the stack has converged when
the list is empty. The rules:

- nothing lost: every acknowledged post, answer and follow exists in activity;
- nothing invented: activity holds no post the generator did not attempt; search, feeds,
  notifications and expertise hold nothing activity does not;
- a refused write that activity does not hold appears nowhere else either;
- no duplicates: each post is in the index once and in a follower's home feed once; one
  mention notification per mentioning post, one reaction notification group per reacted
  post with as many actors as the post has reactions; no expertise evidence twice;
- counters are exact: a question's answer count is its answers, a post's reaction count
  lies between the acknowledged and the attempted distinct reactors.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.workload import AUTHORS, MENTIONED, WATCHER, Client, Ledger


@dataclass
class Truth:
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> post
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> answer
    answers_of: dict[str, set[str]] = field(default_factory=dict)  # question -> answer ids

    def marker_of(self, doc: dict[str, Any], run: str) -> str:
        return next(w for w in str(doc.get("body_md", "")).split() if w.startswith(f"{run}m"))

    def markers(self, run: str) -> dict[str, str]:
        """marker -> id, for posts and answers."""
        docs = {**self.posts, **self.answers}
        return {self.marker_of(doc, run): id_ for id_, doc in docs.items()}


async def pages(client: Client, path: str, *, as_: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
        body = await client.ok("GET", path, as_=as_, params=query)
        items.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor or not body["items"]:
            return items


async def read_truth(client: Client, ledger: Ledger, earlier: Truth | None = None) -> Truth:
    """What activity holds. With `earlier` (read after the load stopped), its answers are
    reused: no one writes any more, and only counters, kept by consumers, still move."""
    truth = Truth()
    for post in await pages(client, "/api/v1/posts", as_=WATCHER):
        if ledger.run in str(post.get("body_md", "")):
            truth.posts[post["id"]] = post
    if earlier is not None:
        truth.answers, truth.answers_of = earlier.answers, earlier.answers_of
        return truth
    for qid, post in truth.posts.items():
        if post.get("kind") != "question":
            continue
        answers = await client.ok("GET", f"/api/v1/questions/{qid}/answers", as_=WATCHER)
        truth.answers_of[qid] = {a["id"] for a in answers}
        truth.answers.update({a["id"]: a for a in answers})
    return truth


def ledger_problems(ledger: Ledger, truth: Truth) -> list[str]:
    out = []
    markers = truth.markers(ledger.run)
    attempted = {w.key for w in ledger.writes if w.kind in ("post", "answer")}
    for write in ledger.of("post", "acked") + ledger.of("answer", "acked"):
        if write.key not in markers or markers[write.key] != write.id:
            out.append(f"acknowledged {write.kind} {write.key} ({write.id}) is lost")
    invented = set(markers) - attempted
    if invented:
        out.append(f"activity holds writes nobody made: {sorted(invented)[:5]}")
    return out


def not_written(ledger: Ledger, truth: Truth) -> set[str]:
    """Markers of refused writes that activity does not hold. They appear nowhere else
    either: search, feeds and notifications hold only what activity holds (checked below)."""
    markers = truth.markers(ledger.run)
    refused = ledger.of("post", "refused") + ledger.of("answer", "refused")
    return {w.key for w in refused if w.key not in markers}


def _dupes(values: list[str]) -> list[str]:
    return [v for v, n in Counter(values).items() if n > 1]


async def search_problems(client: Client, ledger: Ledger, truth: Truth) -> list[str]:
    hits = await pages(client, "/api/v1/search", as_=WATCHER, q=ledger.run, sort="recent")
    ids = [h["id"] for h in hits]
    out = []
    if dupes := _dupes(ids):
        out.append(f"search: {len(dupes)} documents twice, e.g. {dupes[:3]}")
    known = set(truth.posts) | set(truth.answers)
    if extra := set(ids) - known:
        out.append(f"search: {len(extra)} hits activity does not hold, e.g. {sorted(extra)[:3]}")
    if missing := set(truth.posts) - set(ids):
        out.append(f"search: {len(missing)} posts not found, e.g. {sorted(missing)[:3]}")
    return out


async def feed_problems(client: Client, truth: Truth) -> list[str]:
    items = await pages(client, "/api/v1/feeds/home", as_=WATCHER)
    ids = [i["id"] for i in items]
    out = []
    if dupes := _dupes(ids):
        out.append(f"home feed: {len(dupes)} posts twice, e.g. {dupes[:3]}")
    if extra := set(ids) - set(truth.posts):
        out.append(f"home feed: {len(extra)} entries activity does not hold: {sorted(extra)[:3]}")
    if missing := set(truth.posts) - set(ids):
        out.append(f"home feed: {len(missing)} posts missing, e.g. {sorted(missing)[:3]}")
    return out


async def notification_problems(client: Client, truth: Truth) -> list[str]:
    out = []
    mentions = await pages(client, "/api/v1/notifications", as_=MENTIONED, type="mention")
    targets = [g["target"]["id"] for g in mentions]
    expected = {i for i, p in truth.posts.items() if f"@{MENTIONED}" in p.get("body_md", "")}
    if dupes := _dupes(targets):
        out.append(f"mentions: {len(dupes)} posts notified twice, e.g. {dupes[:3]}")
    if extra := set(targets) - expected:
        out.append(
            f"mentions: {len(extra)} notifications for no mentioning post: {list(extra)[:3]}"
        )
    if missing := expected - set(targets):
        # What activity resolved tells a mention it never sent from one notify dropped.
        resolved = {i: truth.posts[i].get("mentions") for i in list(missing)[:3]}
        out.append(
            f"mentions: {len(missing)} mentioning, not notified (post: mentions): {resolved}"
        )
    if any(g["count"] != 1 for g in mentions):
        out.append("mentions: a post's mention notified more than once")
    for author in AUTHORS:
        groups = await pages(client, "/api/v1/notifications", as_=author, type="reaction")
        targets = [g["target"]["id"] for g in groups]
        if dupes := _dupes(targets):
            out.append(f"reactions for {author}: groups twice for {dupes[:3]}")
        for group in groups:
            post = truth.posts.get(group["target"]["id"])
            if post is None:
                out.append(f"reactions for {author}: a group for a post activity does not hold")
            elif group["actor_count"] != post["counts"]["reactions"]:
                out.append(
                    f"reactions for {author} on {post['id']}: {group['actor_count']} actors, "
                    f"{post['counts']['reactions']} reactions"
                )
        reacted = {i for i, p in truth.posts.items() if p["author_id"] == author}
        reacted = {i for i in reacted if truth.posts[i]["counts"]["reactions"] > 0}
        if missing := reacted - set(targets):
            out.append(f"reactions for {author}: {len(missing)} reacted posts never notified")
    return out


def counter_problems(ledger: Ledger, truth: Truth) -> list[str]:
    out = []
    acked: dict[str, set[str]] = defaultdict(set)
    tried: dict[str, set[str]] = defaultdict(set)
    for write in ledger.of("reaction"):
        who, post = write.key.split(">")
        tried[post].add(who)
        if write.fate == "acked":
            acked[post].add(who)
    for pid, post in truth.posts.items():
        count = post["counts"]["reactions"]
        if not len(acked[pid]) <= count <= len(tried[pid]):
            out.append(
                f"post {pid}: {count} reactions, {len(acked[pid])} acknowledged reactors, "
                f"{len(tried[pid])} tried"
            )
        if post.get("kind") == "question":
            answers = len(truth.answers_of.get(pid, ()))
            if post["counts"]["answers"] != answers:
                out.append(f"question {pid}: answer count {post['counts']['answers']}, {answers}")
    return out


async def expertise_problems(client: Client, truth: Truth) -> list[str]:
    out = []
    known = set(truth.posts) | set(truth.answers)
    for author in AUTHORS:
        body = await client.ok("GET", f"/api/v1/people/{author}/expertise", as_=WATCHER)
        for topic in body["topics"]:
            keys = [f"{e['kind']}:{e['ref_id']}" for e in topic["evidence"]]
            if dupes := _dupes(keys):
                out.append(f"expertise {author}/{topic['topic']}: evidence twice {dupes[:3]}")
            if extra := {e["ref_id"] for e in topic["evidence"]} - known:
                out.append(f"expertise {author}: evidence activity does not hold {list(extra)[:3]}")
    return out


async def follow_problems(client: Client, ledger: Ledger) -> list[str]:
    out = []
    acked: dict[str, set[str]] = defaultdict(set)
    for write in ledger.of("follow", "acked"):
        who, target = write.key.split(">")
        acked[who].add(target)
    for who, targets in acked.items():
        follows = await pages(client, "/api/v1/follows/me", as_=who)
        have = {f"{'people' if f['target_type'] == 'person' else 'topics'}/{f['target_id']}"
                for f in follows}  # fmt: skip
        if missing := targets - have:
            out.append(f"follows of {who}: acknowledged but missing {sorted(missing)}")
    return out


async def all_problems(client: Client, ledger: Ledger, truth: Truth) -> list[str]:
    """Every disagreement between the services, the store of truth and the ledger."""
    found = ledger_problems(ledger, truth) + counter_problems(ledger, truth)
    found += await search_problems(client, ledger, truth)
    found += await feed_problems(client, truth)
    found += await notification_problems(client, truth)
    found += await expertise_problems(client, truth)
    found += await follow_problems(client, ledger)
    return found
