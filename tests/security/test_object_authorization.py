"""OWASP API1 (object-level) and API5 (function-level) authorization, from the route table.

Ana owns things: a public question with an answer and a comment, a public group, a private
group with a question, answer and comment inside, a notification and a push device. Mallory
is a plain member of the organisation and of no group. For every route of every service
that takes an id (read from the served OpenAPI document, so a new route cannot escape):

- with the ids of the private group's content, Mallory gets 404 on every method: a private
  group's existence never leaks;
- with the ids of Ana's public things, Mallory gets 403 or 404 where only the owner (or an
  admin) may act, and the object is unchanged afterwards;
- routes anyone signed in may use on someone else's things are listed in OPEN with the
  reason, routes about the caller only in SELF, admin routes in ADMIN (a member gets 403);
- SCIM routes refuse a user's JWT (they take SCIM tokens only).

A route missing from every list fails the test: classify it when you add it.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from canteen.allinone import create_all_in_one
from shared.http.ratelimit import RateLimiter
from shared.settings import CanteenSettings
from tests.conftest import login_with, serve
from tests.support import eventually

V1 = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")

# Only the owner (or a group admin / moderator / org admin) may do these to Ana's things.
OWNER_ONLY = {
    "PATCH /api/v1/posts/{post_id}",
    "DELETE /api/v1/posts/{post_id}",
    "PUT /api/v1/posts/{post_id}/pin",
    "DELETE /api/v1/posts/{post_id}/pin",
    "PATCH /api/v1/answers/{answer_id}",
    "DELETE /api/v1/answers/{answer_id}",
    "PUT /api/v1/questions/{question_id}/accepted-answer",
    "DELETE /api/v1/questions/{question_id}/accepted-answer",
    "DELETE /api/v1/comments/{comment_id}",
    "PATCH /api/v1/groups/{group_id}",
    "DELETE /api/v1/groups/{group_id}",
    "GET /api/v1/groups/{group_id}/requests",
    "POST /api/v1/groups/{group_id}/requests/{user_id}/approve",
    "POST /api/v1/groups/{group_id}/requests/{user_id}/reject",
    "POST /api/v1/groups/{group_id}/invitations",
    "PUT /api/v1/groups/{group_id}/members/{user_id}/role",
    "DELETE /api/v1/groups/{group_id}/members/{user_id}",
    "PATCH /api/v1/people/{person_id}",
    "POST /api/v1/notifications/{notification_id}/read",
    "POST /api/v1/notifications/groups/{group_id}/read",
    "DELETE /api/v1/devices/{device_id}",
}
# Any signed-in person may do these with someone else's (visible) things.
OPEN = {
    "GET /api/v1/posts/{post_id}": "read a visible post",
    "POST /api/v1/questions/{question_id}/answers": "answer a visible question",
    "GET /api/v1/questions/{question_id}/answers": "read answers",
    "GET /api/v1/answers/{answer_id}": "read a visible answer",
    "PUT /api/v1/answers/{answer_id}/vote": "vote on an answer",
    "POST /api/v1/posts/{post_id}/comments": "comment on a visible post",
    "GET /api/v1/posts/{post_id}/comments": "read comments",
    "GET /api/v1/comments/{comment_id}": "read a visible comment",
    "PUT /api/v1/{targets}/{target_id}/reactions": "react (your own reaction)",
    "DELETE /api/v1/{targets}/{target_id}/reactions": "remove your own reaction",
    "GET /api/v1/{targets}/{target_id}/reactions": "reaction counts",
    "PUT /api/v1/follows/people/{user_id}": "follow a person",
    "DELETE /api/v1/follows/people/{user_id}": "unfollow (your own follow)",
    "PUT /api/v1/follows/topics/{topic}": "follow a topic",
    "DELETE /api/v1/follows/topics/{topic}": "unfollow a topic",
    "GET /api/v1/follows/people/{user_id}/followers": "the directory is public inside the org",
    "GET /api/v1/follows/people/{user_id}/following": "the directory is public inside the org",
    "GET /api/v1/follows/people/{user_id}/stats": "follower counts",
    "GET /api/v1/follows/topics/{topic}/followers": "topic followers",
    "GET /api/v1/follows/topics/{topic}/stats": "topic counts",
    "GET /api/v1/groups/by-slug/{slug}": "a public group's page",
    "GET /api/v1/groups/{group_id}": "a public group's page",
    "GET /api/v1/groups/{group_id}/membership": "your own membership",
    "POST /api/v1/groups/{group_id}/join": "join an open public group",
    "POST /api/v1/groups/{group_id}/leave": "leave (your own membership)",
    "GET /api/v1/groups/{group_id}/members": "a public group's members",
    "POST /api/v1/groups/{group_id}/invitations/accept": "your own invitation (404 if none)",
    "POST /api/v1/groups/{group_id}/invitations/decline": "your own invitation (404 if none)",
    "GET /api/v1/feeds/groups/{group_id}": "a public group's feed",
    "GET /api/v1/feeds/topics/{topic}": "a topic feed (filtered by visibility)",
    "GET /api/v1/feeds/people/{user_id}": "a person's visible posts",
    "GET /api/v1/people/by-handle/{handle}": "the directory",
    "GET /api/v1/people/{person_id}": "the directory",
    "GET /api/v1/people/{person_id}/reports": "the org chart",
    "GET /api/v1/people/{person_id}/manager-chain": "the org chart",
    "GET /api/v1/skills/{name}": "the skills taxonomy",
    "GET /api/v1/skills/people/{person_id}": "declared skills are public",
    "PUT /api/v1/endorsements/{person_id}/{skill}": "endorse a colleague",
    "DELETE /api/v1/endorsements/{person_id}/{skill}": "withdraw your own endorsement",
    "GET /api/v1/people/{person_id}/expertise": "public expertise (hidden topics excluded)",
    "GET /api/v1/experts/for-question/{post_id}": "who to ask about a visible question",
}
# About the caller only: the path names no one else's object.
SELF = {
    "PUT /api/v1/skills/mine/{skill}",
    "DELETE /api/v1/skills/mine/{skill}",
    "PUT /api/v1/people/me/hidden-topics/{topic}",
    "DELETE /api/v1/people/me/hidden-topics/{topic}",
    "GET /api/v1/people/{person_id}/suggestions",  # `me` only: checked below
}
ADMIN = {
    "POST /api/v1/people/{person_id}/deactivate",
    "POST /api/v1/people/{person_id}/reactivate",
    "DELETE /api/v1/admin/scim-tokens/{credential_id}",
    "PATCH /api/v1/skills/{skill_id}",
    "DELETE /api/v1/skills/{skill_id}",
}
SCIM = {
    "GET /scim/v2/Schemas/{schema_id}",
    "GET /scim/v2/ResourceTypes/{type_id}",
    "GET /scim/v2/Users/{user_id}",
    "PUT /scim/v2/Users/{user_id}",
    "PATCH /scim/v2/Users/{user_id}",
    "DELETE /scim/v2/Users/{user_id}",
}
# Param names that point into the private group in the private pass.
PRIVATE_PARAMS = {"post_id", "question_id", "answer_id", "comment_id", "group_id", "target_id"}

BODIES: dict[str, dict[str, Any]] = {
    "PATCH /api/v1/posts/{post_id}": {"body_md": "pwned"},
    "POST /api/v1/questions/{question_id}/answers": {"text": "an answer"},
    "PATCH /api/v1/answers/{answer_id}": {"text": "pwned"},
    "PUT /api/v1/answers/{answer_id}/vote": {"value": 1},
    "PUT /api/v1/questions/{question_id}/accepted-answer": {"answer_id": "{answer_id}"},
    "POST /api/v1/posts/{post_id}/comments": {"text": "a comment"},
    "PUT /api/v1/{targets}/{target_id}/reactions": {"kind": "like"},
    "PATCH /api/v1/groups/{group_id}": {"name": "pwned"},
    "POST /api/v1/groups/{group_id}/invitations": {"user_id": "mallory"},
    "PUT /api/v1/groups/{group_id}/members/{user_id}/role": {"role": "member"},
    "PATCH /api/v1/people/{person_id}": {"title": "pwned"},
    "PATCH /api/v1/skills/{skill_id}": {"name": "pwned"},
    "PUT /api/v1/skills/mine/{skill}": {"level": 3},
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def p256dh() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return b64url(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def served_routes(app: Any) -> set[str]:
    spec = app.openapi()
    return {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS and "{" in path
    }


def fill(route: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m[1]], route.split(" ", 1)[1])


async def call(
    client: httpx.AsyncClient, route: str, ids: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    method = route.split(" ", 1)[0]
    body = BODIES.get(route)
    if body is not None:
        body = {k: fill(f"X {v}", ids) if isinstance(v, str) else v for k, v in body.items()}
    return await client.request(method, fill(route, ids), json=body, headers=headers)


@pytest.fixture
async def world(settings: CanteenSettings) -> Any:
    app = create_all_in_one(settings)
    app.state.rate_limiter = RateLimiter(multiplier=0)
    async for client in serve(app):
        yield {"app": app, "client": client, **await build_world(client)}


async def build_world(client: httpx.AsyncClient) -> dict[str, Any]:
    login = login_with(client)
    ana, mallory, ben = await login("ana"), await login("mallory"), await login("ben")
    admin = await login("root", roles=["admin"])
    for headers in (ana, mallory, ben):  # dev mode provisions people on first sight
        assert (await client.get(f"{V1}/people/me", headers=headers)).status_code == 200

    async def made(path: str, body: dict[str, Any], who: dict[str, str] = ana) -> str:
        response = await client.post(f"{V1}{path}", json=body, headers=who)
        assert response.status_code in (200, 201), response.text
        return str(response.json()["id"])

    public_group = await made(
        "/groups", {"name": "Open kitchen", "slug": "open-kitchen", "join_policy": "request"}
    )
    private_group = await made(
        "/groups",
        {"name": "Board", "slug": "board", "visibility": "private", "join_policy": "invite"},
    )
    question = {"kind": "question", "title": "How?", "body_md": "How do we ship?"}
    public_q = await made("/posts", {**question, "tags": ["shipping"]})
    private_q = await made("/posts", {**question, "group_id": private_group})
    public_a = await made(f"/questions/{public_q}/answers", {"text": "Like this."})
    private_a = await made(f"/questions/{private_q}/answers", {"text": "Secretly."})
    public_c = await made(f"/posts/{public_q}/comments", {"text": "Noted."})
    private_c = await made(f"/posts/{private_q}/comments", {"text": "Hush."})
    skill = await made("/skills", {"name": "Shipping"}, who=admin)
    # Ben asks to join the public group (a pending request Mallory must not approve)
    # and comments on Ana's question (a notification for Ana).
    joined = await client.post(f"{V1}/groups/{public_group}/join", headers=ben)
    assert joined.status_code in (200, 201, 202), joined.text
    await made(f"/posts/{public_q}/comments", {"text": "Me too"}, who=ben)
    notification: dict[str, str] = {}

    async def ana_was_notified() -> bool:
        page = await client.get(f"{V1}/notifications", headers=ana)
        items = page.json()["items"] if page.status_code == 200 else []
        # The inbox lists aggregation groups, each with its notifications. A group is
        # written just before its notifications, so a read between the two finds it empty.
        if items and items[0]["items"]:
            notification["id"] = items[0]["items"][0]["id"]
            notification["group"] = items[0]["id"]
        return bool(notification)

    await eventually(ana_was_notified, within=30)

    async def profiles_know_both_questions() -> bool:
        # Profiles learns of questions from the bus; until it has, "who to ask" is a 404
        # for everyone, which would make a refusal below mean nothing.
        for post_id in (public_q, private_q):
            asked = await client.get(f"{V1}/experts/for-question/{post_id}", headers=ana)
            if asked.status_code != 200:
                return False
        return True

    await eventually(profiles_know_both_questions, within=30)
    device = await client.post(
        f"{V1}/devices",
        json={
            "endpoint": "https://push.example.test/ana-phone",
            "keys": {"p256dh": p256dh(), "auth": b64url(bytes(range(16)))},
        },
        headers=ana,
    )
    assert device.status_code == 201, device.text
    public_ids = {
        "post_id": public_q,
        "question_id": public_q,
        "answer_id": public_a,
        "comment_id": public_c,
        "targets": "posts",
        "target_id": public_q,
        "group_id": public_group,
        "slug": "open-kitchen",
        "user_id": "ana",
        "person_id": "ana",
        "handle": "ana",
        "topic": "shipping",
        "notification_id": notification["id"],
        "device_id": device.json()["id"],
        "skill": "shipping",
        "skill_id": skill,
        "name": "shipping",
        "credential_id": "nope",
        "schema_id": "urn:ietf:params:scim:schemas:core:2.0:User",
        "type_id": "User",
    }
    private_ids = {
        **public_ids,
        "post_id": private_q,
        "question_id": private_q,
        "answer_id": private_a,
        "comment_id": private_c,
        "target_id": private_q,
        "group_id": private_group,
        "slug": "board",
    }
    # The join request makes `user_id` ben in the group routes that act on a member.
    return {
        "ana": ana,
        "mallory": mallory,
        "public": public_ids,
        "private": private_ids,
        "pending": {**public_ids, "user_id": "ben"},
        # The notification routes' `group_id` is an aggregation group of Ana's inbox.
        "inbox": {**public_ids, "group_id": notification["group"]},
    }


def test_every_route_with_an_id_is_classified(tmp_path: Any) -> None:
    settings = CanteenSettings(env="dev", backend="embedded", data_dir=tmp_path / "var")
    routes = served_routes(create_all_in_one(settings))
    classified = OWNER_ONLY | set(OPEN) | SELF | ADMIN | SCIM
    assert not routes - classified, f"classify these routes: {sorted(routes - classified)}"
    assert not classified - routes, f"stale entries: {sorted(classified - routes)}"


async def _owner_only_routes_refuse_someone_else(world: dict[str, Any]) -> None:
    client, mallory = world["client"], world["mallory"]
    allowed: list[str] = []
    for route in sorted(OWNER_ONLY):
        ids = world["pending"] if "{user_id}" in route else world["public"]
        if "/notifications/groups/" in route:
            ids = world["inbox"]
        response = await call(client, route, ids, mallory)
        if response.status_code not in (403, 404):
            allowed.append(f"{route}: {response.status_code} {response.text[:120]}")
    assert not allowed, "\n".join(allowed)
    # Nothing changed: Ana's post, answer, group and profile are as she left them.
    ana = world["ana"]
    ids = world["public"]
    post = (await client.get(f"{V1}/posts/{ids['post_id']}", headers=ana)).json()
    assert post["body_md"] == "How do we ship?"
    group = (await client.get(f"{V1}/groups/{ids['group_id']}", headers=ana)).json()
    assert group["name"] == "Open kitchen"
    answers = (await client.get(f"{V1}/questions/{ids['post_id']}/answers", headers=ana)).json()
    items = answers["items"] if isinstance(answers, dict) else answers
    assert [a["text"] for a in items] == ["Like this."]
    inbox = (await client.get(f"{V1}/notifications", headers=ana)).json()["items"]
    notifications = {n["id"]: n for g in inbox for n in g["items"]}
    assert notifications[ids["notification_id"]]["read"] is False


async def _the_private_group_is_a_404_on_every_route(world: dict[str, Any]) -> None:
    client, mallory = world["client"], world["mallory"]
    leaked: list[str] = []
    for route in sorted(OWNER_ONLY | set(OPEN)):
        params = set(re.findall(r"\{(\w+)\}", route))
        if not params & PRIVATE_PARAMS:
            continue
        response = await call(client, route, world["private"], mallory)
        if response.status_code != 404:
            leaked.append(f"{route}: {response.status_code} {response.text[:120]}")
    assert not leaked, "\n".join(leaked)


async def _admin_routes_refuse_members(world: dict[str, Any]) -> None:
    client, mallory = world["client"], world["mallory"]
    for route in sorted(ADMIN):
        response = await call(client, route, world["public"], mallory)
        assert response.status_code == 403, (route, response.status_code, response.text)


async def _scim_refuses_user_tokens_and_suggestions_are_mine_only(
    world: dict[str, Any],
) -> None:
    client, mallory = world["client"], world["mallory"]
    for route in sorted(SCIM):
        response = await call(client, route, world["public"], mallory)
        assert response.status_code == 401, (route, response.status_code, response.text)
    others = await client.get(f"{V1}/people/ana/suggestions", headers=mallory)
    assert others.status_code in (403, 404), others.text


async def _the_ids_are_real_so_the_refusals_mean_something(world: dict[str, Any]) -> None:
    """Every OPEN read answers Mallory on public ids, and Ana on the private ones."""
    client = world["client"]
    failing: list[str] = []
    for route in sorted(r for r in OPEN if r.startswith("GET ")):
        public = await call(client, route, world["public"], world["mallory"])
        if public.status_code != 200:
            failing.append(f"mallory {route}: {public.status_code} {public.text[:100]}")
        if set(re.findall(r"\{(\w+)\}", route)) & PRIVATE_PARAMS:
            private = await call(client, route, world["private"], world["ana"])
            if private.status_code != 200:
                failing.append(f"ana {route}: {private.status_code} {private.text[:100]}")
    assert not failing, "\n".join(failing)


async def test_object_and_function_level_authorization(world: dict[str, Any]) -> None:
    """One world per backend (building it on FerretDB takes a while), every check on it."""
    await _the_ids_are_real_so_the_refusals_mean_something(world)
    await _owner_only_routes_refuse_someone_else(world)
    await _the_private_group_is_a_404_on_every_route(world)
    await _admin_routes_refuse_members(world)
    await _scim_refuses_user_tokens_and_suggestions_are_mine_only(world)
