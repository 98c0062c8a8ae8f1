"""Editing, deleting and pinning posts: who may, what changes, which events go out."""

from __future__ import annotations

import httpx
import pytest

from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_posts_support import (
    PROBLEM,
    Observer,
    activity_store,
    add_group,
    person,
    publish,
)
from tests.support import eventually

POSTS = "/api/v1/posts"


@pytest.fixture
async def group(settings: CanteenSettings) -> str:
    async with activity_store(settings) as store:
        await add_group(
            store,
            "g-team",
            visibility="private",
            members={"ana": "member", "bo": "member", "gus": "admin", "olga": "owner"},
        )
    return "g-team"


async def test_the_author_edits_and_the_post_is_re_rendered(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await publish(settings, person("bo", "bo", "Bo"), person("cy", "cy", "Cy"))
    ana = await login("ana")

    async def mentioning() -> list[str]:
        # Both people, not just bo: the edit below mentions cy, whose directory copy
        # arrives in its own event (right after bo's, maybe not yet handled).
        body = {"body_md": "hi @bo @cy #draft"}
        return (await client.post(POSTS, json=body, headers=ana)).json()["mentions"]

    await eventually(mentioning, until=lambda m: m == ["bo", "cy"], within=60)
    created = await client.post(POSTS, json={"body_md": "hi @bo #draft"}, headers=ana)
    post = created.json()
    async with Observer(settings) as observer:
        edited = await client.patch(
            f"{POSTS}/{post['id']}",
            json={"body_md": "Hi @bo and @cy, see *this* #final", "tags": ["Ops"]},
            headers=ana,
        )
        assert edited.status_code == 200, edited.text
        doc = edited.json()
        assert doc["revision"] == 1 and doc["edited_at"] is not None
        assert doc["created_at"] == post["created_at"]
        assert doc["body_html"] == "<p>Hi @bo and @cy, see <em>this</em> #final</p>"
        assert doc["text"] == "Hi @bo and @cy, see this #final"
        assert doc["topics"] == ["ops", "final"] and doc["tags"] == ["Ops"]
        assert doc["mentions"] == ["bo", "cy"]
        events = await observer.events_of(post["id"], 2)
    updated = next(e for e in events if e.type == "canteen.activity.post.updated.v1")
    assert updated.data["editor_id"] == "ana" and updated.data["revision"] == 1
    assert updated.data["mentions"] == ["cy"]  # only the newly mentioned
    assert updated.data["topics"] == ["ops", "final"]
    assert (await client.get(f"{POSTS}/{post['id']}", headers=ana)).json() == doc
    title = await client.patch(f"{POSTS}/{post['id']}", json={"title": "Now titled"}, headers=ana)
    assert title.json()["revision"] == 2 and title.json()["body_md"] == doc["body_md"]


@pytest.mark.parametrize(
    "payload",
    [
        {"body_md": None},
        {"body_md": "   "},
        {"tags": None},
        {"kind": "article"},
        {"url": "https://a.example"},
        {"body_md": "x" * 10_001},
        {"text": "old"},
    ],
)
async def test_bad_edits_are_422_and_change_nothing(
    client: httpx.AsyncClient, login: Login, payload: dict[str, object]
) -> None:
    ana = await login("ana")
    post = (await client.post(POSTS, json={"body_md": "original"}, headers=ana)).json()
    response = await client.patch(f"{POSTS}/{post['id']}", json=payload, headers=ana)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    after = (await client.get(f"{POSTS}/{post['id']}", headers=ana)).json()
    assert after["revision"] == 0 and after["body_md"] == "original"


async def test_a_resource_url_can_be_edited_and_is_validated(
    client: httpx.AsyncClient, login: Login
) -> None:
    ana = await login("ana")
    body = {"kind": "resource", "title": "Docs", "url": "https://a.example/"}
    post = (await client.post(POSTS, json=body, headers=ana)).json()
    bad = await client.patch(f"{POSTS}/{post['id']}", json={"url": "data:x"}, headers=ana)
    assert bad.status_code == 422
    good = await client.patch(
        f"{POSTS}/{post['id']}", json={"url": "https://b.example/", "resource_type": "video"},
        headers=ana,
    )  # fmt: skip
    assert good.json()["url"] == "https://b.example/" and good.json()["resource_type"] == "video"


async def test_who_may_edit_and_delete(client: httpx.AsyncClient, login: Login, group: str) -> None:
    ana, bo, gus, cy = [await login(u) for u in ("ana", "bo", "gus", "cy")]
    mod = await login("mo", roles=["moderator"])
    org = (await client.post(POSTS, json={"body_md": "org"}, headers=ana)).json()["id"]
    grp = (await client.post(POSTS, json={"body_md": "g", "group_id": group}, headers=ana)).json()
    edit = {"body_md": "changed"}
    assert (await client.patch(f"{POSTS}/{org}", json=edit, headers=bo)).status_code == 403
    assert (await client.patch(f"{POSTS}/{grp['id']}", json=edit, headers=bo)).status_code == 403
    assert (await client.patch(f"{POSTS}/{grp['id']}", json=edit, headers=cy)).status_code == 404
    assert (await client.delete(f"{POSTS}/{grp['id']}", headers=cy)).status_code == 404
    assert (await client.patch(f"{POSTS}/{org}", json=edit, headers=gus)).status_code == 403
    assert (await client.patch(f"{POSTS}/{grp['id']}", json=edit, headers=gus)).status_code == 200
    assert (await client.patch(f"{POSTS}/{org}", json=edit, headers=mod)).status_code == 200
    assert (await client.delete(f"{POSTS}/{org}", headers=bo)).status_code == 403
    assert (await client.delete(f"{POSTS}/{grp['id']}", headers=gus)).status_code == 204
    assert (await client.delete(f"{POSTS}/{org}", headers=mod)).status_code == 204
    assert (await client.delete(f"{POSTS}/{org}", headers=ana)).status_code == 404
    assert (await client.patch(f"{POSTS}/{org}", json=edit, headers=ana)).status_code == 404


async def test_delete_is_a_soft_delete_with_a_tombstone_event(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings, group: str
) -> None:
    ana = await login("ana")
    post = (
        await client.post(POSTS, json={"body_md": "bye", "group_id": group}, headers=ana)
    ).json()
    async with Observer(settings) as observer:
        assert (await client.delete(f"{POSTS}/{post['id']}", headers=ana)).status_code == 204
        events = await observer.events_of(post["id"], 2)
    tombstone = next(e for e in events if e.type == "canteen.activity.post.deleted.v1")
    assert tombstone.data["deleted_by"] == "ana" and tombstone.data["group_id"] == group
    assert tombstone.data["group_visibility"] == "private"  # consumers need not look it up
    async with activity_store(settings) as store:
        doc = await store.collection("posts").find_one({"_id": post["id"]})
    assert doc is not None and doc["deleted"] is True and doc["deleted_at"] is not None


async def test_pinning_by_group_admins_and_org_admins(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings, group: str
) -> None:
    ana, gus, olga = await login("ana"), await login("gus"), await login("olga")
    root = await login("root", roles=["admin"])
    grp = (
        await client.post(POSTS, json={"body_md": "news", "group_id": group}, headers=ana)
    ).json()
    org = (await client.post(POSTS, json={"body_md": "org news"}, headers=ana)).json()
    pin = f"{POSTS}/{grp['id']}/pin"
    async with Observer(settings) as observer:
        assert (await client.put(pin, headers=ana)).status_code == 403  # author, plain member
        assert (await client.put(pin, headers=root)).status_code == 404  # not a member
        pinned = await client.put(pin, headers=gus)
        assert pinned.status_code == 200 and pinned.json()["pinned"] is True
        assert (await client.put(pin, headers=olga)).json()["pinned"] is True  # no-op
        assert (await client.delete(pin, headers=olga)).json()["pinned"] is False
        events = await observer.events_of(grp["id"], 3)
        org_pin = f"{POSTS}/{org['id']}/pin"
        assert (await client.put(org_pin, headers=gus)).status_code == 403
        assert (await client.put(org_pin, headers=root)).json()["pinned"] is True
        [_, org_pinned] = await observer.events_of(org["id"], 2)
    pins = [e.data for e in events if e.type == "canteen.activity.post.pinned.v1"]
    assert [(p["pinned"], p["pinned_by"]) for p in pins] == [(True, "gus"), (False, "olga")]
    assert pins[0]["group_id"] == group and pins[0]["audience"] == "group"
    assert pins[0]["group_visibility"] == "private" and pins[0]["text"] == "news"
    assert org_pinned.data["pinned"] is True and org_pinned.data["audience"] == "org"
