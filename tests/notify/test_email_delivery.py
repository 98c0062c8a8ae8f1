"""Email through a real SMTP server (aiosmtpd): immediate mail, retries, quiet hours,
private content, idempotency; the MIME that arrives is parsed and checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import httpx

from services.notify.email import tokens
from services.notify.email.outbox import EMAIL_OUTBOX
from services.notify.routing import RoutingQueue
from shared.backends import make_bus
from shared.events.schemas.profiles import TOPIC as PROFILES_TOPIC
from shared.events.schemas.profiles import PersonCreated, PersonUpdated
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.conftest import CURSOR_SECRET, login_with
from tests.notify import test_email_support as support
from tests.notify.test_email_support import Sink, bodies, deliver, notification
from tests.notify.test_inbox_support import publish, uid
from tests.support import eventually

mail_client = support.mail_client
mail_settings = support.mail_settings
smtp = support.smtp
store = support.store

ANA = {"_id": "ana", "email_address": "ana@example.org", "time_zone": "UTC"}


async def arrived(sink: Sink, message_id: str, n: int = 1) -> list:
    async def probe() -> list:
        return sink.with_id(message_id)

    return await eventually(probe, until=lambda found: len(found) >= n)


async def test_immediate_email_has_both_parts_and_one_click_unsubscribe(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    await store.collection("preferences").insert_one(dict(ANA))
    await deliver(store, notification("n1", "ana"))

    [msg] = await arrived(sink, "<n-n1@canteen.local>")

    assert msg["To"] == "ana@example.org"
    assert msg["Subject"] == "You were mentioned"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = msg["List-Unsubscribe"].strip("<>")
    assert link.startswith("http://127.0.0.1:8080/api/v1/notifications/unsubscribe?token=")
    plain, html = bodies(msg)
    assert "bo mentioned you: hello" in plain and "bo mentioned you: hello" in html
    assert "http://127.0.0.1:8080/posts/p-n1" in plain
    # The worker marks it sent after the SMTP server took it: that may be a moment later.
    outbox = await eventually(
        lambda: store.collection(EMAIL_OUTBOX).find_one({"_id": "n:n1"}),
        until=lambda doc: doc is not None and doc["state"] != "sending",
    )
    assert outbox is not None and outbox["state"] == "sent" and outbox["attempts"] == 1
    assert await RoutingQueue(store, "email").pending() == 0


async def test_html_part_escapes_user_text(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    await store.collection("preferences").insert_one(dict(ANA))
    evil = notification("n2", "ana", summary="bo: <script>alert(1)</script>")
    await deliver(store, evil)

    [msg] = await arrived(sink, "<n-n2@canteen.local>")

    plain, html = bodies(msg)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in plain


async def test_private_content_never_in_the_mail(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    await store.collection("preferences").insert_one(dict(ANA))
    await deliver(store, notification("n3", "ana", private=True))

    [msg] = await arrived(sink, "<n-n3@canteen.local>")

    plain, html = bodies(msg)
    assert msg["Subject"] == "New mention in a private group"
    for text in (plain, html, msg["Subject"]):
        assert "Lyon" not in text and "Budget" not in text
    assert "New mention in a private group" in plain


async def test_refused_send_is_retried_not_lost(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    sink.refuse = 1
    await store.collection("preferences").insert_one(dict(ANA))
    await deliver(store, notification("n4", "ana"))

    await arrived(sink, "<n-n4@canteen.local>")
    assert sink.refused == 1

    # The server has the mail a moment before the sender records it as sent.
    outbox = await eventually(
        lambda: store.collection(EMAIL_OUTBOX).find_one({"_id": "n:n4"}),
        until=lambda doc: doc is not None and doc["state"] != "sending",
    )
    assert outbox is not None and outbox["state"] == "sent" and outbox["attempts"] == 2
    assert "451" in outbox["last_error"]


async def test_a_notification_is_emailed_once_even_when_routed_again(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    await store.collection("preferences").insert_one(dict(ANA))
    notifications = store.collection("notifications")
    await deliver(store, notification("n5", "ana"))
    await arrived(sink, "<n-n5@canteen.local>")

    # As if the job crashed after queuing the mail but before deleting its routing entry
    # (or a redelivered event queued it again): the entry is there once more.
    queue = RoutingQueue(store, "email")
    stored = await notifications.find_one({"_id": "n5"})
    assert stored is not None
    await queue.add([stored])

    await eventually(queue.pending, until=lambda left: left == 0)
    await deliver(store, notification("n5b", "ana"))
    await arrived(sink, "<n-n5b@canteen.local>")  # the worker moved on past n5
    assert len(sink.with_id("<n-n5@canteen.local>")) == 1


async def test_quiet_hours_hold_immediate_email_until_they_end(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    quiet = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    await store.collection("preferences").insert_one({**ANA, "quiet_hours": quiet})
    await deliver(store, notification("n6", "ana"))

    async def queued() -> dict | None:
        return await store.collection(EMAIL_OUTBOX).find_one({"_id": "n:n6"})

    mail = await eventually(queued)
    assert mail["state"] == "pending"
    assert mail["next_attempt_at"] > now + timedelta(hours=1, minutes=58)
    assert sink.with_id("<n-n6@canteen.local>") == []


async def test_a_mail_held_by_quiet_hours_is_withdrawn_if_its_notification_is_hidden(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    """Held until quiet hours end; meanwhile its post is deleted (or its group turned
    private): when it falls due it is withdrawn, never sent."""
    sink, _ = smtp
    now = datetime.now(UTC)
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    await store.collection("preferences").insert_one({**ANA, "quiet_hours": quiet})
    await deliver(store, notification("n11", "ana"))
    mails = store.collection(EMAIL_OUTBOX)
    held = await eventually(lambda: mails.find_one({"_id": "n:n11", "state": "pending"}))
    await store.collection("notifications").update_one({"_id": "n11"}, {"$set": {"hidden": True}})
    # Quiet hours end (the mail falls due).
    await mails.update_one({"_id": held["_id"]}, {"$set": {"next_attempt_at": now}})
    gone = await eventually(lambda: mails.find_one({"_id": "n:n11", "state": "withdrawn"}))
    assert gone["attempts"] == held["attempts"]
    assert sink.with_id("<n-n11@canteen.local>") == []


async def test_email_off_or_no_address_sends_nothing(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    prefs = store.collection("preferences")
    await prefs.insert_one({**ANA, "channels": {"mention": {"email": False}}, "digest": "off"})
    await prefs.insert_one({"_id": "cy", "time_zone": "UTC"})
    await deliver(store, notification("n7", "ana"))
    await deliver(store, notification("n8", "cy"))

    # Both were queued for email (as for someone who had it on, with an address, a moment
    # before); the worker decides again with the preferences of the moment.
    await eventually(RoutingQueue(store, "email").pending, until=lambda left: left == 0)
    assert await store.collection(EMAIL_OUTBOX).count({}) == 0
    assert sink.messages == []


async def test_a_notification_hidden_before_routing_is_not_emailed(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    """Its post was deleted between the notification and its routing (hidden): no mail."""
    sink, _ = smtp
    await store.collection("preferences").insert_one(dict(ANA))
    await deliver(store, notification("n9", "ana", hidden=True), notification("n10", "ana"))

    await arrived(sink, "<n-n10@canteen.local>")
    await eventually(RoutingQueue(store, "email").pending, until=lambda left: left == 0)
    assert await store.collection(EMAIL_OUTBOX).find_one({"_id": "n:n9"}) is None
    assert sink.with_id("<n-n9@canteen.local>") == []


async def test_mail_goes_to_the_directory_work_email_unless_the_person_chose_one(
    mail_client: httpx.AsyncClient,
    mail_settings: CanteenSettings,
    store: DocumentStore,
    smtp: tuple[Sink, int],
) -> None:
    """Profiles' person events give notify each person's work email (from SCIM): mail goes
    there without anyone setting an address; an address the person saves wins; the
    directory dropping the address leaves the saved one."""
    sink, _ = smtp
    person = uid("dee")
    prefs = store.collection("preferences")
    bus = make_bus(mail_settings, "test-publisher", topics=[PROFILES_TOPIC])
    await bus.start()
    try:
        who = {"id": person, "handle": person, "display_name": "Dee"}
        await publish(bus, PersonCreated(**who, email="dee@corp.example"))
        await eventually(
            lambda: prefs.find_one({"_id": person}),
            until=lambda doc: doc is not None and doc.get("directory_email") == "dee@corp.example",
        )
        await deliver(store, notification("dir1", person))
        [first] = await arrived(sink, "<n-dir1@canteen.local>")
        assert first["To"] == "dee@corp.example"

        headers = await login_with(mail_client)(person)
        shown = (await mail_client.get("/api/v1/notification-preferences", headers=headers)).json()
        assert shown["email_address"] is None and shown["directory_email"] == "dee@corp.example"
        saved = await mail_client.put(
            "/api/v1/notification-preferences",
            json={"email_address": "dee@home.example"},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["directory_email"] == "dee@corp.example"  # kept beside the choice
        await deliver(store, notification("dir2", person))
        [second] = await arrived(sink, "<n-dir2@canteen.local>")
        assert second["To"] == "dee@home.example"

        await publish(bus, PersonUpdated(**who, email=None))
        await eventually(
            lambda: prefs.find_one({"_id": person}),
            until=lambda doc: doc is not None and doc.get("directory_email") is None,
        )
        await deliver(store, notification("dir3", person))
        [third] = await arrived(sink, "<n-dir3@canteen.local>")
        assert third["To"] == "dee@home.example"
    finally:
        await bus.close()


async def test_an_address_that_arrives_just_after_a_mention_still_brings_its_mail(
    mail_client: httpx.AsyncClient,
    mail_settings: CanteenSettings,
    store: DocumentStore,
    smtp: tuple[Sink, int],
) -> None:
    """A joiner @mentioned seconds after being provisioned: the mention reached notify
    before the person event with their work email (two consumer groups, either order), so
    the notification was written `no_address`. The address arriving brings that mail; a
    notification older than the window stays unmailed (the inbox and digest have it)."""
    sink, _ = smtp
    person = uid("eve")
    fresh = notification("late1", person, channels={"email": "no_address", "push": "off"})
    stale = notification(
        "late2",
        person,
        channels={"email": "no_address", "push": "off"},
        created_at=datetime.now(UTC) - timedelta(minutes=30),
    )
    await deliver(store, fresh, stale)
    assert await RoutingQueue(store, "email").pending() == 0  # nothing to route: no address

    bus = make_bus(mail_settings, "test-publisher", topics=[PROFILES_TOPIC])
    await bus.start()
    try:
        who = {"id": person, "handle": person, "display_name": "Eve"}
        await publish(bus, PersonCreated(**who, email="eve@corp.example"))
        [msg] = await arrived(sink, "<n-late1@canteen.local>")
        assert msg["To"] == "eve@corp.example"

        # A later change of address routes nothing again: no second mail.
        await publish(bus, PersonUpdated(**who, email="eve@new.example"))
        await eventually(
            lambda: store.collection("preferences").find_one({"_id": person}),
            until=lambda doc: doc is not None and doc.get("directory_email") == "eve@new.example",
        )
        await eventually(RoutingQueue(store, "email").pending, until=lambda left: left == 0)
    finally:
        await bus.close()
    notifications = store.collection("notifications")
    assert (await notifications.find_one({"_id": "late1"}))["channels"]["email"] == "now"
    assert (await notifications.find_one({"_id": "late2"}))["channels"]["email"] == "no_address"
    assert await store.collection(EMAIL_OUTBOX).find_one({"_id": "n:late2"}) is None
    assert len(sink.with_id("<n-late1@canteen.local>")) == 1


async def test_an_address_the_directory_adds_later_brings_the_recent_mail(
    mail_client: httpx.AsyncClient,
    mail_settings: CanteenSettings,
    store: DocumentStore,
    smtp: tuple[Sink, int],
) -> None:
    """Provisioned without an email, mentioned, then the identity provider adds one (a
    `person.updated`): the mention's mail goes out, as for a joiner."""
    sink, _ = smtp
    person = uid("fay")
    bus = make_bus(mail_settings, "test-publisher", topics=[PROFILES_TOPIC])
    await bus.start()
    try:
        who = {"id": person, "handle": person, "display_name": "Fay"}
        await deliver(
            store, notification("late3", person, channels={"email": "no_address", "push": "off"})
        )
        # One person's events are in order (their key): created without, then with one.
        await publish(bus, PersonCreated(**who, email=None))
        await publish(bus, PersonUpdated(**who, email="fay@corp.example"))
        [msg] = await arrived(sink, "<n-late3@canteen.local>")
        assert msg["To"] == "fay@corp.example"
    finally:
        await bus.close()


