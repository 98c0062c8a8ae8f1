"""Journey 5, a mobile client on a poor network.

1. Milo's phone posts a note; the network drops answers, so the app sends the same POST
   (same Idempotency-Key) again, twice at once and then later: there is one post, and every
   retry gets the first answer (`Idempotent-Replayed: true`).
2. The app polls Milo's home feed with the page's ETag: unchanged, it gets 304 with no
   body; after Nora (whom Milo follows) posts, a 200 with the new post and a new ETag.
3. Milo registers the phone for Web Push and joins Nora's private group (invited). Nora
   mentions him in the group: the push arrives on the device (encrypted for it,
   VAPID-signed) and says only "New mention in a private group". A mention in an org post
   arrives with its text.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.journeys.conftest import Api, Stack, b64
from tests.notify.test_push_devices import Browser, decrypt
from tests.support import eventually

SECRET = "Payroll cut-over moves to Saturday night"


async def test_mobile_client_on_a_poor_network(api: Api, stack: Stack) -> None:
    await api.join("milo", "nora", "otto")
    note = {"kind": "note", "body_md": "Shift handover: dock 4 scanner is back."}
    key = {"Idempotency-Key": "milo-phone-0001"}

    # 1. One post, however often the phone retries.
    async def send() -> httpx.Response:
        return await api.post("/api/v1/posts", as_="milo", json=note, headers=key)

    first = await send()
    assert first.status_code == 201, first.text
    concurrent = await asyncio.gather(send(), send())
    later = await send()
    for retry in (*concurrent, later):
        assert retry.status_code == 201, retry.text
        assert retry.headers.get("Idempotent-Replayed") == "true"
        assert retry.json()["id"] == first.json()["id"]
    different = await api.post(
        "/api/v1/posts", as_="milo", json={"body_md": "something else"}, headers=key
    )
    assert different.status_code == 422
    assert different.headers["content-type"].startswith("application/problem+json")

    async def milos_posts() -> list[dict[str, Any]]:
        body = await api.ok("GET", "/api/v1/feeds/people/milo", as_="milo")
        return list(body["items"])

    posts = await eventually(milos_posts, within=60)
    assert [p["id"] for p in posts] == [first.json()["id"]]

    # 2. Polling with ETags.
    await api.ok("PUT", "/api/v1/follows/people/nora", as_="milo")

    async def poll(etag: str | None = None) -> httpx.Response:
        headers = {"If-None-Match": etag} if etag else {}
        return await api.get("/api/v1/feeds/home", as_="milo", headers=headers)

    # A client keeps the ETag of the last 200 it got and sends it with the next poll.
    seen: dict[str, str | None] = {"etag": None}

    async def poll_once() -> httpx.Response:
        response = await poll(seen["etag"])
        if response.status_code == 200:
            assert response.headers["ETag"].startswith("W/")
            seen["etag"] = response.headers["ETag"]
        else:
            assert response.status_code == 304 and response.content == b"", response.text
        return response

    # The follow's backfill may still change the page; once it settles, polls get 304s.
    await eventually(poll_once, until=lambda r: r.status_code == 304, within=60)
    assert (await poll_once()).status_code == 304
    etag = seen["etag"]

    news = await api.ok(
        "POST", "/api/v1/posts", as_="nora", json={"body_md": "Canteen closes at 14:00 today."}
    )

    def has_news(response: httpx.Response) -> bool:
        return response.status_code == 200 and news["id"] in [
            item["id"] for item in response.json()["items"]
        ]

    changed = await eventually(poll_once, until=has_news, within=60)
    assert changed.headers["ETag"] != etag
    assert (await poll(changed.headers["ETag"])).status_code == 304

    # 3. Push to the registered phone, with nothing private in it.
    phone = Browser(f"{stack.push.origin}/push/milo-phone")
    device = await api.ok(
        "POST",
        "/api/v1/devices",
        as_="milo",
        json={**phone.subscription(), "user_agent": "Canteen Android"},
    )
    group = await api.ok(
        "POST",
        "/api/v1/groups",
        as_="nora",
        json={
            "name": "Payroll team",
            "slug": "payroll-team",
            "visibility": "private",
            "join_policy": "invite",
        },
    )
    invitations = f"/api/v1/groups/{group['id']}/invitations"
    await api.ok("POST", invitations, as_="nora", json={"user_id": "milo"})
    await api.ok("POST", f"{invitations}/accept", as_="milo")
    # Then Nora invites Otto. Membership events are keyed by group, so once Otto is told of
    # his invitation, notify has applied Milo's joining too. (A mention sent the instant
    # someone joins can be lost: notify may see the post before the membership; reported.)
    await api.ok("POST", invitations, as_="nora", json={"user_id": "otto"})

    async def ottos_invitations() -> list[str]:
        body = await api.ok("GET", "/api/v1/notifications", as_="otto")
        return [g["target"]["id"] for g in body["items"] if g["type"] == "group.invited"]

    await eventually(ottos_invitations, until=lambda ids: group["id"] in ids, within=60)

    # The mention resolves once activity's directory knows Milo (from profiles' events).
    async def private_mention() -> dict[str, Any]:
        post: dict[str, Any] = await api.ok(
            "POST",
            "/api/v1/posts",
            as_="nora",
            json={"body_md": f"@milo {SECRET}", "group_id": group["id"]},
        )
        return post

    mentioned = await eventually(private_mention, until=lambda p: "milo" in p["mentions"])
    assert mentioned["group_visibility"] == "private"

    async def pushed() -> list[dict[str, Any]]:
        """What the phone shows: every push decrypted with the phone's own keys."""
        return [decrypt(phone, body) for _, body in stack.push.for_token("milo-phone")]

    def private_mention_arrived(messages: list[dict[str, Any]]) -> bool:
        return any(m["title"] == "New mention in a private group" for m in messages)

    messages = await eventually(pushed, until=private_mention_arrived, within=60)
    [alert] = [m for m in messages if m["title"] == "New mention in a private group"]
    assert alert["body"] == "New mention in a private group"
    assert all("Payroll" not in str(m) and "Saturday" not in str(m) for m in messages), messages
    for headers, _ in stack.push.for_token("milo-phone"):
        assert headers["content-encoding"] == "aes128gcm"
        scheme, _, params = headers["authorization"].partition(" ")
        assert scheme == "vapid"
        vapid = dict(p.split("=", 1) for p in params.split(","))
        assert vapid["k"] == b64(stack.vapid_public)
        signer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), stack.vapid_public)
        claims = jwt.decode(vapid["t"], signer, algorithms=["ES256"], audience=stack.push.origin)
        assert claims["sub"] == "mailto:ops@example.org"

    await api.ok("POST", "/api/v1/posts", as_="nora", json={"body_md": "@milo dock 4 is free"})
    messages = await eventually(
        pushed, until=lambda ms: any("dock 4 is free" in str(m) for m in ms), within=60
    )
    assert all("Payroll" not in str(m) and "Saturday" not in str(m) for m in messages)

    listed = await api.ok("GET", "/api/v1/devices", as_="milo")
    assert [d["id"] for d in listed] == [device["id"]]
