"""Small local projections the digest reads, kept from consumed events (no call-backs).

- `digest_follows`: topics a person follows (follow created / removed).
- `digest_posts`: recent posts that everyone may read (org-wide or in a public group) with
  their topics, kind, answered state and an activity score (answers, comments, reactions,
  each counted once per event id). A post in a private group is never kept; a group that
  turns private or is deleted takes its posts out.
- `digest_groups`: the newest known state of groups that changed (visibility by revision,
  deleted for good). A post's events and its group's events travel on different
  partitions, so a post may be written after its group was hidden: the digest leaves out
  posts of groups this marks hidden, and a post written into a deleted group is taken out.
- `digest_expertise`: a person's expertise topics (hidden ones dropped).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from services.notify.preferences.repository import PreferenceRepository
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    CommentCreated,
    ReactionSet,
)
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostUpdated
from shared.events.schemas.activity.social import (
    FollowCreated,
    FollowRemoved,
    GroupDeleted,
    GroupUpdated,
)
from shared.events.schemas.profiles import PersonCreated, PersonUpdated
from shared.events.schemas.profiles_expertise import ExpertiseChanged
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore, UpdateResult

FOLLOWS = "digest_follows"
POSTS = "digest_posts"
EXPERTISE = "digest_expertise"
GROUPS = "digest_groups"
# Event ids a post keeps to count each once: more than a batch of the consumer (MAX_BATCH,
# 500), the most a crash or a failed batch's replay redelivers (at 200, a redelivered batch
# of 500 comments on one post counted 350 of them again).
APPLIED_CAP = 512


def _public(audience: str, visibility: str | None) -> bool:
    return audience == "org" or visibility == "public"


def _hides(group: dict[str, Any]) -> bool:
    return bool(group.get("deleted")) or group.get("visibility") != "public"


Activity = AnswerCreated | CommentCreated | ReactionSet
# Called with a person's id when the directory gives them an address (the email intake).
AddressKnown = Callable[[str], Awaitable[object]]


class DigestProjections:
    def __init__(self, store: DocumentStore) -> None:
        self.follows = store.collection(FOLLOWS)
        self.posts = store.collection(POSTS)
        self.expertise = store.collection(EXPERTISE)
        self.groups = store.collection(GROUPS)

    async def prepare(self) -> None:
        await self.follows.create_index([("follower_id", 1)])
        await self.posts.create_index([("topics", 1), ("created_at", -1)])
        await self.posts.create_index([("group_id", 1)])
        await self.expertise.create_index([("person_id", 1)])

    async def followed_topics(self, user_id: str) -> list[str]:
        docs = await self.follows.find({"follower_id": user_id}, projection=["topic"])
        return sorted({d["topic"] for d in docs})

    async def expertise_topics(self, user_id: str) -> list[str]:
        docs = await self.expertise.find({"person_id": user_id}, projection=["topic"])
        return sorted({d["topic"] for d in docs})

    async def top_posts(
        self,
        topics: list[str],
        *,
        since: datetime,
        until: datetime,
        exclude_author: str,
        questions_only: bool = False,
        limit: int = 5,
    ) -> list[dict[str, Any]]:
        if not topics:
            return []
        filter_: dict[str, Any] = {
            "topics": {"$in": topics},
            "created_at": {"$gte": since, "$lte": until},
            "author_id": {"$ne": exclude_author},
        }
        if questions_only:
            filter_.update(kind="question", answered=False)
        # A post written after its group's handler took the group's posts out may be here
        # (see `settle`): leave out groups recorded as hidden, and look again until a page
        # holds none, so the page stays full.
        left_out: set[str] = set()
        while True:
            posts = await self.posts.find(
                filter_, sort=[("score", -1), ("created_at", -1), ("_id", 1)], limit=limit
            )
            hidden = await self.hidden_groups({p["group_id"] for p in posts if p.get("group_id")})
            if not hidden:
                return posts
            left_out.update(hidden)
            filter_["group_id"] = {"$nin": sorted(left_out)}

    async def hidden_groups(self, group_ids: set[str]) -> list[str]:
        """Of `group_ids`, those recorded private or deleted."""
        if not group_ids:
            return []
        docs = await self.groups.find({"_id": {"$in": sorted(group_ids)}})
        return [d["_id"] for d in docs if _hides(d)]

    async def record_visibility(self, group_id: str, visibility: str, revision: int) -> None:
        """Keep the group's visibility as of `revision`, unless a later one is recorded."""
        with contextlib.suppress(DuplicateKeyError):  # a later (or this) revision is there
            await self.groups.update_one(
                {"_id": group_id, "revision": {"$lt": revision}},
                {"$set": {"visibility": visibility, "revision": revision}},
                upsert=True,
            )

    async def record_deleted(self, group_id: str) -> None:
        """A deleted group never comes back: no older update can undo this."""
        await self.groups.update_one({"_id": group_id}, {"$set": {"deleted": True}}, upsert=True)

    async def settle(self, post_id: str, group_id: str | None, written: UpdateResult) -> None:
        """Take out a post just inserted into a group that was deleted meanwhile.

        The group's handler records the deletion before it deletes the group's posts, so
        an insert its delete missed is one made after that record: seen here. A group
        made private keeps such a late entry: `top_posts` leaves it out while the group
        is private, and since the post was public when written, it may show again if a
        later revision (perhaps not handled yet) makes the group public.
        """
        if written.upserted_id is None or group_id is None:
            return
        if await self.groups.count({"_id": group_id, "deleted": True}):
            await self.posts.delete_one({"_id": post_id})

    async def bump(self, post_id: str, event_id: str, where: Activity) -> None:
        """+1 activity, once per event id (redelivery-safe).

        Activity travels on its own partitions, so it may come before its PostCreated: a
        public one then starts the post's entry, which no digest shows before PostCreated
        gives it topics and a date. The entry carries the group, so a group hidden later
        takes it out like any of its posts.
        """
        not_yet = {"_id": post_id, "_applied": {"$ne": event_id}}
        update: dict[str, Any] = {
            "$inc": {"score": 1},
            "$push": {"_applied": {"$each": [event_id], "$slice": -APPLIED_CAP}},
            "$setOnInsert": {"answered": False, "group_id": where.group_id},
        }
        if not _public(where.audience, where.group_visibility):
            await self.posts.update_one(not_yet, update)
            return
        try:
            written = await self.posts.update_one(not_yet, update, upsert=True)
        except DuplicateKeyError:
            # The entry exists: this event is applied already (the update is then a no-op),
            # or PostCreated inserted it meanwhile (the update applies it).
            await self.posts.update_one(not_yet, update)
            return
        await self.settle(post_id, where.group_id, written)

    async def bump_all(self, items: list[tuple[str, str, Activity]]) -> None:
        """`bump` for a run of (post id, event id, event): the same result, with one read of
        the posts for the run and one write per post (not a read and a write per event).

        A post's `score` only ever changes together with its `_applied` (+1 per id), so
        "score unchanged" guards the write; a post that moved since the read, or an entry
        inserted meanwhile, goes back to `bump` one event at a time.
        """
        per_post: dict[str, list[tuple[str, Activity]]] = {}
        for post_id, event_id, where in items:
            per_post.setdefault(post_id, []).append((event_id, where))
        found = {
            d["_id"]: d
            for d in await self.posts.find(
                {"_id": {"$in": list(per_post)}}, projection=["score", "_applied"]
            )
        }
        retry: list[str] = []
        new: list[dict[str, Any]] = []
        for post_id, events in per_post.items():
            doc = found.get(post_id)
            if doc is None:
                # Per event, a bump starts the entry only from a public event on (an earlier
                # private one updates nothing); from then on every event counts.
                first = next(
                    (
                        i
                        for i, (_, w) in enumerate(events)
                        if _public(w.audience, w.group_visibility)
                    ),
                    None,
                )
                if first is not None:
                    ids = _unique([e for e, _ in events[first:]])
                    group_id = events[first][1].group_id
                    new.append(_started(post_id, ids, group_id))
                continue
            applied = list(doc.get("_applied") or [])
            ids = [e for e in _unique([e for e, _ in events]) if e not in applied]
            if not ids:
                continue
            result = await self.posts.update_one(
                {"_id": post_id, "score": doc["score"]},
                {"$inc": {"score": len(ids)}, "$set": {"_applied": (applied + ids)[-APPLIED_CAP:]}},
            )
            if not result.matched_count:
                retry.append(post_id)
        if new:
            try:
                await self.posts.insert_many(new)
            except DuplicateKeyError:  # some inserted meanwhile: redo those one by one
                retry.extend(d["_id"] for d in new)
            # (also after a partial insert: the entries it did write need the check too)
            await self._settle_all(new)
        for post_id in retry:  # `bump` skips what is applied already
            for event_id, where in per_post[post_id]:
                await self.bump(post_id, event_id, where)

    async def _settle_all(self, inserted: list[dict[str, Any]]) -> None:
        """`settle` for entries just inserted: take out those of groups deleted meanwhile."""
        groups = {d["group_id"] for d in inserted if d.get("group_id")}
        if not groups:
            return
        gone = await self.groups.find({"_id": {"$in": sorted(groups)}, "deleted": True})
        if gone:
            await self.posts.delete_many({"group_id": {"$in": [g["_id"] for g in gone]}})


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _started(post_id: str, ids: list[str], group_id: str | None) -> dict[str, Any]:
    """The entry a bump starts before its post is known (what `bump`'s upsert writes)."""
    return {
        "_id": post_id,
        "score": len(ids),
        "_applied": ids[-APPLIED_CAP:],
        "answered": False,
        "group_id": group_id,
    }


