"""Follow routes under `/api/v1/follows` (the gateway sends `/api/v1/people` to profiles).

PUT follows (201 when new, 200 when it already held); DELETE unfollows (204, also when
there was nothing to remove). No `from __future__ import annotations`: FastAPI resolves
the dependency aliases built inside `build_router` at definition time.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, ConfigDict

from services.activity.social import examples
from services.activity.social.domain import FollowRuleViolation, TargetType, topic_target
from services.activity.social.service import FollowService
from shared.http import Page, PageDep, PageParams, PrincipalDep, Unprocessable
from shared.http.ratelimit import limited

UserId = Annotated[str, Path(min_length=1, max_length=128, examples=["ana"])]
RawTopic = Annotated[str, Path(min_length=1, max_length=100, examples=["kubernetes"])]


class FollowOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.FOLLOW, examples.FOLLOW_TOPIC]}
    )

    follower_id: str
    target_type: TargetType
    target_id: str
    created_at: datetime


class StatsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.STATS]})

    followers: int
    following: int


def _page(page: PageParams, docs: list[dict[str, Any]]) -> Page[FollowOut]:
    items = [(FollowOut.model_validate(d), d["_id"]) for d in docs]
    shown = page.page(items, lambda it: {"created_at": it[0].created_at, "_id": it[1]})
    return Page(items=[it[0] for it in shown.items], next_cursor=shown.next_cursor)


def _topic(raw: str) -> str:
    try:
        return topic_target(raw)
    except FollowRuleViolation as exc:
        raise Unprocessable(detail=str(exc)) from exc


def build_router(follows: FollowService) -> APIRouter:
    router = APIRouter(prefix="/api/v1/follows", tags=["follows"])

    def get_follows() -> FollowService:
        return follows

    Follows = Annotated[FollowService, Depends(get_follows)]

    async def follow(
        svc: FollowService, me: str, target_type: TargetType, target_id: str, response: Response
    ) -> FollowOut:
        try:
            doc, created = await svc.follow(me, target_type, target_id)
        except FollowRuleViolation as exc:
            raise Unprocessable(detail=str(exc)) from exc
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return FollowOut.model_validate(doc)

    @router.put("/people/{user_id}", response_model=FollowOut, status_code=201, **limited("follow"))
    async def follow_person(
        user_id: UserId, principal: PrincipalDep, svc: Follows, response: Response
    ) -> FollowOut:
        """Follow a person (201 when new, 200 when already followed)."""
        return await follow(svc, principal.user_id, "person", user_id, response)

    @router.delete("/people/{user_id}", status_code=204)
    async def unfollow_person(user_id: UserId, principal: PrincipalDep, svc: Follows) -> None:
        """Stop following a person (204 even when you did not follow them)."""
        await svc.unfollow(principal.user_id, "person", user_id)

    @router.put("/topics/{topic}", response_model=FollowOut, status_code=201, **limited("follow"))
    async def follow_topic(
        topic: RawTopic, principal: PrincipalDep, svc: Follows, response: Response
    ) -> FollowOut:
        """Follow a topic, normalized (201 when new, 200 when already followed)."""
        return await follow(svc, principal.user_id, "topic", _topic(topic), response)

    @router.delete("/topics/{topic}", status_code=204)
    async def unfollow_topic(topic: RawTopic, principal: PrincipalDep, svc: Follows) -> None:
        """Stop following a topic (204 even when you did not follow it)."""
        await svc.unfollow(principal.user_id, "topic", _topic(topic))

    @router.get("/me", response_model=Page[FollowOut])
    async def mine(principal: PrincipalDep, page: PageDep, svc: Follows) -> Page[FollowOut]:
        """What I follow (people and topics), newest first."""
        docs = await svc.following(principal.user_id, limit=page.fetch_limit, after=page.after)
        return _page(page, docs)

    @router.get("/people/{user_id}/followers", response_model=Page[FollowOut])
    async def person_followers(
        user_id: UserId, principal: PrincipalDep, page: PageDep, svc: Follows
    ) -> Page[FollowOut]:
        """Who follows a person, newest first."""
        docs = await svc.followers("person", user_id, limit=page.fetch_limit, after=page.after)
        return _page(page, docs)

    @router.get("/people/{user_id}/following", response_model=Page[FollowOut])
    async def person_following(
        user_id: UserId, principal: PrincipalDep, page: PageDep, svc: Follows
    ) -> Page[FollowOut]:
        """What a person follows (people and topics), newest first."""
        docs = await svc.following(user_id, limit=page.fetch_limit, after=page.after)
        return _page(page, docs)

    @router.get("/people/{user_id}/stats", response_model=StatsOut)
    async def person_stats(user_id: UserId, principal: PrincipalDep, svc: Follows) -> StatsOut:
        """How many people follow a person, and how many people and topics they follow."""
        return StatsOut.model_validate(await svc.stats("person", user_id))

    @router.get("/topics/{topic}/followers", response_model=Page[FollowOut])
    async def topic_followers(
        topic: RawTopic, principal: PrincipalDep, page: PageDep, svc: Follows
    ) -> Page[FollowOut]:
        """Who follows a topic, newest first."""
        docs = await svc.followers("topic", _topic(topic), limit=page.fetch_limit, after=page.after)
        return _page(page, docs)

    @router.get("/topics/{topic}/stats", response_model=StatsOut)
    async def topic_stats(topic: RawTopic, principal: PrincipalDep, svc: Follows) -> StatsOut:
        """How many people follow a topic (`following` is always 0)."""
        return StatsOut.model_validate(await svc.stats("topic", _topic(topic)))

    return router
