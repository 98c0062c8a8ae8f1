"""Posts' HTTP routes: parse, call the use case, map errors. Nothing else.

No `from __future__ import annotations` here: FastAPI resolves the dependency aliases
built inside `build_router` at definition time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from services.activity.directory import author_view
from services.activity.posts import examples
from services.activity.posts.activitystreams import as2_post, media_type_for, wants_activity_streams
from services.activity.posts.domain import (
    MAX_ARTICLE_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    NewPost,
    PostKind,
    PostRuleViolation,
    ResourceType,
)
from services.activity.posts.service import (
    EditConflict,
    GroupNotFound,
    NotAllowed,
    PostNotFound,
    PostService,
)
from shared.http import (
    Conflict,
    Forbidden,
    NotFound,
    Page,
    PageDep,
    PrincipalDep,
    Unprocessable,
    problem_type,
)
from shared.http.ratelimit import limited

Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_CHARS)]


class PostIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [examples.NEW_NOTE, examples.NEW_QUESTION, examples.NEW_RESOURCE]
        },
    )

    kind: PostKind = "note"
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    body_md: str = Field("", max_length=MAX_ARTICLE_CHARS, description="Markdown (CommonMark)")
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    url: str | None = Field(None, max_length=MAX_URL_CHARS, description="resources: http(s)")
    resource_type: ResourceType | None = None
    group_id: str | None = Field(None, min_length=1, max_length=200)


class PostPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.POST_PATCH]})

    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    body_md: str | None = Field(None, max_length=MAX_ARTICLE_CHARS)
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    url: str | None = Field(None, max_length=MAX_URL_CHARS)
    resource_type: ResourceType | None = None


class Author(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.AUTHOR]})

    id: str
    handle: str | None
    display_name: str
    avatar_url: str | None


class PostOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.NOTE, examples.QUESTION]})

    id: str
    kind: PostKind
    author_id: str
    author: Author
    audience: str
    group_id: str | None
    group_visibility: str | None
    title: str | None
    body_md: str
    body_html: str
    text: str
    url: str | None
    resource_type: ResourceType | None
    tags: list[str]
    topics: list[str]
    mentions: list[str]
    created_at: datetime
    edited_at: datetime | None
    revision: int
    pinned: bool
    counts: dict[str, int]
    reactions_by_kind: dict[str, int] = Field(default_factory=dict)
    state: str | None = None
    accepted_answer_id: str | None = None

    @classmethod
    def of(cls, doc: dict[str, Any], people: dict[str, dict[str, Any]] | None = None) -> "PostOut":
        """`people`: display data by user id (Directory.people); without it, the bare id."""
        author_id = doc["author_id"]
        author = (people or {}).get(author_id) or author_view(author_id, None)
        return cls.model_validate({**doc, "id": doc["_id"], "author": author})


def as2_response(obj: dict[str, Any], accept: str | None) -> JSONResponse:
    """An AS2 object in the media type the client asked for; varies by Accept."""
    return JSONResponse(obj, media_type=media_type_for(accept), headers={"Vary": "Accept"})


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map the use cases' errors to problems."""
    try:
        yield
    except PostRuleViolation as exc:
        raise Unprocessable(str(exc), type=problem_type("post-rule")) from exc
    except PostNotFound as exc:
        raise NotFound(f"post {exc} not found") from exc
    except GroupNotFound as exc:
        raise NotFound(f"group {exc} not found") from exc
    except NotAllowed as exc:
        raise Forbidden(str(exc)) from exc
    except EditConflict as exc:
        raise Conflict(f"post {exc} changed meanwhile; read it again") from exc


def build_router(posts: PostService, route_class: type[APIRoute] = APIRoute) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["posts"], route_class=route_class)

    def get_posts() -> PostService:
        return posts

    Posts = Annotated[PostService, Depends(get_posts)]

    async def out(svc: PostService, doc: dict[str, Any]) -> PostOut:
        return PostOut.of(doc, await svc.people([doc["author_id"]]))

    @router.post(
        "/posts", status_code=status.HTTP_201_CREATED, response_model=PostOut, **limited("post")
    )
    async def create(
        body: PostIn, principal: PrincipalDep, svc: Posts, request: Request, response: Response
    ) -> PostOut:
        """Publish a note, question, resource or article to the organisation or a group."""
        fields = body.model_dump(exclude={"group_id"})
        with domain_errors():
            doc = await svc.publish(NewPost(**fields), author=principal, group_id=body.group_id)
        response.headers["Location"] = str(request.url_for("read_post", post_id=doc["_id"]))
        return await out(svc, doc)

    @router.get("/posts/{post_id}", response_model=PostOut, name="read_post")
    async def read(
        post_id: str,
        principal: PrincipalDep,
        svc: Posts,
        request: Request,
        response: Response,
        accept: Annotated[str | None, Header()] = None,
    ) -> Any:
        """One post, as JSON or as an Activity Streams 2.0 object (by Accept)."""
        with domain_errors():
            doc = await svc.get(principal, post_id)
        people = await svc.people([doc["author_id"], *doc.get("mentions", [])])
        if wants_activity_streams(accept):
            obj = as2_post(
                doc,
                post_url=str(request.url_for("read_post", post_id=post_id)),
                people=people,
                base_url=str(request.base_url),
            )
            return as2_response(obj, accept)
        response.headers["Vary"] = "Accept"
        return PostOut.of(doc, people)

    @router.get("/posts", response_model=Page[PostOut])
    async def feed(principal: PrincipalDep, page: PageDep, svc: Posts) -> Page[PostOut]:
        """Posts the caller may read, newest first."""
        docs = await svc.readable(principal, limit=page.fetch_limit, after=page.after)
        people = await svc.people(d["author_id"] for d in docs)
        items = [PostOut.of(d, people) for d in docs]
        return page.page(items, lambda p: {"created_at": p.created_at, "_id": p.id})

    @router.patch("/posts/{post_id}", response_model=PostOut)
    async def edit(post_id: str, body: PostPatch, principal: PrincipalDep, svc: Posts) -> PostOut:
        """Edit a post (its author, a group admin, or a moderator)."""
        changes = body.model_dump(exclude_unset=True)
        for name in ("body_md", "tags"):
            if name in changes and changes[name] is None:
                raise Unprocessable(f"{name} may not be null", type=problem_type("post-rule"))
        with domain_errors():
            doc = await svc.edit(principal, post_id, changes)
        return await out(svc, doc)

    @router.delete("/posts/{post_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete(post_id: str, principal: PrincipalDep, svc: Posts) -> None:
        """Delete a post (its author, a group admin, or a moderator)."""
        with domain_errors():
            await svc.delete(principal, post_id)

    @router.put("/posts/{post_id}/pin", response_model=PostOut)
    async def pin(post_id: str, principal: PrincipalDep, svc: Posts) -> PostOut:
        """Pin a post in its group (group admins) or org-wide (admins)."""
        with domain_errors():
            doc = await svc.pin(principal, post_id, pinned=True)
        return await out(svc, doc)

    @router.delete("/posts/{post_id}/pin", response_model=PostOut)
    async def unpin(post_id: str, principal: PrincipalDep, svc: Posts) -> PostOut:
        """Unpin a post."""
        with domain_errors():
            doc = await svc.pin(principal, post_id, pinned=False)
        return await out(svc, doc)

    return router
