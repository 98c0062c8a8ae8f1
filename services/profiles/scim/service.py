"""SCIM Users use cases: provisioning through the people use cases, never around them.

A SCIM User is a person with a provisioning link (`scim`). Its id is the person id, which
must be the `sub` of the person's tokens: the IdP's externalId when it sends one
(configure the IdP so that externalId is the user's subject), else a new id. A POST for an
id that exists without a link adopts that person (an admin or dev sign-in made them
first). DELETE deactivates the person and drops the link: what they wrote keeps its
author, and the IdP may provision them again later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from services.profiles.people.service import (
    EditConflict,
    HandleTaken,
    PeopleService,
    PersonExists,
    PersonNotFound,
    PersonRuleViolation,
)
from services.profiles.scim.errors import ScimError
from services.profiles.scim.mapping import ScimUserIn, parse_user, person_fields
from services.profiles.scim.patch import apply_patch
from shared.http.auth.principal import Principal
from shared.ids import new_id
from shared.store.port import Filter

Render = Callable[[dict[str, Any]], dict[str, Any]]  # a person -> their SCIM representation
PATCH_ATTEMPTS = 10

log = structlog.get_logger()

PROVISIONED: Filter = {"scim.user_name_key": {"$ne": None}}


class ScimUsers:
    def __init__(self, people: PeopleService) -> None:
        self._people = people

    async def get(self, user_id: str) -> dict[str, Any]:
        doc = await self._people.find_one({"$and": [{"_id": user_id}, PROVISIONED]})
        if doc is None:
            raise ScimError(404, f"User {user_id} not found")
        return doc

    async def search(
        self, filter: Filter | None, *, start_index: int, count: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(totalResults, one page) of provisioned users, in id order; start_index from 1."""
        query = {"$and": [PROVISIONED, filter]} if filter else PROVISIONED
        total = await self._people.count(query)
        if count == 0:
            return total, []
        return total, await self._people.find(query, skip=start_index - 1, limit=count)

    async def create(self, caller: Principal, payload: Any) -> dict[str, Any]:
        user = parse_user(payload)
        await self._unique(user, None)
        person_id = user.externalId or new_id()
        existing = await self._people.find_one({"_id": person_id})
        fields = person_fields(user)
        with _people_errors():
            if existing is None:
                try:
                    doc = await self._people.create(
                        caller, person_id, fields, handle_seed=user.userName
                    )
                except PersonExists:
                    raise ScimError(409, f"User {person_id} exists", "uniqueness") from None
            elif existing.get("scim") is None:
                doc = await self._people.edit(caller, person_id, fields)
            else:
                raise ScimError(409, f"User {person_id} exists", "uniqueness")
        log.info("profiles.scim.user_provisioned", person_id=person_id, adopted=bool(existing))
        return doc

    async def replace(self, caller: Principal, user_id: str, payload: Any) -> dict[str, Any]:
        await self.get(user_id)
        return await self._store(caller, user_id, parse_user(payload))

    async def patch(
        self, caller: Principal, user_id: str, body: Any, render: Render
    ) -> dict[str, Any]:
        """Apply PatchOp `body` to the user as `render` shows it (their SCIM form).

        The operations are applied to a fresh read and the result is written only if the
        person is still at the revision read, else read, patched and tried again: a PATCH
        never undoes an edit (a profile edit, another PATCH) that landed in between, even
        on the same attribute (two `add`s to `emails` both land). A user deprovisioned
        meanwhile is 404, not brought back.
        """
        for _ in range(PATCH_ATTEMPTS):
            person = await self.get(user_id)
            current = {k: v for k, v in render(person).items() if k != "meta"}
            user = parse_user(apply_patch(current, body))
            await self._unique(user, user_id)
            with _people_errors():
                try:
                    return await self._people.edit(
                        caller, user_id, person_fields(user), expected_revision=person["revision"]
                    )
                except EditConflict:
                    pass  # changed since the read: read, patch and write again
        raise ScimError(409, f"User {user_id} kept changing; retry")

    async def delete(self, caller: Principal, user_id: str) -> None:
        await self.get(user_id)
        with _people_errors():
            await self._people.edit(caller, user_id, {"active": False, "scim": None})
        log.info("profiles.scim.user_deprovisioned", person_id=user_id)

    async def _store(self, caller: Principal, user_id: str, user: ScimUserIn) -> dict[str, Any]:
        await self._unique(user, user_id)
        # An unassigned `active` means the default: active (RFC 7643 leaves it to us).
        fields = person_fields(user)
        with _people_errors():
            return await self._people.edit(caller, user_id, fields)

    async def _unique(self, user: ScimUserIn, user_id: str | None) -> None:
        # Checked before writing: IdPs provision one user at a time, and a clash that
        # slips through still leaves a consistent person (handles stay unique).
        clash = await self._people.find_one({"scim.user_name_key": user.userName.lower()})
        if clash is not None and clash["_id"] != user_id:
            raise ScimError(409, f"userName {user.userName} is taken", "uniqueness")


@contextmanager
def _people_errors() -> Iterator[None]:
    """The people use cases' errors, as SCIM errors."""
    try:
        yield
    except PersonRuleViolation as exc:
        raise ScimError(400, str(exc), "invalidValue") from exc
    except HandleTaken as exc:
        raise ScimError(409, f"no free handle for {exc}", "uniqueness") from exc
    except PersonNotFound as exc:
        raise ScimError(404, f"User {exc} not found") from exc
    except EditConflict as exc:
        raise ScimError(409, f"User {exc} changed meanwhile; retry") from exc
