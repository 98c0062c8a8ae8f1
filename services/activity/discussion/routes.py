"""Comments and reactions over HTTP: parse, call the use case, map errors.

No `from __future__ import annotations` here: FastAPI resolves the dependency aliases
built inside `build_router` at definition time.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from services.activity.directory import author_view
from services.activity.discussion import examples
from services.activity.discussion.domain import (
    MAX_COMMENT_CHARS,
    DiscussionRuleViolation,
    TargetType,
)
from services.activity.discussion.service import DiscussionService
from services.activity.posts.activitystreams import as2_reply, wants_activity_streams
from services.activity.posts.routes import Author, as2_response
from services.activity.problems import as_problems
from shared.events.schemas.activity.discussion import ReactionKind
from shared.http import Page, PageDep, PrincipalDep
from shared.http.ratelimit import limited

# URL segment -> target type
_PLURALS: dict[str, TargetType] = {"posts": "post", "answers": "answer", "comments": "comment"}


class CommentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.COMMENT_IN, examples.REPLY_IN]}
    )

    text: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)
    parent_id: str | None = Field(None, min_length=1, max_length=100)


class CommentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.COMMENT]})

    id: str
    post_id: str
    parent_id: str | None
    author_id: str | None
    author: Author | None = Field(description="None on a deleted comment kept for its replies")
    body_md: str
    body_html: str
    text: str
    created_at: datetime
    deleted: bool
    counts: dict[str, int]
    reactions_by_kind: dict[str, int]

    @classmethod
    def of(cls, doc: dict[str, Any], people: dict[str, dict[str, Any]]) -> "CommentOut":
        """`people`: display data by user id (Directory.people); an id not in it shows bare."""
        author_id = doc["author_id"]
        author = (
            None if author_id is None else people.get(author_id) or author_view(author_id, None)
        )
        return cls.model_validate({**doc, "id": doc["_id"], "author": author})


class ReactionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.REACTION_IN]}
    )

    kind: ReactionKind


class ReactionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REACTION]})

    kind: ReactionKind | None
    previous_kind: ReactionKind | None


class ReactionsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REACTIONS]})

    total: int
    by_kind: dict[str, int]
    mine: ReactionKind | None


def build_router(
    discussion: DiscussionService, *, route_class: type[APIRoute] = APIRoute
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["discussion"], route_class=route_class)

    def get_service() -> DiscussionService:
        return discussion

    Discussion = Annotated[DiscussionService, Depends(get_service)]
    Targets = Literal["posts", "answers", "comments"]

    @router.post(
        "/posts/{post_id}/comments",
        status_code=status.HTTP_201_CREATED,
        response_model=CommentOut,
        **limited("comment"),
    )
    async def comment(
        post_id: str, body: CommentIn, principal: PrincipalDep, svc: Discussion
    ) -> CommentOut:
        """Comment on a post, or reply to one of its top-level comments."""
        async with as_problems(DiscussionRuleViolation):
            doc = await svc.comment(principal, post_id, body.text, body.parent_id)
        return CommentOut.of(doc, await svc.people([doc["author_id"]]))

    @router.get("/posts/{post_id}/comments", response_model=Page[CommentOut])
    async def thread(
        post_id: str, principal: PrincipalDep, page: PageDep, svc: Discussion
    ) -> Page[CommentOut]:
        """A post's comments, oldest first, flat: a reply names its parent in `parent_id`."""
        async with as_problems(DiscussionRuleViolation):
            docs = await svc.thread(principal, post_id, limit=page.fetch_limit, after=page.after)
        people = await svc.people(d["author_id"] for d in docs if d["author_id"] is not None)
        items = [CommentOut.of(d, people) for d in docs]
        return page.page(items, lambda c: {"created_at": c.created_at, "_id": c.id})

    @router.get("/comments/{comment_id}", response_model=CommentOut, name="read_comment")
    async def read_comment(
        comment_id: str,
        principal: PrincipalDep,
        svc: Discussion,
        request: Request,
        response: Response,
        accept: Annotated[str | None, Header()] = None,
    ) -> Any:
        """One comment, as JSON or as an Activity Streams 2.0 Note (by Accept)."""
        async with as_problems(DiscussionRuleViolation):
            doc = await svc.read_comment(principal, comment_id)
        people = await svc.people([doc["author_id"], *doc.get("mentions", [])])
        if wants_activity_streams(accept):
            parent = doc.get("parent_id")
            in_reply_to = (
                request.url_for("read_comment", comment_id=parent)
                if parent
                else request.url_for("read_post", post_id=doc["post_id"])
            )
            obj = as2_reply(
                doc,
                reply_url=str(request.url_for("read_comment", comment_id=comment_id)),
                in_reply_to=str(in_reply_to),
                people=people,
                base_url=str(request.base_url),
            )
            return as2_response(obj, accept)
        response.headers["Vary"] = "Accept"
        return CommentOut.of(doc, people)

    @router.delete("/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_comment(comment_id: str, principal: PrincipalDep, svc: Discussion) -> Response:
        """Delete a comment (its author or a moderator)."""
        async with as_problems(DiscussionRuleViolation):
            await svc.delete_comment(principal, comment_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.put(
        "/{targets}/{target_id}/reactions", response_model=ReactionOut, **limited("reaction")
    )
    async def react(
        targets: Targets, target_id: str, body: ReactionIn, principal: PrincipalDep, svc: Discussion
    ) -> ReactionOut:
        """Set or change your reaction to a post, answer or comment."""
        async with as_problems(DiscussionRuleViolation):
            out = await svc.react(principal, _PLURALS[targets], target_id, body.kind)
        return ReactionOut.model_validate(out)

    @router.delete("/{targets}/{target_id}/reactions", response_model=ReactionOut)
    async def unreact(
        targets: Targets, target_id: str, principal: PrincipalDep, svc: Discussion
    ) -> ReactionOut:
        """Remove your reaction."""
        async with as_problems(DiscussionRuleViolation):
            out = await svc.react(principal, _PLURALS[targets], target_id, None)
        return ReactionOut.model_validate(out)

    @router.get("/{targets}/{target_id}/reactions", response_model=ReactionsOut)
    async def reactions(
        targets: Targets, target_id: str, principal: PrincipalDep, svc: Discussion
    ) -> ReactionsOut:
        """Reaction counts by kind, and yours."""
        async with as_problems(DiscussionRuleViolation):
            out = await svc.reactions(principal, _PLURALS[targets], target_id)
        return ReactionsOut.model_validate(out)

    return router
