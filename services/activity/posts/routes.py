"""Activity's HTTP routes: parse, call the use case, map errors. Nothing else.

No `from __future__ import annotations` here: FastAPI resolves the dependency aliases
built inside `build_router` at definition time.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from services.activity.posts.domain import (
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    NewPost,
    PostKind,
    PostRuleViolation,
)
from services.activity.posts.service import PostService
from shared.http import NotFound, Page, PageDep, PrincipalDep, Unprocessable


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: PostKind = "note"
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20
    )


class PostOut(BaseModel):
    id: str
    kind: PostKind
    author_id: str
    audience: str
    group_id: str | None
    title: str | None
    text: str
    topics: list[str]
    created_at: datetime
    edited_at: datetime | None
    revision: int
    counts: dict[str, int]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "PostOut":
        return cls.model_validate({**doc, "id": doc["_id"]})


def build_router(posts: PostService) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["posts"])

    def get_posts() -> PostService:
        return posts

    Posts = Annotated[PostService, Depends(get_posts)]

    @router.post("/posts", status_code=status.HTTP_201_CREATED, response_model=PostOut)
    async def create(body: PostIn, principal: PrincipalDep, svc: Posts) -> PostOut:
        """Publish a post to the whole organisation."""
        cmd = NewPost(kind=body.kind, text=body.text, title=body.title, tags=body.tags)
        try:
            doc = await svc.publish(cmd, author_id=principal.user_id)
        except PostRuleViolation as exc:
            raise Unprocessable(detail=str(exc)) from exc
        return PostOut.of(doc)

    @router.get("/posts/{post_id}", response_model=PostOut)
    async def read(post_id: str, principal: PrincipalDep, svc: Posts) -> PostOut:
        """One post."""
        doc = await svc.get(post_id)
        if doc is None:
            raise NotFound(detail=f"post {post_id} not found")
        return PostOut.of(doc)

    @router.get("/posts", response_model=Page[PostOut])
    async def feed(principal: PrincipalDep, page: PageDep, svc: Posts) -> Page[PostOut]:
        """The organisation-wide feed, newest first."""
        docs = await svc.org_feed(limit=page.fetch_limit, after=page.after)
        items = [PostOut.of(d) for d in docs]
        return page.page(items, lambda p: {"created_at": p.created_at, "_id": p.id})

    return router
