"""People use cases: what the HTTP routes and SCIM provisioning ask for, in domain terms.

Every write to `people` goes through here, whoever asks (a person, an admin, an identity
provider over SCIM), so the same rules hold and the same events are published.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import structlog

from services.profiles.expertise.topics import InvalidSkill, slug
from services.profiles.people.domain import (
    ORG_FIELDS,
    PersonRuleViolation,
    check_changes,
    edit_person,
    handle_candidates,
    new_person,
    republished,
)
from services.profiles.people.repository import HandleTaken, PeopleRepository, PersonExists
from shared.http.auth.principal import Principal
from shared.store.port import Filter

log = structlog.get_logger()

MAX_CHAIN_DEPTH = 20
MAX_EDIT_ATTEMPTS = 3

__all__ = [
    "EditConflict",
    "HandleTaken",
    "InvalidSkill",
    "NotAllowed",
    "PeopleService",
    "PersonExists",
    "PersonNotFound",
    "PersonRuleViolation",
]


class PersonNotFound(LookupError):
    """No person with this id or handle."""


class NotAllowed(PermissionError):
    """The caller may not do this to this profile."""


class EditConflict(RuntimeError):
    """The profile kept changing under the edit; the client should read it and retry."""


class Republished(NamedTuple):
    sent: int  # people whose profile was published again
    seen: int  # people read (those edited meanwhile were skipped)
    after: str | None  # where the next batch starts; None when every one was read


class PeopleService:
    def __init__(
        self, repo: PeopleRepository, *, on_events: Callable[[], None], auto_provision: bool
    ) -> None:
        self._repo = repo
        self._on_events = on_events
        self._auto_provision = auto_provision

    async def get(self, person_id: str) -> dict[str, Any]:
        """Any person, deactivated ones included (old posts still show their author)."""
        doc = await self._repo.get(person_id)
        if doc is None:
            raise PersonNotFound(person_id)
        return doc

    async def by_handle(self, handle: str) -> dict[str, Any]:
        doc = await self._repo.by_handle(handle.strip().lower())
        if doc is None:
            raise PersonNotFound(handle)
        return doc

    async def find_one(self, filter: Filter) -> dict[str, Any] | None:
        return await self._repo.find_one(filter)

    async def find(self, filter: Filter, *, skip: int, limit: int) -> list[dict[str, Any]]:
        """People matching `filter` in id order (SCIM's index-based pages)."""
        return await self._repo.find(filter, skip=skip, limit=limit)

    async def count(self, filter: Filter) -> int:
        return await self._repo.count(filter)

    async def me(self, principal: Principal) -> dict[str, Any]:
        """The caller's profile; in dev mode a first call creates it from the token."""
        doc = await self._repo.get(principal.user_id)
        if doc is not None:
            return doc
        if not self._auto_provision:
            raise PersonNotFound(principal.user_id)
        name = (principal.name or principal.user_id).strip() or principal.user_id
        try:
            return await self.create(
                principal,
                principal.user_id,
                {"display_name": name[:200]},
                handle_seed=principal.name or principal.user_id,
                as_system=True,
            )
        except PersonExists:
            return await self.get(principal.user_id)

    async def create(
        self,
        actor: Principal,
        person_id: str,
        fields: dict[str, Any],
        *,
        handle_seed: str | None = None,
        as_system: bool = False,
    ) -> dict[str, Any]:
        """A new person (admins; `handle_seed` derives a free handle when none is given)."""
        if not (actor.is_admin or as_system):
            raise NotAllowed("only admins create people")
        checked = check_changes(fields)
        await self._check_manager(person_id, checked.get("manager_id"))
        seeds = (
            [checked["handle"]]
            if "handle" in checked
            else handle_candidates(handle_seed or person_id)
        )
        for handle in seeds:
            doc, events = new_person(person_id, {**checked, "handle": handle}, now=_now())
            try:
                await self._repo.add(doc, events)
            except HandleTaken:
                if "handle" in checked:
                    raise
                continue
            self._on_events()
            log.info("profiles.person.created", person_id=person_id, by=actor.user_id)
            return doc
        raise HandleTaken(handle_seed or person_id)

    async def edit(
        self,
        actor: Principal,
        person_id: str,
        changes: dict[str, Any],
        *,
        expected_revision: int | None = None,
    ) -> dict[str, Any]:
        """Edit a profile: its owner (their own fields), or an admin (any field).

        `expected_revision`: the changes were computed from that revision (a SCIM PATCH):
        EditConflict if the profile moved on, rather than applying them to a newer one.
        """
        if not actor.is_admin:
            if actor.user_id != person_id:
                raise NotAllowed("you may edit only your own profile")
            if org := ORG_FIELDS.intersection(changes):
                raise NotAllowed(f"only admins change {', '.join(sorted(org))}")
            if "active" in changes or "scim" in changes:
                raise NotAllowed("only admins deactivate or reactivate people")
        checked = check_changes(changes)
        for _ in range(MAX_EDIT_ATTEMPTS):
            person = await self.get(person_id)
            if expected_revision is not None and person["revision"] != expected_revision:
                raise EditConflict(person_id)
            await self._check_manager(person_id, checked.get("manager_id"))
            fields, events = edit_person(person, checked, now=_now())
            if not fields:
                return person
            doc = await self._repo.update(person, fields, events)
            if doc is not None:
                self._on_events()
                log.info(
                    "profiles.person.updated",
                    person_id=person_id,
                    by=actor.user_id,
                    fields=sorted(k for k in fields if k not in ("updated_at", "revision")),
                )
                return doc
        raise EditConflict(person_id)

    async def set_active(self, actor: Principal, person_id: str, *, active: bool) -> dict[str, Any]:
        """Deactivate or reactivate someone (admins)."""
        if not actor.is_admin:
            raise NotAllowed("only admins deactivate or reactivate people")
        doc = await self.edit(actor, person_id, {"active": active})
        log.info("profiles.person.activation_set", person_id=person_id, active=active)
        return doc

    async def republish(self, *, after: str | None, limit: int) -> Republished:
        """Publish the current profile of the next `limit` active people (by id, after
        `after`) again.

        For an operator (`canteen admin people republish`): after an upgrade that adds a
        field to the person events (the work email that notify mails to), every service's
        copy gets it now rather than at each person's next edit. A person edited meanwhile
        is skipped: that edit published a newer snapshot already. Deactivated people are
        left out: nothing should show them again."""
        filter: Filter = {"active": True}
        if after is not None:
            filter["_id"] = {"$gt": after}
        people = await self._repo.find(filter, limit=limit)
        sent = 0
        for person in people:
            sent += await self._repo.append_events(person, republished(person))
        if sent:
            self._on_events()
        log.info("profiles.person.republished", count=sent, skipped=len(people) - sent)
        more = people[-1]["_id"] if len(people) == limit else None
        return Republished(sent=sent, seen=len(people), after=more)

    async def directory(
        self,
        principal: Principal,
        *,
        department: str | None = None,
        location: str | None = None,
        manager: str | None = None,
        skill: str | None = None,
        include_inactive: bool = False,
        limit: int,
        after: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """People in handle order; active ones only unless an admin asks for all."""
        if include_inactive and not principal.is_admin:
            raise NotAllowed("only admins list deactivated people")
        clauses: list[Filter] = [] if include_inactive else [{"active": True}]
        for field, value in (
            ("department", department),
            ("location", location),
            ("manager_id", manager),
        ):
            if value is not None:
                clauses.append({field: value})
        filter: Filter = {"$and": clauses} if clauses else {}
        if skill is None:
            return await self._repo.page(filter, limit=limit, after=after)
        # Normalized as a declaration is (InvalidSkill: 422), so "Kübernetes" is "kubernetes".
        ids = await self._repo.with_skill(await self._repo.skill_names(slug(skill)))
        return await self._repo.page_among(filter, ids, limit=limit, after=after)

    async def reports(
        self, person_id: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """The active direct reports of a person."""
        await self.get(person_id)
        return await self._repo.page(
            {"manager_id": person_id, "active": True}, limit=limit, after=after
        )

    async def manager_chain(self, person_id: str) -> list[dict[str, Any]]:
        """Managers above a person, nearest first, up to the top (cycle-safe, bounded)."""
        current = await self.get(person_id)
        chain: list[dict[str, Any]] = []
        seen = {person_id}
        while len(chain) < MAX_CHAIN_DEPTH:
            manager_id = current.get("manager_id")
            if manager_id is None or manager_id in seen:
                break
            manager = await self._repo.get(manager_id)
            if manager is None:
                break
            seen.add(manager_id)
            chain.append(manager)
            current = manager
        return chain

    async def _check_manager(self, person_id: str, manager_id: str | None) -> None:
        if manager_id is None:
            return
        if manager_id == person_id:
            raise PersonRuleViolation("a person cannot be their own manager")
        if await self._repo.get(manager_id) is None:
            raise PersonRuleViolation(f"manager {manager_id} is not a known person")


def _now() -> datetime:
    """Now, to the millisecond: what every store keeps, so a response equals a re-read."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
