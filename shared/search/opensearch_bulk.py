"""Bulk writes for OpenSearchIndex: batches by size and by time, item-level retries.

Each call's actions are cut into requests of at most `max_docs` documents and `max_bytes`.
With `linger` > 0, calls on the same index arriving within `linger` seconds share one
request (a consumer per partition writing one event at a time still sends few requests);
each caller gets back the outcome of its own documents. Items refused with 429 or 5xx
are resent alone, with backoff; a version conflict (409) is a stale write, not an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import structlog

from shared.search.errors import IndexNotFound, SearchUnavailable
from shared.search.port import Rejected, WriteResult

RETRYABLE = frozenset({429, 500, 502, 503, 504})
Outcome = Literal["applied", "stale"] | Rejected
Action = tuple[str, int, dict[str, Any]]  # id, external version, source
log = structlog.get_logger(__name__)
Send = Callable[[bytes], Awaitable[dict[str, Any]]]


@dataclass
class _Open:
    lines: list[tuple[str, bytes]] = field(default_factory=list)
    waiters: list[tuple[int, int, asyncio.Future[list[Outcome]]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class BulkWriter:
    def __init__(
        self,
        send: Send,
        delay: Callable[[int], float],
        *,
        attempts: int,
        max_docs: int,
        max_bytes: int,
        linger: float,
    ) -> None:
        self._send = send
        self._delay = delay
        self._attempts = attempts
        self._max_docs, self._max_bytes = max_docs, max_bytes
        self._linger = linger
        self._open: dict[str, _Open] = {}
        self._flushing: set[asyncio.Task[None]] = set()

    async def write(self, index: str, actions: Sequence[Action]) -> WriteResult:
        lines = [(doc_id, _line(index, doc_id, v, body)) for doc_id, v, body in actions]
        if not lines:
            return WriteResult()
        if self._linger > 0:
            outcomes = await self._coalesce(index, lines)
        else:
            outcomes = await self._write_all(index, lines)
        rejected = tuple(o for o in outcomes if isinstance(o, Rejected))
        return WriteResult(outcomes.count("applied"), outcomes.count("stale"), rejected)

    async def _coalesce(self, index: str, lines: list[tuple[str, bytes]]) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        batch = self._open.get(index)
        if batch is None:
            batch = self._open[index] = _Open()
            batch.timer = loop.call_later(self._linger, self._flush, index)
        future: asyncio.Future[list[Outcome]] = loop.create_future()
        batch.waiters.append((len(batch.lines), len(batch.lines) + len(lines), future))
        batch.lines.extend(lines)
        if len(batch.lines) >= self._max_docs:
            self._flush(index)
        return await future

    def _flush(self, index: str) -> None:
        batch = self._open.pop(index, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._deliver(index, batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _deliver(self, index: str, batch: _Open) -> None:
        try:
            outcomes = await self._write_all(index, batch.lines)
        except Exception as exc:
            for _, _, future in batch.waiters:
                if not future.done():
                    future.set_exception(exc)
            return
        for start, end, future in batch.waiters:
            if not future.done():
                future.set_result(outcomes[start:end])

    async def _write_all(self, index: str, lines: list[tuple[str, bytes]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        chunk: list[tuple[str, bytes]] = []
        size = 0
        for doc_id, line in lines:
            if chunk and (len(chunk) >= self._max_docs or size + len(line) > self._max_bytes):
                outcomes += await self._write_chunk(index, chunk)
                chunk, size = [], 0
            chunk.append((doc_id, line))
            size += len(line)
        return outcomes + await self._write_chunk(index, chunk)

    async def _write_chunk(self, index: str, chunk: list[tuple[str, bytes]]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(chunk)
        pending = list(range(len(chunk)))
        for attempt in range(1, self._attempts + 1):
            raw = await self._send(b"".join(chunk[i][1] for i in pending))
            retry = []
            for position, item in zip(pending, raw["items"], strict=True):
                result = item["index"]
                status = int(result["status"])
                if status < 300:
                    outcomes[position] = "applied"
                elif status == 409:
                    outcomes[position] = "stale"
                elif status == 404:
                    raise IndexNotFound(f"no search index {index!r}")
                elif status in RETRYABLE:
                    retry.append(position)
                else:
                    outcomes[position] = Rejected(chunk[position][0], reason(result.get("error")))
            if not retry:
                return [o for o in outcomes if o is not None]
            pending = retry
            if attempt < self._attempts:
                log.warning("search.bulk.items_retrying", index=index, count=len(retry))
                await asyncio.sleep(self._delay(attempt))
        raise SearchUnavailable(f"{len(pending)} documents still refused after retries")


def _line(index: str, doc_id: str, version: int, body: dict[str, Any]) -> bytes:
    meta = {"_index": index, "_id": doc_id, "version": version, "version_type": "external"}
    return orjson.dumps({"index": meta}) + b"\n" + orjson.dumps(body) + b"\n"


def reason(error: Any) -> str:
    """An OpenSearch error object as one line: `type: reason (cause ...)`."""
    if not isinstance(error, dict):
        return str(error)
    text = f"{error.get('type')}: {error.get('reason')}"
    cause = error.get("caused_by")
    return f"{text} ({reason(cause)})" if isinstance(cause, dict) else text
