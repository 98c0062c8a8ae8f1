"""OpenSearchIndex: the SearchIndex port on OpenSearch's REST API, through httpx.

httpx rather than opensearch-py: the project already depends on it, the adapter needs a
dozen endpoints, and owning the retry loop keeps one backoff policy for whole requests and
for the items of a bulk response (opensearch-py retries neither 429 items nor, by default,
timeouts). See docs/search.md for the mapping and ranking.

Versions: every write is a bulk `index` action with `version_type=external`; OpenSearch
applies it only when its version is greater than the stored one (409 otherwise, counted
as stale). A delete indexes a tombstone document (`deleted: true`) at its version rather
than deleting: an OpenSearch delete tombstone is forgotten after `index.gc_deletes` (60 s),
after which a late older upsert would come back. Reads exclude tombstones.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson
import structlog

from shared.search import opensearch_query as dsl
from shared.search.checks import check_request
from shared.search.cursor import decode
from shared.search.errors import IndexNotFound, SearchError, SearchQueryError, SearchUnavailable
from shared.search.opensearch_bulk import RETRYABLE, BulkWriter, reason
from shared.search.opensearch_mapping import index_template, template_name
from shared.search.port import (
    Capabilities,
    FilterValue,
    IndexedDoc,
    IndexSpec,
    Rejected,
    SearchIndex,
    SearchRequest,
    SearchResponse,
    Suggestion,
    Tombstone,
    WriteResult,
)
from shared.search.spec_codec import spec_from_dict
from shared.search.synonyms import parse_rules
from shared.search.values import InvalidValue, check_audience, jsonable

Json = dict[str, Any]
log = structlog.get_logger(__name__)


class OpenSearchIndex(SearchIndex):
    capabilities = Capabilities(fuzzy=True, recency_in_ranking=True, did_you_mean=False)

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        verify_certs: bool = True,
        ca_file: str | None = None,
        timeout: float = 10.0,
        retry_attempts: int = 5,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        batch_docs: int = 1000,
        batch_bytes: int = 5_000_000,
        batch_linger: float = 0.0,
        shards: int | None = None,
        replicas: int | None = None,
        synonyms_index: str = "canteen-synonyms",
        synonyms_ttl: float = 5.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if http is None:
            verify: ssl.SSLContext | bool = verify_certs
            if verify_certs and ca_file:
                verify = ssl.create_default_context(cafile=ca_file)
            http = httpx.AsyncClient(
                base_url=url.rstrip("/"),
                timeout=timeout,
                auth=(username, password or "") if username else None,
                verify=verify,
            )
        self._http = http
        self._attempts = max(1, retry_attempts)
        self._backoff = (initial_backoff, max_backoff)
        self._writer = BulkWriter(
            self._send_bulk,
            self._delay,
            attempts=self._attempts,
            max_docs=batch_docs,
            max_bytes=batch_bytes,
            linger=batch_linger,
        )
        self._shape = {"shards": shards, "replicas": replicas}
        self._synonyms_index = synonyms_index
        self._synonyms_ttl = synonyms_ttl
        self._synonyms: dict[str, tuple[float, dict[str, tuple[str, ...]]]] = {}
        self._specs: dict[str, IndexSpec] = {}
        self._synonyms_ready = False

    # -- transport ----------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, body: Any = None, *, ok: Sequence[int] = (), **params: Any
    ) -> Json:
        """One call; retried with backoff on throttling, 5xx and transport errors."""
        content = None
        headers = {}
        if isinstance(body, bytes):
            content, headers = body, {"content-type": "application/x-ndjson"}
        elif body is not None:
            content, headers = orjson.dumps(body), {"content-type": "application/json"}
        last = ""
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.request(
                    method, path, content=content, headers=headers, params=params or None
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300 or response.status_code in ok:
                    return orjson.loads(response.content) if response.content else {}
                if response.status_code not in RETRYABLE:
                    raise _error(response)
                last = f"HTTP {response.status_code}: {response.text[:300]}"
            if attempt < self._attempts:
                log.warning("search.request.retrying", method=method, path=path, error=last)
                await asyncio.sleep(self._delay(attempt))
        raise SearchUnavailable(f"{method} {path} failed after {self._attempts} attempts: {last}")

    def _delay(self, attempt: int) -> float:
        initial, ceiling = self._backoff
        return float(min(ceiling, initial * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))

    async def _send_bulk(self, lines: bytes) -> Json:
        return await self._request("POST", "/_bulk", lines)

    async def ping(self) -> None:
        await self._request("GET", "/_cluster/health")

    async def close(self) -> None:
        await self._http.aclose()

    # -- indexes and aliases ----------------------------------------------------------

    async def ensure(self, spec: IndexSpec) -> None:
        await self._put_template(spec)
        self._specs[spec.alias] = spec
        existing = await self._request("GET", f"/_alias/{spec.alias}", ok=[404])
        if existing.get("status") != 404 and existing:
            return
        physical = f"{spec.alias}-{1:06d}"
        await self._request("PUT", f"/{physical}", ok=[400])  # 400: created concurrently
        await self._request(
            "POST",
            "/_aliases",
            {
                "actions": [
                    {"add": {"index": physical, "alias": spec.alias, "is_write_index": True}}
                ]
            },
        )

    async def _put_template(self, spec: IndexSpec) -> None:
        body = index_template(spec, **self._shape)
        await self._request("PUT", f"/_index_template/{template_name(spec.alias)}", body)

    async def _physical(self, alias: str) -> list[str]:
        found = await self._request("GET", f"/{alias}-0*", ok=[404], expand_wildcards="open")
        return sorted(name for name in found if re.fullmatch(re.escape(alias) + r"-\d{6}", name))

    async def create_version(self, spec: IndexSpec) -> str:
        await self._put_template(spec)
        self._specs[spec.alias] = spec
        existing = await self._physical(spec.alias)
        seq = max((int(n.rsplit("-", 1)[1]) for n in existing if n[-6:].isdigit()), default=0)
        physical = f"{spec.alias}-{seq + 1:06d}"
        await self._request("PUT", f"/{physical}")
        return physical

    async def swap_alias(self, alias: str, physical: str) -> None:
        current = await self._request("GET", f"/_alias/{alias}", ok=[404])
        old = [name for name in current if name != physical and name not in ("error", "status")]
        actions: list[Json] = [{"remove": {"index": name, "alias": alias}} for name in old]
        actions.append({"add": {"index": physical, "alias": alias, "is_write_index": True}})
        await self._request("POST", "/_aliases", {"actions": actions})
        for name in old:
            await self._request("DELETE", f"/{name}", ok=[404])

    async def drop(self, alias: str) -> None:
        for name in await self._physical(alias):
            await self._request("DELETE", f"/{name}", ok=[404])
        await self._request("DELETE", f"/_index_template/{template_name(alias)}", ok=[404])
        self._specs.pop(alias, None)

    async def refresh(self, index: str) -> None:
        await self._request("POST", f"/{index}/_refresh")

    async def _spec(self, alias: str) -> IndexSpec:
        if alias not in self._specs:
            mappings = await self._request("GET", f"/{alias}/_mapping")
            meta = next(iter(mappings.values()))["mappings"].get("_meta", {})
            if "canteen_spec" not in meta:
                raise IndexNotFound(f"{alias!r} was not created by OpenSearchIndex")
            self._specs[alias] = spec_from_dict(meta["canteen_spec"])
        return self._specs[alias]

    # -- writes -----------------------------------------------------------------------

    async def upsert(self, index: str, docs: Sequence[IndexedDoc]) -> WriteResult:
        rejected: list[Rejected] = []
        actions: list[tuple[str, int, Json]] = []
        for doc in docs:
            try:
                check_audience(doc.body)
            except InvalidValue as exc:
                rejected.append(Rejected(doc.id, str(exc)))
                continue
            body = jsonable(doc.body) | {"doc_id": doc.id, "deleted": False}
            actions.append((doc.id, doc.version, body))
        result = await self._writer.write(index, actions)
        return WriteResult(result.applied, result.stale, (*rejected, *result.rejected))

    async def delete(self, index: str, tombstones: Sequence[Tombstone]) -> WriteResult:
        actions = [(t.id, t.version, {"doc_id": t.id, "deleted": True}) for t in tombstones]
        return await self._writer.write(index, actions)

    async def update_synonyms(self, name: str, rules: Sequence[str]) -> None:
        table = parse_rules(rules)
        if not self._synonyms_ready:  # explicit, in case the cluster refuses auto-creation
            body = {"mappings": {"dynamic": False, "properties": {}}}
            await self._request("PUT", f"/{self._synonyms_index}", body, ok=[400])
            self._synonyms_ready = True
        if not rules:
            await self._request(
                "DELETE", f"/{self._synonyms_index}/_doc/{name}", ok=[404], refresh="wait_for"
            )
        else:
            await self._request(
                "PUT",
                f"/{self._synonyms_index}/_doc/{name}",
                {"rules": list(rules)},
                refresh="wait_for",
            )
        self._synonyms[name] = (time.monotonic(), table)

    async def _synonym_table(self, spec: IndexSpec) -> dict[str, tuple[str, ...]]:
        name = spec.synonyms
        if name is None:
            return {}
        cached = self._synonyms.get(name)
        if cached is not None and time.monotonic() - cached[0] < self._synonyms_ttl:
            return cached[1]
        found = await self._request("GET", f"/{self._synonyms_index}/_doc/{name}", ok=[404])
        table = parse_rules(found.get("_source", {}).get("rules", []))
        self._synonyms[name] = (time.monotonic(), table)
        return table

    # -- reads ------------------------------------------------------------------------

    async def search(self, alias: str, request: SearchRequest) -> SearchResponse:
        prepared = await self._prepare(alias, request)
        if prepared is None:
            return SearchResponse(hits=[], total=0)
        body, now = prepared
        raw = await self._request("POST", f"/{alias}/_search", body)
        return dsl.parse_search(raw, request, now)

    async def search_many(
        self, queries: Sequence[tuple[str, SearchRequest]]
    ) -> list[SearchResponse]:
        """One `_msearch` for all of them: one HTTP exchange and one parse instead of one
        per index (a search over every family is four). An item that failed with a
        retryable status is searched again on its own, with `search`'s retries."""
        prepared = [await self._prepare(alias, request) for alias, request in queries]
        lines = bytearray()
        for (alias, _), item in zip(queries, prepared, strict=True):
            if item is not None:
                lines += orjson.dumps({"index": alias}) + b"\n" + orjson.dumps(item[0]) + b"\n"
        answers = iter(
            (await self._request("POST", "/_msearch", bytes(lines)))["responses"] if lines else []
        )
        out: list[SearchResponse] = []
        for (alias, request), item in zip(queries, prepared, strict=True):
            if item is None:
                out.append(SearchResponse(hits=[], total=0))
                continue
            raw = next(answers)
            status = int(raw.get("status", 200))
            if "error" not in raw:
                out.append(dsl.parse_search(raw, request, item[1]))
            elif status in RETRYABLE:
                out.append(await self.search(alias, request))
            else:
                raise _item_error(status, raw["error"])
        return out

    async def _prepare(self, alias: str, request: SearchRequest) -> tuple[Json, float] | None:
        """The request's body and its `now` (decay origin), or None: nothing to search."""
        spec = await self._spec(alias)
        check_request(spec, request)
        if not request.audiences:
            return None
        after = decode(request.search_after) if request.search_after else None
        now = after.now if after else time.time()
        body = dsl.search_body(spec, request, await self._synonym_table(spec), now)
        if after is not None:
            body["search_after"] = list(after.key)
        return body, now

    async def suggest(
        self,
        alias: str,
        prefix: str,
        *,
        audiences: Sequence[str],
        filters: Mapping[str, Sequence[FilterValue]] | None = None,
        limit: int = 10,
    ) -> list[Suggestion]:
        spec = await self._spec(alias)
        if not spec.of_type("typeahead") or not prefix.strip() or not audiences or limit <= 0:
            return []
        body = dsl.suggest_body(spec, prefix, audiences, filters or {}, limit)
        return dsl.parse_suggest(await self._request("POST", f"/{alias}/_search", body), spec)

    async def count(self, alias: str, *, audiences: Sequence[str] | None = None) -> int:
        if audiences is not None and not audiences:
            return 0
        clauses = [] if audiences is None else [{"terms": {"audience": list(audiences)}}]
        query = {"bool": {"filter": clauses, "must_not": [{"term": {"deleted": True}}]}}
        raw = await self._request("POST", f"/{alias}/_count", {"query": query})
        return int(raw["count"])


def _error(response: httpx.Response) -> SearchError:
    try:
        error = orjson.loads(response.content).get("error")
    except orjson.JSONDecodeError:
        error = response.text[:300]
    return _item_error(response.status_code, error)


def _item_error(status: int, error: Any) -> SearchError:
    text = reason(error) if isinstance(error, dict) else str(error)
    if status == 404:
        return IndexNotFound(text)
    if status == 400:
        return SearchQueryError(text)
    return SearchError(f"HTTP {status}: {text}")
