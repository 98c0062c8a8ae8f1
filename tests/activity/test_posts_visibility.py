"""Who sees which post: {author, member, non-member, org admin} x {org, public group,
private group} x {GET post, GET post as AS2, GET /posts}. Invisible answers 404."""

from __future__ import annotations

import httpx
import pytest

from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_posts_support import PROBLEM, activity_store, add_group

POSTS = "/api/v1/posts"
AS2 = {"Accept": "application/activity+json"}
READERS = {"author": ("ana", []), "member": ("bo", []), "outsider": ("cy", []),
           "org admin": ("root", ["admin"])}  # fmt: skip
HIDDEN = {("private", "outsider"), ("private", "org admin")}


@pytest.fixture
async def posts(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> dict[str, str]:
    """One post per audience, all by ana; bo is a member of both groups."""
    async with activity_store(settings) as store:
        await add_group(
            store, "g-pub", visibility="public", members={"ana": "member", "bo": "member"}
        )
        await add_group(
            store, "g-priv", visibility="private", members={"ana": "member", "bo": "member"}
        )
    ana = await login("ana")
    ids = {}
    for audience, group in (("org", None), ("public", "g-pub"), ("private", "g-priv")):
        body = {"body_md": f"{audience} #news", "group_id": group}
        response = await client.post(POSTS, json=body, headers=ana)
        assert response.status_code == 201, response.text
        ids[audience] = response.json()["id"]
    return ids


@pytest.mark.parametrize("reader", list(READERS))
async def test_visibility_matrix(
    client: httpx.AsyncClient, login: Login, posts: dict[str, str], reader: str
) -> None:
    user, roles = READERS[reader]
    auth = await login(user, roles=roles)
    listed = {p["id"] for p in (await client.get(POSTS, headers=auth)).json()["items"]}
    for audience, post_id in posts.items():
        visible = (audience, reader) not in HIDDEN
        as_json = await client.get(f"{POSTS}/{post_id}", headers=auth)
        as_as2 = await client.get(f"{POSTS}/{post_id}", headers={**auth, **AS2})
        assert (post_id in listed) is visible, (audience, reader)
        if visible:
            assert as_json.status_code == 200, (audience, reader)
            assert as_as2.status_code == 200, (audience, reader)
            assert as_as2.headers["content-type"].startswith("application/activity+json")
            assert as_as2.json()["content"] == as_json.json()["body_html"]
        else:
            for response in (as_json, as_as2):
                assert response.status_code == 404, (audience, reader)
                assert response.headers["content-type"].startswith(PROBLEM)
                assert "g-priv" not in response.text


async def test_unknown_and_deleted_posts_are_404(
    client: httpx.AsyncClient, login: Login, posts: dict[str, str]
) -> None:
    ana = await login("ana")
    assert (await client.delete(f"{POSTS}/{posts['org']}", headers=ana)).status_code == 204
    for post_id in ("no-such-post", posts["org"]):
        for headers in (ana, {**ana, **AS2}):
            response = await client.get(f"{POSTS}/{post_id}", headers=headers)
            assert response.status_code == 404
    listed = {p["id"] for p in (await client.get(POSTS, headers=ana)).json()["items"]}
    assert listed == {posts["public"], posts["private"]}


async def test_reads_need_a_token(client: httpx.AsyncClient, posts: dict[str, str]) -> None:
    for path in (POSTS, f"{POSTS}/{posts['org']}"):
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_the_list_pages_newest_first(client: httpx.AsyncClient, login: Login) -> None:
    auth = await login("dee")
    ids = [
        (await client.post(POSTS, json={"body_md": f"note {i}"}, headers=auth)).json()["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(POSTS, params=params, headers=auth)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
