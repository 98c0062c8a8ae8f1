"""Races between profiles' handlers and HTTP requests, driven step by step.

Events with different partition keys are handled concurrently, and HTTP requests run
beside the handlers. Each test stops one actor between its read and its write, runs the
other one whole, lets the first finish, and checks that nothing the second did was undone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.profiles.context import ProfilesContext, ProfilesOptions
from services.profiles.expertise import install, repository_for, scorer_for
from services.profiles.expertise.batch import BatchScorer
from services.profiles.expertise.handlers import build_dispatcher
from services.profiles.expertise.local import LocalCopies
from services.profiles.expertise.repository import ExpertiseRepository
from services.profiles.expertise.scorer import Scorer
from services.profiles.expertise.service import ExpertiseService
from services.profiles.people.repository import PeopleRepository
from services.profiles.people.service import PeopleService
from services.profiles.scim.errors import ScimError
from services.profiles.scim.mapping import to_scim
from services.profiles.scim.service import ScimUsers
from services.profiles.skills.names import GRACE, SKILL_NAMES, SkillNames
from services.profiles.skills.repository import SkillRepository
from services.profiles.skills.service import SkillConflict, SkillService
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import EventData, new_event
from shared.events.schemas.activity.posts import PostDeleted
from shared.http.auth.principal import ADMIN_ROLE, Principal
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.profiles.test_expertise_support import (
    NOW,
    Clock,
    accepted,
    add_people,
    answer,
    me,
    post,
    profiles_store,
    question,
)

USERS_URL = "https://canteen.example/scim/v2/Users"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADMIN = Principal(user_id="idp", roles=frozenset({ADMIN_ROLE}))


class Pause:
    """Stands in for an async method: its first call runs the method, then waits, after
    the read, until released (the actor is stopped between its read and its write)."""

    def __init__(self, method: Callable[..., Awaitable[Any]]) -> None:
        self._method = method
        self._calls = 0
        self.reached = asyncio.Event()
        self._go = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._method(*args, **kwargs)
        self._calls += 1
        if self._calls == 1:
            self.reached.set()
            await self._go.wait()
        return result

    async def around(self, stopped: Awaitable[Any], meanwhile: Callable[[], Awaitable[Any]]) -> Any:
        """Run `stopped` up to the pause, `meanwhile` whole, then the rest of `stopped`."""
        task = asyncio.ensure_future(stopped)
        reached = asyncio.ensure_future(self.reached.wait())
        await asyncio.wait({task, reached}, return_when=asyncio.FIRST_COMPLETED)
        reached.cancel()
        assert self.reached.is_set(), "the stopped actor never got to the pause"
        try:
            await meanwhile()
        finally:
            self._go.set()
        return await task


@dataclass
class Expertise:
    store: DocumentStore
    repo: ExpertiseRepository
    local: LocalCopies
    dispatcher: EventDispatcher
    service: ExpertiseService

    async def deliver(self, *payloads: EventData) -> None:
        for payload in payloads:
            await self.dispatcher(new_event(payload))

    async def deliver_batch(self, *payloads: EventData) -> None:
        await self.dispatcher.handle_batch([new_event(p) for p in payloads])

    async def load(self, person_id: str) -> set[str]:
        return (await self.local.load([person_id])).get(person_id, set())


@asynccontextmanager
async def expertise(settings: CanteenSettings) -> AsyncIterator[Expertise]:
    async with profiles_store(settings) as store:
        clock = Clock()
        ctx = ProfilesContext(store=store, options=ProfilesOptions())
        for step in install(ctx, clock=clock).setup:
            await step()
        repo = repository_for(ctx, clock)
        local = LocalCopies(store)
        yield Expertise(
            store=store,
            repo=repo,
            local=local,
            dispatcher=build_dispatcher(Scorer(repo), local, BatchScorer(repo)),
            service=ExpertiseService(repo, local, store, clock=clock),
        )


# 1. Open requests: a request must not outlive the answer or the close that raced it.


@pytest.mark.parametrize("path", ["per_event", "batch"])
async def test_a_mention_racing_the_answer_leaves_no_open_request(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    async with expertise(settings) as x:
        await add_people(x.store, {"_id": "ana"}, {"_id": "bob"})
        await x.deliver(question("q1", "bob", ["go"]))
        # The question is edited to mention ana (question key) while ana's answer is
        # handled (answer key): the request has read "ana has not answered" when the
        # answer is recorded and its end of ana's request is applied.
        pause = Pause(x.local.answered_by)
        monkeypatch.setattr(x.local, "answered_by", pause)
        answered = answer("a1", "q1", "bob", "ana", ["go"])
        deliver = x.deliver if path == "per_event" else x.deliver_batch
        await pause.around(
            x.deliver(question("q1", "bob", ["go"], mentions=["ana"])),
            lambda: deliver(answered),
        )
        assert "q1" not in await x.load("ana")


@pytest.mark.parametrize("closing", ["accepted", "deleted"])
async def test_who_to_ask_racing_the_close_leaves_no_open_request(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch, closing: str
) -> None:
    async with expertise(settings) as x:
        await add_people(x.store, {"_id": "ana"}, {"_id": "bob"}, {"_id": "cy"})
        await x.deliver(post("p1", "ana", "article", ["go"]), question("q1", "bob", ["go"]))
        closed: EventData = (
            accepted("a1", "q1", "bob", "cy", ["go"])
            if closing == "accepted"
            else PostDeleted(
                id="q1",
                kind="question",
                author_id="bob",
                deleted_by="bob",
                audience="org",
                deleted_at=NOW,
            )
        )
        if closing == "accepted":
            await x.deliver(answer("a1", "q1", "bob", "cy", ["go"]))
        pause = Pause(x.local.answered_by)
        monkeypatch.setattr(x.local, "answered_by", pause)
        # bob asks who to ask (HTTP): ana is shown, so asked; the question closes meanwhile.
        shown = await pause.around(
            x.service.for_question(me("bob"), "q1"), lambda: x.deliver(closed)
        )
        assert [p["person_id"] for p in shown] == ["ana"]
        assert "q1" not in await x.load("ana")


async def test_a_request_without_a_race_still_counts(settings: CanteenSettings) -> None:
    async with expertise(settings) as x:
        await add_people(x.store, {"_id": "ana"}, {"_id": "bob"})
        await x.deliver(question("q1", "bob", ["go"], mentions=["ana"]))
        assert await x.load("ana") == {"q1"}
        await x.deliver(answer("a1", "q1", "bob", "ana", ["go"]))
        assert await x.load("ana") == set()


# 2. Hidden topics: a topic hidden while its first score is being written stays hidden.


async def _assert_hidden_everywhere(x: Expertise, person_id: str, topic: str) -> None:
    doc = await x.store.collection("expertise").find_one({"_id": f"{person_id}:{topic}"})
    assert doc is not None and doc["hidden"] is True
    # What search and notify are told last (the relay has not taken it yet) says hidden.
    changed = [e for e in doc.get("_outbox", []) if e["subject"] == f"{person_id}:{topic}"]
    assert changed and changed[-1]["data"]["hidden"] is True


async def test_a_topic_hidden_while_its_first_score_is_written_stays_hidden(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with expertise(settings) as x:
        await add_people(x.store, {"_id": "ana"})
        pause = Pause(x.repo._hidden)
        monkeypatch.setattr(x.repo, "_hidden", pause)
        await pause.around(
            x.deliver(post("p1", "ana", "article", ["ml"])),
            lambda: x.service.set_hidden(me("ana"), "ml", True),
        )
        await _assert_hidden_everywhere(x, "ana", "ml")


async def test_a_topic_hidden_while_a_batch_writes_its_first_score_stays_hidden(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with expertise(settings) as x:
        await add_people(x.store, {"_id": "ana"}, {"_id": "bob"})
        pause = Pause(x.repo.hidden_topics)
        monkeypatch.setattr(x.repo, "hidden_topics", pause)
        await pause.around(
            x.deliver_batch(
                post("p1", "ana", "article", ["ml"]), post("p2", "bob", "note", ["ml"])
            ),
            lambda: x.service.set_hidden(me("ana"), "ml", True),
        )
        await _assert_hidden_everywhere(x, "ana", "ml")
        bob = await x.store.collection("expertise").find_one({"_id": "bob:ml"})
        assert bob is not None and bob["hidden"] is False


async def test_a_topic_shown_again_while_its_first_score_is_written_is_shown(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with expertise(settings) as x:
        await add_people(x.store, {"_id": "ana", "hidden_topics": ["ml"]})
        pause = Pause(x.repo._hidden)
        monkeypatch.setattr(x.repo, "_hidden", pause)
        await pause.around(
            x.deliver(post("p1", "ana", "article", ["ml"])),
            lambda: x.service.set_hidden(me("ana"), "ml", False),
        )
        doc = await x.store.collection("expertise").find_one({"_id": "ana:ml"})
        assert doc is not None and doc["hidden"] is False
        assert doc["_outbox"][-1]["data"]["hidden"] is False


# 3. SCIM PATCH: computed from one revision, it must not undo what landed since.


@dataclass
class Scim:
    people: PeopleService
    users: ScimUsers

    async def current(self, user_id: str) -> dict[str, Any]:
        """What the PATCH route reads before applying the operations."""
        return to_scim(await self.users.get(user_id), users_url=USERS_URL)

    async def patch(self, user_id: str, *ops: dict[str, Any]) -> Any:
        body = {"schemas": [PATCH_OP], "Operations": list(ops)}
        return await self.users.patch(
            ADMIN, user_id, body, lambda p: to_scim(p, users_url=USERS_URL)
        )


@asynccontextmanager
async def scim(settings: CanteenSettings) -> AsyncIterator[Scim]:
    async with profiles_store(settings) as store:
        repo = PeopleRepository(store)
        await repo.prepare()
        people = PeopleService(repo, on_events=lambda: None, auto_provision=False)
        yield Scim(people, ScimUsers(people))


async def _provision(s: Scim, user_id: str) -> None:
    await s.users.create(
        ADMIN,
        {
            "userName": f"{user_id}@example.org",
            "externalId": user_id,
            "displayName": "Ana",
            "name": {"givenName": "Ana"},
            "title": "Dev",
        },
    )


async def test_a_patch_keeps_a_profile_edit_made_since_it_read(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with scim(settings) as s:
        await _provision(s, "oid-patch-edit")
        pause = Pause(s.users.get)  # the PATCH stops after reading the user
        monkeypatch.setattr(s.users, "get", pause)
        patched = await pause.around(
            s.patch("oid-patch-edit", {"op": "replace", "path": "title", "value": "Lead"}),
            lambda: s.people.edit(
                me("oid-patch-edit"), "oid-patch-edit", {"display_name": "Ana Silva", "bio": "hi"}
            ),
        )
        person = await s.people.get("oid-patch-edit")
        assert (person["display_name"], person["bio"], person["title"]) == (
            "Ana Silva",
            "hi",
            "Lead",
        )
        assert patched["revision"] == person["revision"]


async def test_two_patches_of_one_attribute_both_land(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with scim(settings) as s:
        await _provision(s, "oid-patch-patch")
        pause = Pause(s.users.get)
        monkeypatch.setattr(s.users, "get", pause)
        await pause.around(
            s.patch(
                "oid-patch-patch",
                {"op": "replace", "path": "title", "value": "Lead"},
                {"op": "add", "path": "emails", "value": [{"value": "ana@example.org"}]},
            ),
            lambda: s.patch(
                "oid-patch-patch",
                {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Ops"},
                {"op": "add", "path": "emails", "value": [{"value": "ana.w@example.org"}]},
            ),
        )
        user = to_scim(await s.people.get("oid-patch-patch"), users_url=USERS_URL)
        assert user["title"] == "Lead" and user[ENTERPRISE]["department"] == "Ops"
        assert sorted(e["value"] for e in user["emails"]) == [
            "ana.w@example.org",
            "ana@example.org",
        ]


async def test_a_patch_does_not_bring_back_a_deprovisioned_user(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with scim(settings) as s:
        await _provision(s, "oid-patch-delete")
        pause = Pause(s.users.get)
        monkeypatch.setattr(s.users, "get", pause)
        with pytest.raises(ScimError) as raised:
            await pause.around(
                s.patch("oid-patch-delete", {"op": "replace", "path": "title", "value": "X"}),
                lambda: s.users.delete(ADMIN, "oid-patch-delete"),
            )
        assert raised.value.status == 404
        person = await s.people.get("oid-patch-delete")
        assert person["scim"] is None and person["active"] is False


# 4. The skills taxonomy: a name or alias belongs to one skill, however admins race.


@dataclass
class Taxonomy:
    store: DocumentStore
    repo: SkillRepository
    names: SkillNames
    skills: SkillService

    async def holders(self, name: str) -> list[str]:
        """The skills that have `name` as their id or an alias."""
        found = await self.repo.skills.find({"$or": [{"_id": name}, {"aliases": name}]})
        return sorted(d["_id"] for d in found)

    async def claims(self) -> dict[str, str]:
        return {d["_id"]: d["skill_id"] for d in await self.store.collection(SKILL_NAMES).find({})}


@asynccontextmanager
async def taxonomy(settings: CanteenSettings) -> AsyncIterator[Taxonomy]:
    async with profiles_store(settings) as store:
        ctx = ProfilesContext(store=store, options=ProfilesOptions())
        repo = SkillRepository(store)
        names = SkillNames(store, repo.skills)
        await repo.prepare()
        await names.prepare(datetime.now(UTC))
        yield Taxonomy(
            store, repo, names, SkillService(repo, names, scorer_for(ctx), on_events=lambda: None)
        )


async def test_two_creates_racing_for_an_alias_leave_it_to_one_skill(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with taxonomy(settings) as t:
        pause = Pause(t.repo.owner_of)  # the first create stops after its check
        monkeypatch.setattr(t.repo, "owner_of", pause)
        with pytest.raises(SkillConflict):
            await pause.around(
                t.skills.create("Kubernetes", ["k8s", "kube"], None),
                lambda: t.skills.create("K8s Engine", ["k8s"], None),
            )
        assert await t.holders("k8s") == ["k8s-engine"]
        assert await t.repo.skill("kubernetes") is None
        assert await t.claims() == {"k8s": "k8s-engine", "k8s-engine": "k8s-engine"}


async def test_an_alias_added_while_a_skill_of_that_name_is_created_is_refused(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with taxonomy(settings) as t:
        await t.skills.create("Go", [], None)
        pause = Pause(t.repo.alias_owner)  # the update stops after its check
        monkeypatch.setattr(t.repo, "alias_owner", pause)
        with pytest.raises(SkillConflict):
            await pause.around(
                t.skills.update("go", {"aliases": ["golang", "go-lang"]}),
                lambda: t.skills.create("Golang", [], None),
            )
        assert await t.holders("golang") == ["golang"]
        go = await t.repo.skill("go")
        assert go is not None and go["aliases"] == []
        assert await t.claims() == {"go": "go", "golang": "golang"}


async def test_names_come_back_when_an_alias_is_dropped_or_a_skill_deleted(
    settings: CanteenSettings,
) -> None:
    async with taxonomy(settings) as t:
        await t.skills.create("Python", ["py", "python3"], None)
        await t.skills.update("python", {"aliases": ["python3"]})
        await t.skills.create("PyTorch", ["py"], None)  # "py" was given back
        await t.skills.delete("python")
        await t.skills.create("Python 3", ["python3"], None)
        assert await t.claims() == {
            "py": "pytorch",
            "pytorch": "pytorch",
            "python-3": "python-3",
            "python3": "python-3",
        }


async def test_a_claim_that_no_skill_holds_is_taken_over_after_the_grace_only(
    settings: CanteenSettings,
) -> None:
    async with taxonomy(settings) as t:
        # What a create that crashed between its claims and its skill leaves behind.
        now = datetime.now(UTC)
        await t.store.collection(SKILL_NAMES).insert_many(
            [
                {"_id": "rust", "skill_id": "ghost", "at": now - GRACE - timedelta(seconds=1)},
                {"_id": "zig", "skill_id": "ghost", "at": now},  # maybe a create in flight
            ]
        )
        await t.skills.create("Rust", [], None)
        with pytest.raises(SkillConflict):
            await t.skills.create("Zig", [], None)
        assert await t.claims() == {"rust": "rust", "zig": "ghost"}
        assert await t.repo.skill("zig") is None


async def test_skills_written_before_claims_have_their_names_claimed_at_start(
    settings: CanteenSettings,
) -> None:
    async with taxonomy(settings) as t:
        now = datetime.now(UTC)
        old = {"name": "SQL", "aliases": ["structured-query-language"], "parent_id": None}
        await t.repo.skills.insert_one({"_id": "sql", **old, "created_at": now, "updated_at": now})
        await t.names.prepare(now)
        assert await t.names.claim("sequel", ["sql"], now) == "sql"
        assert await t.claims() == {"sql": "sql", "structured-query-language": "sql"}