async def test_announcement_mail_has_no_unsubscribe_link_and_the_endpoint_refuses_one(
    mail_client: httpx.AsyncClient, store: DocumentStore, smtp: tuple[Sink, int]
) -> None:
    """A pinned announcement is critical: preferences cannot turn its mail off, so it
    carries no one-click unsubscribe (which would pretend to) and says why. A mention's
    mail keeps its link, and that link turns mentions' email off."""
    sink, _ = smtp
    prefs = store.collection("preferences")
    await prefs.insert_one(dict(ANA))
    pinned = notification(
        "ann1", "ana", type_="announcement", critical=True, title="Pinned: read me"
    )
    await deliver(store, pinned, notification("men1", "ana"))

    [announced] = await arrived(sink, "<n-ann1@canteen.local>")
    assert announced["List-Unsubscribe"] is None
    assert announced["List-Unsubscribe-Post"] is None
    plain, html = bodies(announced)
    assert "unsubscribe" not in (plain + html).lower()
    assert "cannot be turned off" in plain and "cannot be turned off" in html

    [mentioned] = await arrived(sink, "<n-men1@canteen.local>")
    assert mentioned["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = urlsplit(mentioned["List-Unsubscribe"].strip("<>"))
    done = await mail_client.post(
        f"{link.path}?{link.query}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    saved = await prefs.find_one({"_id": "ana"})
    assert saved is not None and saved["channels"]["mention"]["email"] is False

    # A link for announcements (as an older mail may carry) changes nothing, and says so.
    query = urlencode({"token": tokens.sign(CURSOR_SECRET, "ana", "announcement")})
    for method in ("GET", "POST"):
        refused = await mail_client.request(method, f"{link.path}?{query}")
        assert refused.status_code == 409, (method, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "urn:canteen:problem:critical-notification"
        assert "cannot be turned off" in refused.json()["detail"]
    assert await prefs.find_one({"_id": "ana"}) == saved
