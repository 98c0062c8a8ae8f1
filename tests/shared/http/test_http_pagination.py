"""Cursor pagination: round trips, page walking and tamper evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from http_kit_support import CURSOR_SECRET, ITEMS

from shared.http import CursorCodec, InvalidCursor
from shared.http.pagination import CursorValue


@pytest.fixture
def codec() -> CursorCodec:
    return CursorCodec(CURSOR_SECRET)


def test_sort_keys_round_trip(codec: CursorCodec) -> None:
    payload: dict[str, CursorValue] = {
        "created_at": datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        "local": datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5))),
        "id": "post-42",
        "looks_like_a_date": "2024-05-01T12:00:00+00:00",
        "rank": 7,
        "score": 0.5,
        "pinned": False,
        "missing": None,
    }

    decoded = codec.decode(codec.encode(payload))

    assert decoded == payload
    assert decoded["local"].utcoffset() == timedelta(hours=-5)  # type: ignore[union-attr]
    assert isinstance(decoded["looks_like_a_date"], str)
    assert decoded["rank"] is not True and isinstance(decoded["pinned"], bool)


def test_cursors_are_url_safe_and_opaque(codec: CursorCodec) -> None:
    cursor = codec.encode({"id": "a/b+c=d", "at": datetime(2024, 1, 1, tzinfo=UTC)})

    assert all(c.isalnum() or c in "-_" for c in cursor)


def test_naive_datetimes_and_odd_types_are_refused(codec: CursorCodec) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        codec.encode({"at": datetime(2024, 1, 1)})
    with pytest.raises(TypeError):
        codec.encode({"ids": ["a", "b"]})  # type: ignore[dict-item]


def test_every_flipped_byte_is_detected(codec: CursorCodec) -> None:
    cursor = codec.encode({"id": "item-1", "at": datetime(2024, 1, 1, tzinfo=UTC)})

    for position in range(len(cursor)):
        replacement = "A" if cursor[position] != "A" else "B"
        tampered = cursor[:position] + replacement + cursor[position + 1 :]
        with pytest.raises(InvalidCursor):
            codec.decode(tampered)


def test_a_cursor_from_another_secret_is_refused(codec: CursorCodec) -> None:
    foreign = CursorCodec("some-other-secret-0123456789abcdefghij").encode({"id": "x"})

    with pytest.raises(InvalidCursor):
        codec.decode(foreign)


async def test_pages_walk_every_item_once_in_order(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "10"} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/api/v1/demo/items", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 10

    assert seen == [item.id for item in ITEMS]
    assert pages == 3


async def test_the_default_limit_is_twenty(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/demo/items")

    assert response.status_code == 200
    assert len(ITEMS) > 20
    assert [i["id"] for i in response.json()["items"]] == [i.id for i in ITEMS[:20]]
    assert response.json()["next_cursor"] is not None


async def test_the_maximum_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/demo/items", params={"limit": "100"})

    assert response.status_code == 200
    assert len(response.json()["items"]) == len(ITEMS)
    assert response.json()["next_cursor"] is None
