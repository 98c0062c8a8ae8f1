"""Small local projections the digest reads, kept from consumed events (no call-backs).

- `digest_follows`: topics a person follows (follow created / removed).
- `digest_posts`: recent posts that everyone may read (org-wide or in a public group) with
  their topics, kind, answered state and an activity score (answers, comments, reactions,
  each counted once per event id). A post in a private group is never kept; a group that
  turns private or is deleted takes its posts out.
- `digest_expertise`: a person's expertise topics (hidden ones dropped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from shared.events.schemas.profiles_expertise import ExpertiseChanged
from shared.store.port import DocumentStore

FOLLOWS = "digest_follows"
POSTS = "digest_posts"
EXPERTISE = "digest_expertise"
APPLIED_CAP = 200


def _public(audience: str, visibility: str | None) -> bool:
    return audience == "org" or visibility == "public"


class DigestProjections:
    def __init__(self, store: DocumentStore) -> None:
        self.follows = store.collection(FOLLOWS)
        self.posts = store.collection(POSTS)
        self.expertise = store.collection(EXPERTISE)

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
        return await self.posts.find(
            filter_, sort=[("score", -1), ("created_at", -1), ("_id", 1)], limit=limit
        )

    async def bump(self, post_id: str, event_id: str) -> None:
        """+1 activity, once per event id (redelivery-safe)."""
        await self.posts.update_one(
            {"_id": post_id, "_applied": {"$ne": event_id}},
            {
                "$inc": {"score": 1},
                "$push": {"_applied": {"$each": [event_id], "$slice": -APPLIED_CAP}},
            },
        )


def build_dispatcher(p: DigestProjections) -> EventDispatcher:
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
        await p.posts.update_one(
            {"_id": data.id},
            {"$set": fields, "$setOnInsert": {"score": 0, "answered": False, "_applied": []}},
            upsert=True,
        )

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

    @dispatcher.on(GroupUpdated)
    async def group_updated(event: Event, data: GroupUpdated) -> None:
        if data.visibility != "public":
            await p.posts.delete_many({"group_id": data.id})

    @dispatcher.on(GroupDeleted)
    async def group_deleted(event: Event, data: GroupDeleted) -> None:
        await p.posts.delete_many({"group_id": data.id})

    @dispatcher.on(AnswerAccepted)
    async def answer_accepted(event: Event, data: AnswerAccepted) -> None:
        await p.posts.update_one({"_id": data.question_id}, {"$set": {"answered": data.accepted}})

    @dispatcher.on(AnswerCreated)
    async def answer_created(event: Event, data: AnswerCreated) -> None:
        await p.bump(data.question_id, event.id)

    @dispatcher.on(CommentCreated)
    async def comment_created(event: Event, data: CommentCreated) -> None:
        await p.bump(data.post_id, event.id)

    @dispatcher.on(ReactionSet)
    async def reaction_set(event: Event, data: ReactionSet) -> None:
        if data.previous_kind is None:
            await p.bump(data.post_id, event.id)

    @dispatcher.on(ExpertiseChanged)
    async def expertise_changed(event: Event, data: ExpertiseChanged) -> None:
        if data.hidden:
            await p.expertise.delete_one({"_id": data.id})
            return
        doc = {"person_id": data.person_id, "topic": data.topic_id}
        await p.expertise.update_one({"_id": data.id}, {"$set": doc}, upsert=True)

    return dispatcher
