"""Kept feed pages: read once while nothing changes, read again after any write, and given
only to requests the route itself would answer (`feeds/cache.py`, `shared/http/front.py`).

On SQLite the store has a change token and pages are kept; on MongoDB it has none and
every request reads (the same assertions, with the expected read counts of each).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from services.activity.feeds.cache import PageCache, Rendered
from services.activity.feeds.reader import FeedReader
from shared.settings import CanteenSettings
from tests.activity.test_feeds_support import PROBLEM, World
from tests.support import eventually

HOME = "/api/v1/feeds/home"
# Headers that differ between any two answers.
_PER_REQUEST = {"x-request-id", "date"}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Who had a home page read from the store (each call of FeedReader.home)."""
    seen: list[str] = []
    original = FeedReader.home

    async def counted(self: FeedReader, principal: Any, **kwargs: Any) -> Any:
        seen.append(principal.user_id)
        return await original(self, principal, **kwargs)

    monkeypatch.setattr(FeedReader, "home", counted)
    yield seen


def keeps_pages(settings: CanteenSettings) -> bool:
    return settings.backend == "embedded"


async def bo_sees_a_post_of_ana(world: World, text: str) -> str:
    """bo follows ana, ana posts, and bo's home shows it; the post's id."""
    await world.follow("bo", "person", "ana", publish=False)
    post = await world.post("ana", text)
    await world.eventually_home("bo", [text])
    return post


async def reads_for_two_requests(world: World, reads: list[str]) -> int:
    """Home reads caused by two requests of bo's that get the same answer."""
    before = len(reads)
    first, second = await world.feed("bo", "home"), await world.feed("bo", "home")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    same = {k: v for k, v in first.headers.items() if k not in _PER_REQUEST}
    assert same == {k: v for k, v in second.headers.items() if k not in _PER_REQUEST}
    return len(reads) - before


async def test_an_unchanged_page_is_read_once_and_a_write_reads_it_again(
    world: World, reads: list[str], settings: CanteenSettings
) -> None:
    post = await bo_sees_a_post_of_ana(world, "first")
    if keeps_pages(settings):
        # Once the consumers have written everything the post implies, nothing changes.
        await eventually(lambda: reads_for_two_requests(world, reads), until=lambda n: n == 0)
        assert await reads_for_two_requests(world, reads) == 0
    else:
        assert await reads_for_two_requests(world, reads) == 2

    # Any write, here by another connection to the store (as another process would), and
    # the very next page has it.
    await world.store.collection("posts").update_one({"_id": post}, {"$set": {"text": "edited"}})
    assert await world.texts("bo") == ["edited"]
    # Pages are per person and per page parameters.
    before = len(reads)
    assert await world.texts("ana") == ["edited"]
    assert await world.texts("bo", limit=1) == ["edited"]
    assert reads[before:] == ["ana", "bo"]


async def test_requests_missing_the_same_page_at_once_share_one_read(
    world: World, reads: list[str], settings: CanteenSettings
) -> None:
    post = await bo_sees_a_post_of_ana(world, "herd")
    if keeps_pages(settings):  # a read-free pair: the consumers are done writing
        await eventually(lambda: reads_for_two_requests(world, reads), until=lambda n: n == 0)
    await world.store.collection("posts").update_one({"_id": post}, {"$set": {"text": "stampede"}})
    reads.clear()
    pages = await asyncio.gather(*(world.feed("bo", "home") for _ in range(16)))
    assert {p.status_code for p in pages} == {200}
    assert len({p.content for p in pages}) == 1
    assert pages[0].json()["items"][0]["text"] == "stampede"
    assert len(reads) == (1 if keeps_pages(settings) else 16)


async def test_leaving_a_private_group_hides_a_kept_page_at_once(world: World) -> None:
    await world.group("priv", "private", ["ana", "mem"])
    await world.post("ana", "private news", group="priv")
    await world.eventually_home("mem", ["private news"])
    assert await world.texts("mem") == ["private news"]  # kept now, on SQLite

    await world.leave("mem", "priv")
    assert await world.texts("mem") == []  # no wait: the membership read is fresh


