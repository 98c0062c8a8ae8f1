"""Home timelines, written as things happen (fan-out on write) by the `activity.feeds` consumer.

Sources above the fan-out threshold (people and topics by `follow_stats` followers, groups
by `member_count`) are not fanned out: the home read merges their newest posts in.
Timelines are trimmed lazily: about one insert in `cap / 8` per person triggers a trim of
that person's timeline back to `cap` entries (see `domain.should_trim`), so a timeline
stays near the cap without a per-person counter on the fan-out's hot path.

The hot path reads no follows and no entries: who a source reaches comes from its
`feed_audiences` list (one document by `_id`, kept from follow and membership events, see
`audiences.py`), and the entries are written by `entries.EntryWriter`. A private group's
members are read from `memberships` itself, so such a post reaches exactly the members
of the moment. After writing, the fan-out reads the audience once more (`_settle`): an
unfollow or a leave handled meanwhile found no entry to remove yet, so the fan-out
removes it. Entries of a group post then take the group's visibility of now
(`settle_visibility`), whatever the event carried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from services.activity.access import Access
from services.activity.feeds.audiences import AudienceLists, Kind
from services.activity.feeds.domain import (
    REFRESHED_FIELDS,
    Audience,
    entry_id,
    recipients,
    should_trim,
    still_reachable,
    timeline_entry,
)
from services.activity.feeds.entries import EntryWriter
from services.activity.feeds.repository import Sources, TimelineRepository
from shared.http import Principal
from shared.settle import settle

log = structlog.get_logger()
BACKFILL = 50
_MAX_SETTLE_ROUNDS = 20


@dataclass(frozen=True)
class BigSources:
    """Which of a set of sources are above the fan-out threshold (merged on read)."""

    people: frozenset[str]
    topics: frozenset[str]
    groups: frozenset[str]

    @property
    def any(self) -> bool:
        return bool(self.people or self.topics or self.groups)


async def big_sources(
    sources: Sources,
    threshold: int,
    *,
    people: Iterable[str] = (),
    topics: Iterable[str] = (),
    groups: Iterable[str] = (),
) -> BigSources:
    keys = [f"person:{p}" for p in people] + [f"topic:{t}" for t in topics]
    big = [k for k, n in (await sources.follower_counts(keys)).items() if n > threshold]
    members = await sources.member_counts(groups)
    return BigSources(
        people=frozenset(k.removeprefix("person:") for k in big if k.startswith("person:")),
        topics=frozenset(k.removeprefix("topic:") for k in big if k.startswith("topic:")),
        groups=frozenset(g for g, n in members.items() if n > threshold),
    )


def _kind(target_type: str) -> Kind:
    if target_type not in ("person", "topic"):
        raise ValueError(f"not a follow target: {target_type!r}")
    return "person" if target_type == "person" else "topic"


async def _nobody() -> list[str]:
    return []


class FanOutContention(RuntimeError):
    """Who a post reaches, or its group's visibility, kept moving: the event is retried."""


async def settle_visibility(
    post: Mapping[str, Any],
    current: Callable[[], Awaitable[str]],
    apply: Callable[[str], Awaitable[object]],
) -> None:
    """Give a group post's entries the group's visibility of now, until a re-read agrees.

    An event carries the visibility of when it was written. A change of visibility (the
    group's key, handled concurrently) may be handled before this post's entries are
    written from such an event: they would keep the old one (a public post hidden, or a
    private one marked public). The group document changes before its event is handled,
    so reading it after writing either sees the change (corrected here) or precedes it
    (its handler then runs after these writes). Read again after every correction, so the
    last write is never an older value than the group's.
    """
    post_id = post.get("_id") or post["id"]

    def moving() -> Exception:
        return FanOutContention(f"post {post_id}: visibility still moving")

    copied: str = post.get("group_visibility") or "private"  # a group post has one
    await settle(current, apply, written=copied, error=moving)


