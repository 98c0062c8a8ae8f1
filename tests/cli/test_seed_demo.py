"""`canteen admin seed-demo`: a demo company through the public APIs, idempotent.

A small company (the generator scales down) against the all-in-one app in-process on both
backends, and once through the real command against a `canteen run` subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bench.stack import free_port
from canteen.allinone import create_all_in_one
from canteen.demo.client import Api
from canteen.demo.data import Org, build_org
from canteen.demo.seeder import seed
from shared.settings import CanteenSettings
from tests.cli.conftest import settings_env
from tests.conftest import login_with, serve
from tests.search.conftest import drop_indexes
from tests.support import eventually

PEOPLE, POSTS = 12, 16


@pytest.fixture
async def client(settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_all_in_one(settings)):
        yield http
    if settings.backend == "external":
        await drop_indexes(settings)


def expected(org: Org) -> dict[str, int]:
    return {
        "people": len(org.people),
        "groups": len(org.groups),
        "memberships": sum(len(g.members) for g in org.groups),
        "follows": sum(map(len, org.follows_people.values()))
        + sum(map(len, org.follows_topics.values())),
        "posts": len(org.posts),
        "answers": sum(len(p.answers) for p in org.posts),
        "accepted answers": sum(p.accepted is not None for p in org.posts),
        "comments": sum(len(p.comments) for p in org.posts),
        "reactions": sum(len(p.reactions) for p in org.posts),
        "votes": sum(len(a.votes) for p in org.posts for a in p.answers),
        "skills": sum(len(p.interests) for p in org.people),
    }


async def test_seeds_the_company_once(client: httpx.AsyncClient) -> None:
    org = build_org(7, people=PEOPLE, posts=POSTS)
    first = await seed(Api(client), org)
    assert dict(first.created) == {k: v for k, v in expected(org).items() if v}
    assert not first.existing

    second = await seed(Api(client), org)
    assert not second.created  # a second run creates nothing
    assert dict(second.existing) == dict(first.created)

    login = login_with(client)
    admin = await login("demo-admin", roles=["admin"])
    people = (await client.get("/api/v1/people", params={"limit": 100}, headers=admin)).json()
    assert {p.id for p in org.people} <= {p["id"] for p in people["items"]}
    ceo = org.people[0]
    reports = await client.get(f"/api/v1/people/{ceo.id}/reports", headers=admin)
    assert {p.id for p in org.people if p.manager_id == ceo.id} <= {
        r["id"] for r in reports.json()["items"]
    }
    # The seeder's provisioning token did not outlive the run.
    tokens = (await client.get("/api/v1/admin/scim-tokens", headers=admin)).json()["items"]
    assert tokens and all(t["revoked"] for t in tokens)

    # A private group and its posts stay among its members.
    private, outsider_id = next(
        (g, p.id)
        for g in org.groups
        if g.visibility == "private"
        for p in org.people
        if p.id not in {g.owner_id, *g.members}
    )
    outsider = await login(outsider_id)
    by_slug = f"/api/v1/groups/by-slug/{private.slug}"
    assert (await client.get(by_slug, headers=await login(private.owner_id))).status_code == 200
    assert (await client.get(by_slug, headers=outsider)).status_code == 404
    for post in (p for p in org.posts if p.group_slug == private.slug):
        author = await login(post.author_id)
        listed = await client.get(f"/api/v1/feeds/people/{post.author_id}", headers=author)
        for item in listed.json()["items"]:
            if item["group_id"] is not None:
                hidden = await client.get(f"/api/v1/posts/{item['id']}", headers=outsider)
                assert hidden.status_code in (200, 404)
                if item["group_visibility"] == "private":
                    assert hidden.status_code == 404

    # The questions are findable: search indexes them from the events.
    question = next(p for p in org.posts if p.kind == "question" and not p.group_slug)

    async def found() -> list[str]:
        response = await client.get(
            "/api/v1/search", params={"q": question.title, "type": "question"}, headers=admin
        )
        return [i["title"] for i in response.json().get("items", [])]

    await eventually(found, until=lambda titles: question.title in titles, within=60)


def _ready(http: httpx.Client) -> bool:
    try:
        return http.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def stack(settings: CanteenSettings) -> Iterator[str]:
    """`canteen run` in a subprocess on a temp data dir; yields its URL."""
    port = free_port()
    env = {**os.environ, **settings_env(settings), "CANTEEN_PORT": str(port)}
    env["CANTEEN_LOG_LEVEL"] = "warning"
    canteen = Path(sys.executable).with_name("canteen")
    proc = subprocess.Popen(
        [str(canteen), "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=url, timeout=2) as http:
            while not _ready(http):
                try:  # waiting on the process doubles as the poll interval
                    proc.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
                else:
                    assert proc.stderr is not None
                    pytest.fail(f"canteen run exited: {proc.stderr.read().decode()[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("canteen run did not become ready within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_command_seeds_a_running_stack(stack: str) -> None:
    args = ["admin", "seed-demo", "--url", stack, "--people", "8", "--posts", "12"]
    canteen = str(Path(sys.executable).with_name("canteen"))
    env = {**os.environ, "COLUMNS": "200"}
    first = subprocess.run([canteen, *args], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "posts" in first.stderr and "created" in first.stderr
    assert "nothing to create" not in first.stderr
    second = subprocess.run([canteen, *args], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr
    assert "nothing to create: the demo company is there" in second.stderr


def test_command_explains_an_unreachable_stack() -> None:
    canteen = str(Path(sys.executable).with_name("canteen"))
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [canteen, "admin", "seed-demo", "--url", url, "--people", "3", "--posts", "1"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "cannot reach" in result.stderr
