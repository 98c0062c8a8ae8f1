"""Feed routes: newest first, keyset pages, and a weak ETag on every page (304 if unchanged).

Items are posts as the posts routes serve them (`PostOut`). No `from __future__ import
annotations` here: FastAPI resolves the dependency aliases built inside `build_router`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response, status

from services.activity.feeds.domain import etag_matches, feed_cursor, weak_etag
from services.activity.feeds.reader import BadTopic, FeedPage, FeedReader, UnknownGroup
from services.activity.posts.routes import PostOut
from shared.http import NotFound, Page, PageDep, PageParams, PrincipalDep, Unprocessable

IfNoneMatch = Annotated[str | None, Header(max_length=2048)]
CACHE_CONTROL = "private, no-cache"


def respond(result: FeedPage, page: PageParams, if_none_match: str | None) -> Response:
    """The page as JSON with its ETag, or 304 with no body when the client has it."""
    docs = [*result.pinned, *result.posts]
    next_cursor = None
    if result.next_key is not None:
        created_at, post_id = result.next_key
        next_cursor = page.codec.encode({"created_at": created_at, "_id": post_id})
    etag = weak_etag(
        docs,
        repr(sorted((page.after or {}).items())),
        str(page.limit),
        next_cursor,
        repr(sorted((k, sorted(v.items())) for k, v in result.people.items())),
    )
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    body = Page[PostOut](
        items=[PostOut.of(d, result.people) for d in docs], next_cursor=next_cursor
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)


def build_router(reader: FeedReader) -> APIRouter:
    router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"])

    # Async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    async def get_reader() -> FeedReader:
        return reader

    Reader = Annotated[FeedReader, Depends(get_reader)]
    ok = {"response_model": Page[PostOut], "responses": {304: {"description": "Not Modified"}}}

    @router.get("/home", **ok)  # type: ignore[arg-type]
    async def home(
        principal: PrincipalDep, page: PageDep, feeds: Reader, if_none_match: IfNoneMatch = None
    ) -> Response:
        """My home timeline: people and topics I follow, my groups, my own posts."""
        result = await feeds.home(principal, limit=page.limit, after=feed_cursor(page.after))
        return respond(result, page, if_none_match)

    @router.get("/groups/{group_id}", **ok)  # type: ignore[arg-type]
    async def group(
        group_id: Annotated[str, Path(max_length=200)],
        principal: PrincipalDep,
        page: PageDep,
        feeds: Reader,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """A group's posts, pinned ones first on the first page."""
        try:
            result = await feeds.group(
                principal, group_id, limit=page.limit, after=feed_cursor(page.after)
            )
        except UnknownGroup as exc:
            raise NotFound(detail=f"group {group_id} not found") from exc
        return respond(result, page, if_none_match)

    @router.get("/topics/{topic}", **ok)  # type: ignore[arg-type]
    async def topic(
        topic: Annotated[str, Path(max_length=100)],
        principal: PrincipalDep,
        page: PageDep,
        feeds: Reader,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """Posts in a topic that I may read."""
        try:
            result = await feeds.topic(
                principal, topic, limit=page.limit, after=feed_cursor(page.after)
            )
        except BadTopic as exc:
            raise Unprocessable(detail=f"topic {topic!r} is not a valid topic") from exc
        return respond(result, page, if_none_match)

    @router.get("/people/{user_id}", **ok)  # type: ignore[arg-type]
    async def person(
        user_id: Annotated[str, Path(max_length=200)],
        principal: PrincipalDep,
        page: PageDep,
        feeds: Reader,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """A person's posts that I may read."""
        result = await feeds.person(
            principal, user_id, limit=page.limit, after=feed_cursor(page.after)
        )
        return respond(result, page, if_none_match)

    @router.get("/questions-for-me", **ok)  # type: ignore[arg-type]
    async def questions_for_me(
        principal: PrincipalDep, page: PageDep, feeds: Reader, if_none_match: IfNoneMatch = None
    ) -> Response:
        """Open questions in topics I follow, asked by others."""
        result = await feeds.questions_for(
            principal, limit=page.limit, after=feed_cursor(page.after)
        )
        return respond(result, page, if_none_match)

    return router
