"""Feed routes: newest first, keyset pages, and a weak ETag on every page (304 if unchanged).

Items are posts as the posts routes serve them (`PostOut`). A rendered page is kept until
anything is written to the store (`cache.py`), keyed by everything it depends on: the
route, its path parameter, the principal and the page parameters. No `from __future__
import annotations` here: FastAPI resolves the dependency aliases built inside
`build_router`.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response, status

from services.activity.feeds.cache import PageCache, Rendered
from services.activity.feeds.domain import etag_matches, feed_cursor, weak_etag
from services.activity.feeds.reader import BadTopic, FeedPage, FeedReader, UnknownGroup
from services.activity.posts.routes import PostOut
from shared.http import NotFound, Page, PageDep, PageParams, Principal, PrincipalDep, Unprocessable
from shared.http.front import MAX_IF_NONE_MATCH_CHARS, FrontRequest, FrontRoute

IfNoneMatch = Annotated[str | None, Header(max_length=MAX_IF_NONE_MATCH_CHARS)]
CACHE_CONTROL = "private, no-cache"
PREFIX = "/api/v1/feeds"


def render(result: FeedPage, page: PageParams) -> Rendered:
    """The page's JSON and its ETag."""
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
    body = Page[PostOut](
        items=[PostOut.of(d, result.people) for d in docs], next_cursor=next_cursor
    )
    return Rendered(etag=etag, body=body.model_dump_json().encode())


def respond(rendered: Rendered, if_none_match: str | None) -> Response:
    """The page with its ETag, or 304 with no body when the client has it."""
    headers = {"ETag": rendered.etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(if_none_match, rendered.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)


def page_key(route: str, arg: str | None, principal: Principal, page: PageParams) -> Hashable:
    return (route, arg, principal, page.limit, tuple(sorted((page.after or {}).items())))


def front_routes(cache: PageCache) -> list[FrontRoute]:
    """Kept pages of the routes without path parameters, given before routing."""

    def kept(route: str) -> Callable[[FrontRequest], Awaitable[Response | None]]:
        async def answer(request: FrontRequest) -> Response | None:
            page = request.page()
            token = cache.current()
            if page is None or token is None:
                return None
            key = page_key(route, None, request.principal, page)
            rendered = cache.get(key)
            if rendered is None:
                reading = cache.reading(key, token)  # another request is reading it now
                if reading is None:
                    return None
                try:
                    rendered = await asyncio.shield(reading)
                except Exception:
                    return None  # the route reads again and answers with its problem
            return respond(rendered, request.if_none_match)

        return answer

    return [
        FrontRoute(f"{PREFIX}/home", kept("home")),
        FrontRoute(f"{PREFIX}/questions-for-me", kept("questions-for-me")),
    ]


def build_router(reader: FeedReader, cache: PageCache) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["feeds"])

    # Async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    async def get_reader() -> FeedReader:
        return reader

    Reader = Annotated[FeedReader, Depends(get_reader)]
    ok = {"response_model": Page[PostOut], "responses": {304: {"description": "Not Modified"}}}

    async def serve(
        key: Hashable,
        read: Callable[[], Awaitable[FeedPage]],
        page: PageParams,
        if_none_match: str | None,
    ) -> Response:
        token = cache.current()  # before reading: a write after it forgets what we keep
        rendered = cache.get(key) if token is not None else None
        if rendered is None:

            async def read_page() -> Rendered:
                return render(await read(), page)

            rendered = await cache.read_once(key, token, read_page)
        return respond(rendered, if_none_match)

    @router.get("/home", **ok)  # type: ignore[arg-type]
    async def home(
        principal: PrincipalDep, page: PageDep, feeds: Reader, if_none_match: IfNoneMatch = None
    ) -> Response:
        """My home timeline: people and topics I follow, my groups, my own posts."""
        return await serve(
            page_key("home", None, principal, page),
            lambda: feeds.home(principal, limit=page.limit, after=feed_cursor(page.after)),
            page,
            if_none_match,
        )

    @router.get("/groups/{group_id}", **ok)  # type: ignore[arg-type]
    async def group(
        group_id: Annotated[str, Path(max_length=200)],
        principal: PrincipalDep,
        page: PageDep,
        feeds: Reader,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """A group's posts, pinned ones first on the first page."""

        async def read() -> FeedPage:
            try:
                return await feeds.group(
                    principal, group_id, limit=page.limit, after=feed_cursor(page.after)
                )
            except UnknownGroup as exc:
                raise NotFound(detail=f"group {group_id} not found") from exc

        return await serve(page_key("group", group_id, principal, page), read, page, if_none_match)

    @router.get("/topics/{topic}", **ok)  # type: ignore[arg-type]
    async def topic(
        topic: Annotated[str, Path(max_length=100)],
        principal: PrincipalDep,
        page: PageDep,
        feeds: Reader,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """Posts in a topic that I may read."""

        async def read() -> FeedPage:
            try:
                return await feeds.topic(
                    principal, topic, limit=page.limit, after=feed_cursor(page.after)
                )
            except BadTopic as exc:
                raise Unprocessable(detail=f"topic {topic!r} is not a valid topic") from exc

        return await serve(page_key("topic", topic, principal, page), read, page, if_none_match)

    @router.get("/people/{user_id}", **ok)  # type: ignore[arg-type]
    async def person(
        user_id: Annotated[str, Path(max_length=200)],
        principal: PrincipalDep,
        page: PageDep,
        feeds: Reader,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """A person's posts that I may read."""
        return await serve(
            page_key("person", user_id, principal, page),
            lambda: feeds.person(
                principal, user_id, limit=page.limit, after=feed_cursor(page.after)
            ),
            page,
            if_none_match,
        )

    @router.get("/questions-for-me", **ok)  # type: ignore[arg-type]
    async def questions_for_me(
        principal: PrincipalDep, page: PageDep, feeds: Reader, if_none_match: IfNoneMatch = None
    ) -> Response:
        """Open questions in topics I follow, asked by others."""
        return await serve(
            page_key("questions-for-me", None, principal, page),
            lambda: feeds.questions_for(principal, limit=page.limit, after=feed_cursor(page.after)),
            page,
            if_none_match,
        )

    return router
