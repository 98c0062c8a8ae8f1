"""Querying: search, typeahead, experts and the admin synonym set."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from services.search.context import Feature, SearchContext
from services.search.querying.discovery import DiscoveryService
from services.search.querying.routes import build_router
from services.search.querying.service import SearchService
from shared.search.synonyms import parse_rules

log = structlog.get_logger()
SYNONYMS_KEY = "synonyms"


class SynonymSet:
    """Rules kept in the search store (so they survive restarts) and pushed to the index."""

    def __init__(self, ctx: SearchContext) -> None:
        self._ctx = ctx

    async def get(self) -> list[str]:
        return list(await self._ctx.projections.get_setting(SYNONYMS_KEY) or [])

    async def put(self, rules: Sequence[str]) -> None:
        parse_rules(rules)  # ValueError -> 422 before anything is written
        await self._ctx.index.update_synonyms(self._ctx.indexes.synonyms, rules)
        await self._ctx.projections.put_setting(SYNONYMS_KEY, list(rules))
        log.info("search.synonyms.updated", rules=len(rules))

    async def reapply(self) -> None:
        await self._ctx.index.update_synonyms(self._ctx.indexes.synonyms, await self.get())


def install(ctx: SearchContext) -> Feature:
    service = SearchService(ctx.index, ctx.indexes, ctx.projections)
    return Feature(routers=[build_router(service, DiscoveryService(service), SynonymSet(ctx))])
