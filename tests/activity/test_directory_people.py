"""The directory: profiles' person events kept in `people`, idempotently and in time order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka.partitioner import murmur2

from services.activity.directory.repository import Directory
from shared.bus.sqlite_log import partition_for
from shared.events import Event
from shared.events.envelope import EventData, new_event
from shared.events.schemas.profiles import PersonDeactivated, PersonUpdated
from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_posts_support import activity_store, person, publish
from tests.support import eventually

POSTS = "/api/v1/posts"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(payload: EventData, minutes: int) -> Event:
    return new_event(payload).model_copy(update={"time": T0 + timedelta(minutes=minutes)})


def same_partition_as(key: str, partitions: int = 3) -> str:
    """A person id whose events go to `key`'s partition on both buses (the embedded log's
    crc32, Kafka's murmur2), so they are handled after every earlier event of `key`."""
    of = key.encode()
    embedded = partition_for(of, partitions)
    kafka = (murmur2(of) & 0x7FFFFFFF) % partitions
    for i in itertools.count():
        candidate = f"u-marker-{i}".encode()
        if partition_for(candidate, partitions) == embedded and (
            (murmur2(candidate) & 0x7FFFFFFF) % partitions == kafka
        ):
            return candidate.decode()
    raise AssertionError("unreachable")


async def people(settings: CanteenSettings, *ids: str) -> dict[str, dict[str, Any]]:
    async with activity_store(settings) as store:
        docs = await store.collection("people").find({"_id": {"$in": list(ids)}})
    return {d["_id"]: d for d in docs}


async def test_person_events_build_the_directory_in_time_order(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    created = at(person("u1", "Ana", "Ana A.", title="SRE", department="Ops"), 0)
    renamed = at(PersonUpdated(id="u1", handle="ana", display_name="Ana Alves"), 10)
    stale = at(PersonUpdated(id="u1", handle="old", display_name="Stale Name"), 5)
    # Redelivered, and out of order: the 5-minute update arrives after the 10-minute one.
    await publish(settings, created, renamed, created, stale, renamed)
    # A marker on u1's partition: once it is applied, every u1 event before it was handled.
    marker_id = same_partition_as("u1", settings.bus_partitions)
    marker = at(person(marker_id, "marker", "Marker"), 0)
    await publish(settings, marker)
    found = await eventually(
        lambda: people(settings, "u1", marker_id), until=lambda p: len(p) == 2, within=60
    )
    ana = found["u1"]
    assert (ana["handle"], ana["display_name"]) == ("ana", "Ana Alves")
    assert ana["title"] is None and ana["active"] is True
    auth = await login("u1")
    post = (await client.post(POSTS, json={"body_md": "hello @ana @old"}, headers=auth)).json()
    assert post["author"] == {
        "id": "u1", "handle": "ana", "display_name": "Ana Alves", "avatar_url": None
    }  # fmt: skip
    assert post["mentions"] == ["u1"]


async def test_deactivated_people_keep_their_name_but_cannot_be_mentioned(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await publish(settings, at(person("u2", "bo", "Bo Berg"), 0))
    bo, colleague = await login("u2"), await login("u1")

    async def mentions(body: str) -> list[str]:
        response = await client.post(POSTS, json={"body_md": body}, headers=colleague)
        return response.json()["mentions"]

    await eventually(lambda: mentions("@bo"), until=lambda m: m == ["u2"], within=60)
    mine = (await client.post(POSTS, json={"body_md": "still me"}, headers=bo)).json()
    await publish(settings, at(PersonDeactivated(id="u2"), 1))
    await eventually(lambda: mentions("@bo"), until=lambda m: m == [], within=60)
    kept = (await client.get(f"{POSTS}/{mine['id']}", headers=colleague)).json()
    assert kept["author"]["display_name"] == "Bo Berg"

    # And Bo's own token stops working (shared/deactivation.py: its own consumer, and a
    # per-person cache of a few seconds).
    async def bo_reads() -> int:
        return (await client.get(f"{POSTS}/{mine['id']}", headers=bo)).status_code

    await eventually(bo_reads, until=lambda status: status == 401, within=60)
    # An older "created" redelivered after the deactivation changes nothing.
    await publish(settings, at(person("u2", "bo", "Bo Berg"), 0), at(person("u-m2", "m2", "M"), 0))
    await eventually(lambda: people(settings, "u-m2"), within=60)
    assert (await people(settings, "u2"))["u2"]["active"] is False


async def test_a_handle_moves_to_its_newest_claimant(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await publish(settings, at(person("u3", "cy", "Cy One"), 0))
    await eventually(lambda: people(settings, "u3"), within=60)
    # u4 takes the handle before u3's rename is delivered (different keys, any order).
    await publish(settings, at(person("u4", "cy", "Cy Two"), 2))
    found = await eventually(lambda: people(settings, "u4"), within=60)
    assert found["u4"]["handle"] == "cy"
    assert "handle" not in (await people(settings, "u3"))["u3"]
    await publish(settings, at(PersonUpdated(id="u3", handle="cy1", display_name="Cy One"), 1))
    await eventually(
        lambda: people(settings, "u3"), until=lambda p: p["u3"].get("handle") == "cy1", within=60
    )
    auth = await login("u5")
    post = (await client.post(POSTS, json={"body_md": "@cy and @cy1"}, headers=auth)).json()
    assert post["mentions"] == ["u4", "u3"]


async def test_an_older_claim_on_a_handle_does_not_take_it_from_the_newer_claimant(
    settings: CanteenSettings,
) -> None:
    """Person events travel under each person's key, so an older claim can arrive last."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with activity_store(settings) as store:
        directory = Directory(store)
        await directory.prepare()
        fields = {"display_name": "Dee", "active": True}
        assert await directory.apply("u7", {**fields, "handle": "dee"}, at=T0)
        # u8 took "dee" at 0:10 (u7 had renamed to "dee1" by then: that event is late).
        assert await directory.apply(
            "u8", {**fields, "handle": "dee"}, at=T0 + timedelta(minutes=10)
        )
        # u7's older claim (0:05) redelivered: it must not take the handle back.
        assert await directory.apply(
            "u7", {**fields, "handle": "dee", "title": "SRE"}, at=T0 + timedelta(minutes=5)
        )
        found = {d["_id"]: d for d in await store.collection("people").find({})}
        assert found["u8"]["handle"] == "dee"
        assert "handle" not in found["u7"] and found["u7"]["title"] == "SRE"
        assert await directory.resolve_handles(["dee"]) == {"dee": "u8"}
        # u7's own rename still lands.
        assert await directory.apply(
            "u7", {**fields, "handle": "dee1"}, at=T0 + timedelta(minutes=6)
        )
        assert await directory.resolve_handles(["dee", "dee1"]) == {"dee": "u8", "dee1": "u7"}
