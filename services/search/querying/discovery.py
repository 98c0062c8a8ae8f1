"""Typeahead and expert search: short answers over the same audience-bound indexes."""

from __future__ import annotations

import asyncio
from typing import Any

from services.search.domain.documents import expertise_scores
from services.search.domain.query import normalize_topic
from services.search.querying.service import SearchService
from shared.search import Query, SearchRequest


class DiscoveryService:
    def __init__(self, search: SearchService) -> None:
        self._search = search
        self._index = search.index
        self._indexes = search.indexes

    async def audiences(self, user_id: str) -> list[str]:
        return await self._search.audiences(user_id)

    async def suggest(self, user_id: str, prefix: str, limit: int) -> list[dict[str, Any]]:
        audiences = await self.audiences(user_id)
        families = ("posts", "resources", "people", "groups")
        results = await asyncio.gather(
            *(
                self._index.suggest(
                    self._indexes.alias(f), prefix, audiences=audiences, limit=limit
                )
                for f in families
            )
        )
        out: list[dict[str, Any]] = []
        for family, suggestions in zip(families, results, strict=True):
            for s in suggestions:
                out.append({"id": s.id, "text": s.text, "type": s.source.get("type", family)})
        topic = normalize_topic(prefix)
        if topic:
            facet = await self._index.search(
                self._indexes.alias("posts"),
                SearchRequest(
                    query=Query(),
                    audiences=audiences,
                    facets=["topic"],
                    facet_size=200,
                    size=1,
                    sort="recent",
                ),
            )
            topics = [c for c in facet.facets.get("topic", []) if c.value.startswith(topic)]
            out += [{"id": c.value, "text": c.value, "type": "topic"} for c in topics[:limit]]
        return out[: limit * 2]

    async def experts(self, user_id: str, topic: str, limit: int) -> list[dict[str, Any]]:
        audiences = await self.audiences(user_id)
        topic = normalize_topic(topic)
        response = await self._index.search(
            self._indexes.alias("people"),
            SearchRequest(
                query=Query(),
                audiences=audiences,
                filters={"topic": [topic]},
                size=100,
                sort="recent",
            ),
        )
        ranked = []
        for hit in response.hits:
            score = expertise_scores(dict(hit.source)).get(topic)
            if score:
                ranked.append((score, hit))
        ranked.sort(key=lambda x: (-x[0], x[1].id))
        return [
            {
                "id": h.id,
                "handle": h.source.get("handle"),
                "name": h.source.get("name"),
                "title": h.source.get("title"),
                "department": h.source.get("department"),
                "topic": topic,
                "score": round(score, 6),
            }
            for score, h in ranked[:limit]
        ]
