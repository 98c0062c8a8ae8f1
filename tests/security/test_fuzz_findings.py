"""What the schema fuzzer found, pinned down as plain tests on both backends.

Each was a 500 (see `test_fuzz.py`); each now answers as documented.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from canteen.allinone import create_single
from shared.settings import CanteenSettings
from tests.conftest import login_with, serve
from tests.search.conftest import drop_indexes


async def test_a_person_id_outside_latin_1_gets_an_encoded_location(
    settings: CanteenSettings,
) -> None:
    person_id = "ana-\U0001d11e-ü"  # a JWT sub may hold any character
    async for client in serve(create_single(settings, "profiles")):
        admin = await login_with(client)("root", roles=["admin"])
        created = await client.post(
            "/api/v1/people", json={"id": person_id, "display_name": "Ana"}, headers=admin
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        assert location.endswith("/api/v1/people/" + quote(person_id, safe=""))
        read = await client.get(location, headers=admin)
        assert read.status_code == 200, read.text
        assert read.json()["id"] == person_id


async def test_null_aliases_in_a_skill_patch_clear_them(settings: CanteenSettings) -> None:
    async for client in serve(create_single(settings, "profiles")):
        admin = await login_with(client)("root", roles=["admin"])
        body = {"name": "Python", "aliases": ["py"]}
        skill = (await client.post("/api/v1/skills", json=body, headers=admin)).json()
        patched = await client.patch(
            f"/api/v1/skills/{skill['id']}", json={"aliases": None}, headers=admin
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["aliases"] == []


@pytest.mark.parametrize("q", ["a\x00b", "\x00"])
async def test_a_nul_in_a_typeahead_prefix_is_no_server_error(
    settings: CanteenSettings, q: str
) -> None:
    async for client in serve(create_single(settings, "search")):
        ana = await login_with(client)("ana")
        response = await client.get("/api/v1/suggest", params={"q": q}, headers=ana)
        assert response.status_code == 200, response.text
        assert response.json() == {"items": []}
    if settings.backend == "external":  # the shared cluster has a shard limit
        await drop_indexes(settings)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_mangled_unsubscribe_link_is_a_400_not_a_500(
    settings: CanteenSettings, method: str
) -> None:
    async for client in serve(create_single(settings, "notify")):
        response = await client.request(
            method, "/api/v1/notifications/unsubscribe", params={"token": "ä.Â\x96X_M"}
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