async def test_a_kept_page_goes_only_to_requests_the_route_would_answer(world: World) -> None:
    await bo_sees_a_post_of_ana(world, "kept")
    bo = await world.auth("bo")
    page = await world.client.get(HOME, headers=bo)
    assert page.status_code == 200

    refused = {
        "no token": await world.client.get(HOME),
        "bad token": await world.client.get(HOME, headers={"Authorization": "Bearer x.y.z"}),
        "other scheme": await world.client.get(
            HOME, headers={"Authorization": bo["Authorization"].replace("Bearer", "Basic")}
        ),
        "limit 0": await world.client.get(HOME, params={"limit": 0}, headers=bo),
        "limit 101": await world.client.get(HOME, params={"limit": 101}, headers=bo),
        "bad cursor": await world.client.get(HOME, params={"cursor": "nope"}, headers=bo),
        "long If-None-Match": await world.client.get(
            HOME, headers={**bo, "If-None-Match": "W/" + "x" * 2100}
        ),
    }
    statuses = {name: r.status_code for name, r in refused.items()}
    assert statuses == {
        "no token": 401,
        "bad token": 401,
        "other scheme": 401,
        "limit 0": 422,
        "limit 101": 422,
        "bad cursor": 400,
        "long If-None-Match": 422,
    }
    assert all(r.headers["content-type"].startswith(PROBLEM) for r in refused.values())
    # Parameters the front does not know go to the route, which answers as it always did.
    extra = await world.client.get(HOME, params={"limit": 20, "x": "1"}, headers=bo)
    assert extra.status_code == 200 and extra.content == page.content
    # Another person never gets bo's page.
    assert await world.texts("cy") == []


async def test_a_kept_page_answers_if_none_match_and_counts_under_its_route(
    world: World, reads: list[str], settings: CanteenSettings
) -> None:
    await bo_sees_a_post_of_ana(world, "etag me")
    bo = await world.auth("bo")
    etag = (await world.client.get(HOME, headers=bo)).headers["etag"]
    before = len(reads)
    unchanged = await world.client.get(HOME, headers={**bo, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert len(reads) == before + (0 if keeps_pages(settings) else 1)
    # Two If-None-Match lines: the first counts, as it does for the route.
    twice = await world.client.get(
        HOME,
        headers=[
            ("Authorization", bo["Authorization"]),
            ("If-None-Match", etag),
            ("If-None-Match", 'W/"other"'),
        ],
    )
    assert twice.status_code == 304
    metrics = (await world.client.get("/metrics")).text
    assert f'route="{HOME}",status="304"' in metrics


# -- the cache alone ---------------------------------------------------------------------


class Token:
    def __init__(self) -> None:
        self.value: int | None = 1

    def __call__(self) -> int | None:
        return self.value


def page(text: str, size: int = 10) -> Rendered:
    return Rendered(etag=f'W/"{text}"', body=text.encode().ljust(size))


def test_a_moved_token_forgets_every_page_and_refuses_pages_read_before_it() -> None:
    token = Token()
    cache = PageCache(token, max_bytes=1000)
    assert cache.current() == 1
    cache.put("a", 1, page("a"))
    assert cache.get("a") == page("a")

    token.value = 2
    assert cache.get("a") == page("a")  # only current() looks at the store
    assert cache.current() == 2
    assert cache.get("a") is None
    cache.put("b", 1, page("b"))  # read under 1, but 2 has been seen since: stale
    assert cache.get("b") is None and len(cache) == 0


def test_no_token_or_no_budget_keeps_nothing() -> None:
    token = Token()
    token.value = None
    cache = PageCache(token, max_bytes=1000)
    assert cache.current() is None
    cache.put("a", None, page("a"))
    assert cache.get("a") is None
    off = PageCache(Token(), max_bytes=0)
    assert off.current() is None


def test_the_byte_budget_drops_the_least_recently_used_and_skips_huge_pages() -> None:
    cache = PageCache(Token(), max_bytes=800)
    cache.current()
    for key in "abcdefgh":
        cache.put(key, 1, page(key, 100))
    assert cache.get("a") is not None  # now the most recently used
    cache.put("i", 1, page("i", 100))
    assert cache.get("b") is None
    assert [k for k in "acdefghi" if cache.get(k) is not None] == list("acdefghi")
    cache.put("huge", 1, page("huge", 101))  # above an eighth of the budget
    assert cache.get("huge") is None and len(cache) == 8