def _bumped(event: Event, data: Any) -> tuple[str, str, Activity] | None:
    """(post id, event id, event) of an event that bumps a post's activity, else None."""
    if isinstance(data, AnswerCreated):
        return data.question_id, event.id, data
    if isinstance(data, CommentCreated):
        return data.post_id, event.id, data
    if isinstance(data, ReactionSet) and data.previous_kind is None:
        return data.post_id, event.id, data
    return None


def build_dispatcher(
    p: DigestProjections,
    prefs: PreferenceRepository | None = None,
    address_known: AddressKnown | None = None,
) -> EventDispatcher:
    """The email group's handlers: the digests' projections and, with `prefs`, each
    person's work email from the directory (where mail goes by default), then
    `address_known(person)` so that mail a moment ago found no address goes out after all."""
    dispatcher = EventDispatcher(registry)

    @dispatcher.on(FollowCreated)
    async def follow_created(event: Event, data: FollowCreated) -> None:
        if data.target_type == "topic":
            doc = {"follower_id": data.follower_id, "topic": data.target_id}
            await p.follows.update_one({"_id": data.id}, {"$set": doc}, upsert=True)

    @dispatcher.on(FollowRemoved)
    async def follow_removed(event: Event, data: FollowRemoved) -> None:
        await p.follows.delete_one({"_id": data.id})

    @dispatcher.on(PostCreated)
    async def post_created(event: Event, data: PostCreated) -> None:
        if not _public(data.audience, data.group_visibility):
            return
        fields = {
            "kind": data.kind,
            "author_id": data.author_id,
            "title": data.title,
            "topics": data.topics,
            "group_id": data.group_id,
            "created_at": data.created_at,
        }
        written = await p.posts.update_one(
            {"_id": data.id},
            {"$set": fields, "$setOnInsert": {"score": 0, "answered": False, "_applied": []}},
            upsert=True,
        )
        await p.settle(data.id, data.group_id, written)

    @dispatcher.on(PostUpdated)
    async def post_updated(event: Event, data: PostUpdated) -> None:
        if not _public(data.audience, data.group_visibility):
            await p.posts.delete_one({"_id": data.id})
            return
        await p.posts.update_one(
            {"_id": data.id}, {"$set": {"title": data.title, "topics": data.topics}}
        )

    @dispatcher.on(PostDeleted)
    async def post_deleted(event: Event, data: PostDeleted) -> None:
        await p.posts.delete_one({"_id": data.id})

    # Record first, then delete: a post written after the delete finds the record (`settle`).
    @dispatcher.on(GroupUpdated)
    async def group_updated(event: Event, data: GroupUpdated) -> None:
        await p.record_visibility(data.id, data.visibility, data.revision)
        if await p.hidden_groups({data.id}):  # the newest state, not a redelivered older one
            await p.posts.delete_many({"group_id": data.id})

    @dispatcher.on(GroupDeleted)
    async def group_deleted(event: Event, data: GroupDeleted) -> None:
        await p.record_deleted(data.id)
        await p.posts.delete_many({"group_id": data.id})

    @dispatcher.on(AnswerAccepted)
    async def answer_accepted(event: Event, data: AnswerAccepted) -> None:
        await p.posts.update_one({"_id": data.question_id}, {"$set": {"answered": data.accepted}})

    @dispatcher.on(AnswerCreated)
    async def answer_created(event: Event, data: AnswerCreated) -> None:
        await p.bump(data.question_id, event.id, data)

    @dispatcher.on(CommentCreated)
    async def comment_created(event: Event, data: CommentCreated) -> None:
        await p.bump(data.post_id, event.id, data)

    @dispatcher.on(ReactionSet)
    async def reaction_set(event: Event, data: ReactionSet) -> None:
        if data.previous_kind is None:
            await p.bump(data.post_id, event.id, data)

    @dispatcher.on_batch(AnswerCreated, CommentCreated, ReactionSet)
    async def bump_batch(items: list[tuple[Event, Any]]) -> None:
        await p.bump_all([b for e, d in items if (b := _bumped(e, d)) is not None])

    @dispatcher.on(ExpertiseChanged)
    async def expertise_changed(event: Event, data: ExpertiseChanged) -> None:
        if data.hidden:
            await p.expertise.delete_one({"_id": data.id})
            return
        doc = {"person_id": data.person_id, "topic": data.topic_id}
        await p.expertise.update_one({"_id": data.id}, {"$set": doc}, upsert=True)

    if prefs is not None:
        directory = prefs

        async def directory_email(person_id: str, email: str | None, *, joined: bool) -> None:
            first_address = await directory.set_directory_email(person_id, email)
            # Only where a notification can have found no address: a joiner (every
            # delivery of their creation, so a redelivery after a crash still does it), or
            # someone who had none. Not on every profile edit: on the test FerretDB the
            # look-up reads all of the person's notifications.
            if email and address_known is not None and (joined or first_address):
                await address_known(person_id)

        # In order per person (the key), so the last one wins, redelivered or not.
        @dispatcher.on(PersonCreated)
        async def person_created(event: Event, data: PersonCreated) -> None:
            await directory_email(data.id, data.email, joined=True)

        @dispatcher.on(PersonUpdated)
        async def person_updated(event: Event, data: PersonUpdated) -> None:
            await directory_email(data.id, data.email, joined=False)

    return dispatcher
