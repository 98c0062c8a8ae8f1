"""HTTP: /api/v1/search, /api/v1/suggest, /api/v1/search/experts, admin synonyms (thin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.search.domain.query import QuerySyntaxError, parse_query
from services.search.querying import examples
from services.search.querying.discovery import DiscoveryService
from services.search.querying.service import SearchParams, SearchService, SearchType
from shared.http import AdminDep, PrincipalDep, Problem, Unprocessable, problem_type
from shared.http.pagination import get_cursor_codec
from shared.search import IndexNotFound, SearchQueryError, SearchUnavailable


class Unavailable(Problem):
    def __init__(self) -> None:
        super().__init__(
            503,
            "Search unavailable",
            type=problem_type("search-unavailable"),
            detail="the search backend is not reachable; try again shortly",
            headers={"Retry-After": "5"},
        )


class SearchPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SEARCH_PAGE]})

    items: list[dict[str, Any]]
    total: int
    facets: dict[str, list[dict[str, Any]]]
    next_cursor: str | None = None
    did_you_mean: str | None = None


class Synonyms(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.SYNONYMS]})
    rules: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(max_length=2000)


# A facet filter value (topic, author id, group id, department): bounded like any input.
FacetValue = Annotated[str, Field(min_length=1, max_length=200)]


def _example(value: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"example": value}}}


def build_router(service: SearchService, discovery: DiscoveryService, synonyms: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["search"])

    @router.get("/search")
    async def search(
        principal: PrincipalDep,
        request: Request,
        q: Annotated[str, Query(max_length=500, examples=["kube credentials"])] = "",
        type: SearchType = "all",
        topic: Annotated[list[FacetValue] | None, Query(max_length=10)] = None,
        author: Annotated[list[FacetValue] | None, Query(max_length=10)] = None,
        group: Annotated[list[FacetValue] | None, Query(max_length=10)] = None,
        department: Annotated[list[FacetValue] | None, Query(max_length=10)] = None,
        state: Literal["open", "answered"] | None = None,
        from_: Annotated[datetime | None, Query(alias="from")] = None,
        to: datetime | None = None,
        sort: Literal["relevance", "recent"] | None = None,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> SearchPage:
        """Search posts, questions, resources, people and groups you may see."""
        try:
            parsed = parse_query(q)
        except QuerySyntaxError as exc:
            raise Unprocessable(str(exc), type=problem_type("invalid-query")) from None
        codec = get_cursor_codec(request.app)
        positions: dict[str, str] = {}
        if cursor:
            payload = codec.decode(cursor)
            if payload.get("q") != q:
                raise Unprocessable(
                    "the cursor belongs to another query", type=problem_type("invalid-cursor")
                )
            positions = {k[2:]: str(v) for k, v in payload.items() if k.startswith("p_")}
        filters = {
            k: v
            for k, v in {
                "topic": topic,
                "author": author,
                "group": group,
                "department": department,
                "state": [state] if state else None,
            }.items()
            if v
        }
        params = SearchParams(
            parsed=parsed,
            type=type,
            filters=filters,
            date_from=from_,
            date_to=to,
            sort=sort or ("recent" if parsed.query.is_empty else "relevance"),
            limit=limit,
            positions=positions,
        )
        try:
            params = await service.resolve_positions(params, principal.user_id)
            result = await service.search(principal.user_id, params)
        except (SearchUnavailable, IndexNotFound):
            raise Unavailable() from None
        except SearchQueryError as exc:
            raise Unprocessable(str(exc), type=problem_type("invalid-query")) from None
        next_cursor = None
        if result.positions is not None:
            next_cursor = codec.encode(
                {"q": q, **{f"p_{k}": v for k, v in result.positions.items()}}
            )
        return SearchPage(
            items=result.hits,
            total=result.total,
            facets=result.facets,
            next_cursor=next_cursor,
            did_you_mean=result.did_you_mean,
        )

    @router.get("/suggest", responses={200: _example(examples.SUGGESTIONS)})
    async def suggest(
        principal: PrincipalDep,
        q: Annotated[str, Query(min_length=1, max_length=100, examples=["kub"])],
        limit: Annotated[int, Query(ge=1, le=20)] = 8,
    ) -> dict[str, list[dict[str, Any]]]:
        """Typeahead: titles, people, groups and topics starting with `q`."""
        try:
            return {"items": await discovery.suggest(principal.user_id, q.strip(), limit)}
        except (SearchUnavailable, IndexNotFound):
            raise Unavailable() from None
        except SearchQueryError as exc:
            raise Unprocessable(str(exc)) from None

    @router.get("/search/experts", responses={200: _example(examples.EXPERTS)})
    async def experts(
        principal: PrincipalDep,
        topic: Annotated[str, Query(min_length=1, max_length=100, examples=["kubernetes"])],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> dict[str, list[dict[str, Any]]]:
        """People ranked by their expertise on a topic (hidden topics and leavers left out)."""
        try:
            return {"items": await discovery.experts(principal.user_id, topic, limit)}
        except (SearchUnavailable, IndexNotFound):
            raise Unavailable() from None

    @router.get("/admin/search/synonyms")
    async def get_synonyms(admin: AdminDep) -> Synonyms:
        """The synonym rules applied to every text search (admins)."""
        return Synonyms(rules=await synonyms.get())

    @router.put("/admin/search/synonyms")
    async def put_synonyms(admin: AdminDep, body: Synonyms) -> Synonyms:
        """Replace the synonym rules; searches use them at once, without a reindex (admins)."""
        try:
            await synonyms.put(body.rules)
        except ValueError as exc:
            raise Unprocessable(str(exc), type=problem_type("invalid-synonyms")) from None
        except (SearchUnavailable, IndexNotFound):
            raise Unavailable() from None
        return body

    return router