class FanOut:
    def __init__(
        self,
        timelines: TimelineRepository,
        sources: Sources,
        access: Access,
        *,
        threshold: int,
        cap: int,
        audiences: AudienceLists,
        writer: EntryWriter,
    ) -> None:
        self._timelines = timelines
        self._sources = sources
        self._access = access
        self._audiences = audiences
        self._writer = writer
        self._threshold = threshold
        self._cap = cap
        self._trim_every = max(1, cap // 8)
        self._pending_trims: set[str] = set()
        self._trim_wanted = asyncio.Event()

    async def post_created(self, post: Mapping[str, Any]) -> int:
        """Write the post into the timeline of everyone it reaches (idempotent)."""
        group_id = post.get("group_id") if post.get("audience") == "group" else None
        big = await big_sources(
            self._sources,
            self._threshold,
            people=[post["author_id"]],
            topics=list(post.get("topics") or []),
            groups=[group_id] if group_id else [],
        )
        users = recipients(post, await self._reach(post, big))
        author = post["author_id"]
        post_id = post.get("_id") or post["id"]
        await self._writer.write(
            [timeline_entry(u, post) for u in sorted(users) if u != author],
            last=timeline_entry(author, post),
        )
        users = await self._settle(post, users, big)
        await self._settle_visibility(post)
        # Trimming is a query per person (a full scan on FerretDB): a big fan-out would hold
        # the consumer for a minute. The sampled people are trimmed by `trim_pending` instead.
        sampled = [u for u in users if should_trim(u, post_id, self._trim_every)]
        if sampled:
            self._pending_trims.update(sampled)
            self._trim_wanted.set()
        log.info("activity.feeds.fanned_out", post_id=post_id, recipients=len(users))
        return len(users)

    async def _reach(self, post: Mapping[str, Any], big: BigSources) -> Audience:
        """Who the post's sources below the threshold reach now."""
        topics = list(post.get("topics") or [])
        group_id = post.get("group_id") if post.get("audience") == "group" else None
        private = post.get("audience") == "group" and post.get("group_visibility") != "public"
        people: list[tuple[Kind, str]] = []
        tagged: list[tuple[Kind, str]] = []
        if not private:
            if post["author_id"] not in big.people:
                people.append(("person", post["author_id"]))
            tagged = [("topic", t) for t in topics if t not in big.topics]
        reached = group_id if group_id and group_id not in big.groups else None
        public_group: list[tuple[Kind, str]] = []
        if reached and not private:
            public_group.append(("group", reached))
        # Private: the members of the moment, never a list that may lag a removal.
        members = (
            self._sources.members(reached)
            if reached and private
            else _nobody()  # created only when awaited below (no stray coroutine)
        )
        # One read of every list the post needs (one `$in`, not one read per source).
        lists, private_members = await asyncio.gather(
            self._audiences.lists([*people, *tagged, *public_group]), members
        )
        return Audience(
            [user for source in people for user in lists[source]],
            [user for source in tagged for user in lists[source]],
            [user for source in public_group for user in lists[source]] + private_members,
        )

    async def _settle(
        self, post: Mapping[str, Any], written: set[str], big: BigSources
    ) -> set[str]:
        """Read the audience again after writing, until it agrees with the entries written.

        An unfollow or a leave (other keys, handled concurrently) may run between the
        fan-out's read and its writes: it removes its person from the audience, finds no
        entry to delete yet, and the fan-out then writes one. Every such removal precedes
        this re-read, which drops the person's entry; one after it is handled after these
        writes, by its own handler. Someone back since a removal here (a follow again,
        whose backfill the removal undid) gets the entry again, and the audience is read
        once more after every correction. One extra read when nothing moved.
        """
        post_id = post.get("_id") or post["id"]
        done = written

        async def read() -> set[str]:
            return recipients(post, await self._reach(post, big))

        async def write(now: set[str]) -> None:
            # The author is always among the recipients: their entry (the writer's mark of
            # a finished fan-out) is never removed here.
            nonlocal done
            gone = sorted(done - now)
            await self._timelines.remove_ids(entry_id(u, post_id) for u in gone)
            await self._timelines.add([timeline_entry(u, post) for u in sorted(now - done)])
            log.info("activity.feeds.fanout_settled", post_id=post_id, removed=len(gone))
            done = now

        def moving() -> Exception:
            return FanOutContention(f"post {post_id}: its audience is still moving")

        return await settle(read, write, written=written, error=moving, rounds=_MAX_SETTLE_ROUNDS)

    async def _settle_visibility(self, post: Mapping[str, Any]) -> None:
        """Entries carry the group's visibility now, not the one in a lagging event."""
        group_id = post.get("group_id")
        if group_id:
            await settle_visibility(
                post,
                lambda: self._sources.group_visibility(group_id),
                lambda visibility: self._timelines.set_post_visibility(
                    post.get("_id") or post["id"], visibility
                ),
            )

    async def trim_pending(self) -> None:
        """Background job: trim the timelines fan-outs sampled, one person at a time.

        Pending people live in memory only: after a restart they are simply sampled again by
        later posts (trimming is lazy by design); a timeline is never wrong meanwhile, only
        longer than the cap.
        """
        while True:
            await self._trim_wanted.wait()
            self._trim_wanted.clear()
            while self._pending_trims:
                user = self._pending_trims.pop()
                try:
                    await self._timelines.trim(user, self._cap)
                except Exception as exc:  # a store hiccup: the next sample retries
                    log.warning("activity.feeds.trim_failed", user_id=user, error=str(exc))

    async def post_updated(self, post: Mapping[str, Any]) -> None:
        fields = {name: post.get(name) for name in REFRESHED_FIELDS}
        fields["topics"] = list(fields["topics"] or [])
        await self._timelines.refresh_post(post["id"], fields)
        await self._settle_visibility(post)

    async def question_state_changed(self, question_id: str) -> None:
        """An answer was accepted or un-accepted: timelines copy no question state."""

    async def post_deleted(self, post_id: str) -> None:
        removed = await self._timelines.remove_post(post_id)
        log.info("activity.feeds.post_removed", post_id=post_id, entries=removed)

    async def followed(self, follower_id: str, target_type: str, target_id: str) -> None:
        """Add the follower to the source's list; backfill its newest posts."""
        await self._audiences.added(_kind(target_type), target_id, follower_id)
        if target_type == "person":
            big = await big_sources(self._sources, self._threshold, people=[target_id])
            source: dict[str, Any] = {"author_id": target_id}
        else:
            big = await big_sources(self._sources, self._threshold, topics=[target_id])
            source = {"topics": target_id}
        if big.any:
            return  # merged on read
        await self._backfill(follower_id, source)

    async def unfollowed(self, follower_id: str, target_type: str, target_id: str) -> None:
        """Drop the follower from the list, and the source's entries no other source brings."""
        await self._audiences.removed(_kind(target_type), target_id, follower_id)
        field = "author_id" if target_type == "person" else "topics"
        entries = await self._timelines.of_user(follower_id, {field: target_id})
        follows = await self._sources.follows_of(follower_id)
        gone = [e["_id"] for e in entries if not still_reachable(e, follows)]
        await self._timelines.remove_ids(gone)

    async def membership_changed(self, user_id: str, group_id: str, *, active: bool) -> None:
        """Keep the group's member list: active members only."""
        if active:
            await self._audiences.added("group", group_id, user_id)
        else:
            await self._audiences.removed("group", group_id, user_id)

    async def group_created(self, group_id: str, owner_id: str) -> None:
        """The creator is the first member (no membership event says so)."""
        await self._audiences.added("group", group_id, owner_id)

    async def joined(self, user_id: str, group_id: str) -> None:
        big = await big_sources(self._sources, self._threshold, groups=[group_id])
        if not big.any:
            await self._backfill(user_id, {"group_id": group_id})

    async def left(self, user_id: str, group_id: str, visibility: str) -> None:
        """Leaving a private group removes all its entries; a public one keeps followed ones."""
        if visibility != "public":
            await self._timelines.remove_group(group_id, user_id)
            return
        entries = await self._timelines.of_user(user_id, {"group_id": group_id})
        follows = await self._sources.follows_of(user_id)
        await self._timelines.remove_ids(
            e["_id"] for e in entries if not still_reachable(e, follows)
        )

    async def group_visibility_changed(self, group_id: str, visibility: str) -> None:
        await self._timelines.set_group_visibility(group_id, visibility)

    async def group_deleted(self, group_id: str) -> None:
        await self._timelines.remove_group(group_id)
        await self._audiences.dropped("group", group_id)

    async def _backfill(self, user_id: str, source: dict[str, Any]) -> None:
        """The source's newest posts into `user_id`'s timeline, except `user_id`'s own.

        A person's entry of their own post is written by that post's fan-out alone, last:
        it is `EntryWriter`'s mark of a finished fan-out. Backfilled, it would tell a
        fan-out still to come (its event lagging behind this follow or join) that it had
        run, and the post would reach no one without an entry yet. The fan-out writes it.
        """
        readable = await self._access.readable_filter(Principal(user_id=user_id))
        posts = await self._newest_posts(source, readable)
        await self._timelines.add(
            [timeline_entry(user_id, p) for p in posts if p["author_id"] != user_id]
        )
        await self._timelines.trim(user_id, self._cap)

    async def _newest_posts(
        self, source: dict[str, Any], readable: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The source's newest BACKFILL posts `readable` allows."""
        return await self._sources.posts(source, readable, limit=BACKFILL, after=None)
