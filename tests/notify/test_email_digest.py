"""Digests (sent through aiosmtpd) and the one-click unsubscribe that stops them."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from services.notify.email.compose import Composer
from services.notify.email.digest import DigestScheduler
from services.notify.email.outbox import EMAIL_OUTBOX, EmailOutbox
from services.notify.email.projections import DigestProjections, build_dispatcher
from services.notify.preferences.repository import PreferenceRepository
from shared.events.envelope import new_event
from shared.events.schemas.activity.posts import PostCreated
from shared.events.schemas.activity.social import FollowCreated
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.conftest import CURSOR_SECRET
from tests.notify import test_email_support as support
from tests.notify.test_email_support import Sink, bodies, deliver, notification
from tests.support import eventually

mail_client = support.mail_client
mail_settings = support.mail_settings
smtp = support.smtp
store = support.store

PARIS = ZoneInfo("Europe/Paris")
# A Monday, 09:00 in Paris: past the default digest hour (8) there. In the past, so the
# queued mail is due at once for the running service's sender.
MONDAY_9 = datetime(2020, 1, 6, 9, 0, tzinfo=PARIS)


def scheduler(store: DocumentStore, settings: CanteenSettings) -> DigestScheduler:
    base = settings.public_base_url
    composer = Composer(base_url=base, sender=settings.mail_from, secret=CURSOR_SECRET)
    return DigestScheduler(
        store,
        EmailOutbox(store),
        PreferenceRepository(store),
        DigestProjections(store),
        composer,
        hour=settings.digest_local_hour,
        base_url=base,
    )


async def seed(store: DocumentStore) -> None:
    """Ana (Paris, daily digest) has unread digest items, follows `python`, knows `rust`."""
    await store.collection("preferences").insert_one(
        {
            "_id": "ana",
            "email_address": "ana@example.org",
            "time_zone": "Europe/Paris",
            "digest": "daily",
        }
    )
    notifications = store.collection("notifications")
    at = MONDAY_9 - timedelta(hours=3)
    channels = {"email": "digest", "push": "off"}
    await notifications.insert_one(notification("d1", "ana", created_at=at, channels=channels))
    await notifications.insert_one(
        notification("d2", "ana", private=True, created_at=at, channels=channels)
    )
    read = notification(
        "d3", "ana", created_at=at, channels=channels, read_at=at, summary="already read"
    )
    await notifications.insert_one(read)
    projections = DigestProjections(store)
    dispatch = build_dispatcher(projections)
    await dispatch(
        new_event(
            FollowCreated(
                id="ana:topic:python",
                follower_id="ana",
                target_type="topic",
                target_id="python",
                created_at=at,
            )
        )
    )
    await dispatch(
        new_event(
            PostCreated(
                id="p-py",
                kind="note",
                author_id="bo",
                audience="org",
                title="Python 3.14 tips",
                text="...",
                topics=["python"],
                created_at=at,
            )
        )
    )
    await dispatch(
        new_event(
            PostCreated(
                id="p-secret",
                kind="note",
                author_id="bo",
                audience="group",
                group_id="g",
                group_visibility="private",
                title="Secret python plan",
                text="...",
                topics=["python"],
                created_at=at,
            )
        )
    )
    await projections.expertise.insert_one({"_id": "ana:rust", "person_id": "ana", "topic": "rust"})
    await dispatch(
        new_event(
            PostCreated(
                id="q-rs",
                kind="question",
                author_id="cy",
                audience="org",
                title="Lifetimes help?",
                text="...",
                topics=["rust"],
                created_at=at,
            )
        )
    )


async def test_daily_digest_at_local_hour_then_one_click_unsubscribe(
    mail_client: httpx.AsyncClient,
    store: DocumentStore,
    smtp: tuple[Sink, int],
    mail_settings: CanteenSettings,
) -> None:
    sink, _ = smtp
    await seed(store)
    digests = scheduler(store, mail_settings)

    assert await digests.tick(MONDAY_9 - timedelta(hours=2)) == 0  # 07:00 in Paris: not yet
    assert await digests.tick(MONDAY_9) == 1
    assert await digests.tick(MONDAY_9 + timedelta(hours=1)) == 0  # once per period

    async def mail() -> list:
        return sink.with_id("<d-ana-daily-2020-01-06@canteen.local>")

    [msg] = await eventually(mail)
    plain, html = bodies(msg)
    assert msg["Subject"] == "Your daily Canteen digest"
    assert "bo mentioned you: hello" in plain
    assert "New mention in a private group" in plain
    assert "Lyon" not in plain + html and "already read" not in plain
    assert "Python 3.14 tips" in plain and "Secret python plan" not in plain + html
    assert "Lifetimes help?" in html
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    link = urlsplit(msg["List-Unsubscribe"].strip("<>"))
    confirm = await mail_client.get(f"{link.path}?{link.query}")
    assert confirm.status_code == 200 and "<form" in confirm.text
    assert (await store.collection("preferences").find_one({"_id": "ana"}))["digest"] == "daily"

    response = await mail_client.post(
        f"{link.path}?{link.query}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    prefs = await store.collection("preferences").find_one({"_id": "ana"})
    assert prefs is not None and prefs["digest"] == "off"
    assert prefs["email_address"] == "ana@example.org"  # the rest untouched

    assert await digests.tick(MONDAY_9 + timedelta(days=1)) == 0
    assert await store.collection(EMAIL_OUTBOX).count({"kind": "digest"}) == 1


async def test_the_digest_goes_to_the_directory_work_email_without_one_chosen(
    mail_client: httpx.AsyncClient,
    store: DocumentStore,
    smtp: tuple[Sink, int],
    mail_settings: CanteenSettings,
) -> None:
    sink, _ = smtp
    await seed(store)
    prefs = store.collection("preferences")
    await prefs.update_one(
        {"_id": "ana"}, {"$set": {"email_address": None, "directory_email": "ana@corp.example"}}
    )
    # Someone the directory gives no address, with a digest due too: nothing to send to.
    await prefs.insert_one({"_id": "cy", "time_zone": "UTC", "digest": "daily"})
    digests = scheduler(store, mail_settings)

    assert await digests.tick(MONDAY_9) == 1

    async def mail() -> list:
        return sink.with_id("<d-ana-daily-2020-01-06@canteen.local>")

    [msg] = await eventually(mail)
    assert msg["To"] == "ana@corp.example"
    assert (await digests.send_now("cy", MONDAY_9)).result == "no email address"


async def test_empty_digest_is_not_sent(
    mail_client: httpx.AsyncClient, store: DocumentStore, mail_settings: CanteenSettings
) -> None:
    await store.collection("preferences").insert_one(
        {"_id": "bo", "email_address": "bo@example.org", "time_zone": "UTC", "digest": "daily"}
    )
    assert await scheduler(store, mail_settings).tick(MONDAY_9) == 0
    assert await store.collection(EMAIL_OUTBOX).count({}) == 0


async def test_weekly_digest_only_on_monday(
    mail_client: httpx.AsyncClient, store: DocumentStore, mail_settings: CanteenSettings
) -> None:
    await seed(store)
    await store.collection("preferences").update_one({"_id": "ana"}, {"$set": {"digest": "weekly"}})
    digests = scheduler(store, mail_settings)
    assert await digests.tick(MONDAY_9 - timedelta(days=1)) == 0  # Sunday
    assert await digests.tick(MONDAY_9) == 1
    assert await store.collection(EMAIL_OUTBOX).find_one({"_id": "d:ana:weekly:2020-W02"})


async def test_unsubscribe_from_one_type_of_immediate_email(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    await store.collection("preferences").insert_one(
        {"_id": "ana", "email_address": "ana@example.org", "time_zone": "UTC"}
    )
    notifications = store.collection("notifications")
    await deliver(store, notification("m1", "ana"))

    async def mail() -> list:
        return sink.with_id("<n-m1@canteen.local>")

    [msg] = await eventually(mail)
    link = urlsplit(msg["List-Unsubscribe"].strip("<>"))
    assert (await mail_client.post(f"{link.path}?{link.query}")).status_code == 200

    await deliver(store, notification("m2", "ana"))

    async def routed() -> str:
        doc = await notifications.find_one({"_id": "m2"})
        return str(doc["channels"]["email"]) if doc else ""

    # Queued for email at creation ("now"); the worker finds email off for that type now
    # and hands it to the digest.
    assert await eventually(routed, until=lambda s: s not in ("now", "")) == "digest"


async def test_forged_or_malformed_unsubscribe_link_is_refused(
    mail_client: httpx.AsyncClient, store: DocumentStore
) -> None:
    path = "/api/v1/notifications/unsubscribe"
    other = Composer(base_url="http://x", sender="x@y", secret="another-secret-" + "z" * 20)
    forged = urlsplit(other.unsubscribe_url("ana", "digest")).query
    for query in (forged, "token=not-a-token-at-all", "token=eyJ1IjoiYW5hIn0.c2ln"):
        response = await mail_client.post(f"{path}?{query}")
        assert response.status_code == 400, (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await mail_client.post(path)).status_code == 422
    assert await store.collection("preferences").count({}) == 0
