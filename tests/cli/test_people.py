"""`canteen admin people republish`: every active person's current profile published again."""

from __future__ import annotations

import asyncio
from typing import Any

from services.profiles.context import ProfilesContext, ProfilesOptions
from services.profiles.people import people_service
from services.profiles.people.domain import republished
from services.profiles.people.repository import PeopleRepository
from shared.backends import make_store
from shared.events.envelope import Event
from shared.http import Principal
from shared.outbox.records import OUTBOX_FIELD
from shared.settings import CanteenSettings
from tests.cli.conftest import Invoke

ADMIN = Principal(user_id="root", roles=frozenset({"admin"}))


async def _in_profiles(settings: CanteenSettings, work: Any) -> Any:
    store = make_store(settings, "profiles")
    try:
        return await work(store, people_service(ProfilesContext(store, ProfilesOptions())))
    finally:
        await store.close()


async def _seed(store: Any, people: Any) -> None:
    for pid, email in (("ana", "ana@corp.example"), ("bo", None), ("cy", "cy@corp.example")):
        fields: dict[str, Any] = {"handle": pid, "display_name": pid.title()}
        if email:
            fields["scim"] = {"emails": [{"value": email, "primary": True}]}
        await people.create(ADMIN, pid, fields)
    await people.set_active(ADMIN, "cy", active=False)


async def _events(store: Any, people: Any) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    docs = await store.collection("people").find({})
    out = {}
    for doc in docs:
        events = [Event.from_record(r) for r in doc.get(OUTBOX_FIELD, [])]
        out[doc["_id"]] = [(e.type, e.data) for e in events]
    return out


def test_active_people_are_published_again_with_their_current_profile(
    settings: CanteenSettings, invoke: Invoke
) -> None:
    asyncio.run(_in_profiles(settings, _seed))
    before = asyncio.run(_in_profiles(settings, _events))

    result = invoke("admin", "people", "republish", "--batch", "1")

    assert result.exit_code == 0, result.output
    assert "2 people republished" in result.stderr + result.stdout
    after = asyncio.run(_in_profiles(settings, _events))
    for pid, email in (("ana", "ana@corp.example"), ("bo", None)):
        [(kind, data)] = after[pid][len(before[pid]) :]
        assert kind == "canteen.profiles.person.updated.v1"
        assert data["id"] == pid and data["email"] == email and data["active"] is True
    assert after["cy"] == before["cy"]  # deactivated: left out


def test_a_person_edited_meanwhile_is_skipped(
    settings: CanteenSettings, cli_env: dict[str, str]
) -> None:
    """The edit published a newer snapshot already; the stale one is not published."""

    async def work(store: Any, people: Any) -> None:
        await _seed(store, people)
        repo = PeopleRepository(store)
        stale = await repo.get("ana")
        await people.edit(ADMIN, "ana", {"title": "Engineer"})
        assert await repo.append_events(stale, republished(stale)) is False
        round_ = await people.republish(after=None, limit=10)
        assert (round_.sent, round_.seen, round_.after) == (2, 2, None)
        round_ = await people.republish(after="ana", limit=1)  # a full batch: maybe more
        assert (round_.sent, round_.seen, round_.after) == (1, 1, "bo")

    asyncio.run(_in_profiles(settings, work))
