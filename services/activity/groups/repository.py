"""Groups and memberships through the DocumentStore port (shapes: services/activity/access.py).

Membership writes are compare-and-swap on the membership's `revision`, so the state an
event says it left (`previous_state`) is exactly the state it replaced.
"""

from __future__ import annotations

from typing import Any

from services.activity.access import GROUPS, MEMBERSHIPS, Access
from shared.events.envelope import Event
from shared.outbox import insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

LIST_SORT = [("created_at", -1), ("_id", -1)]
MEMBER_SORT = [("joined_at", -1), ("_id", -1)]
REQUEST_SORT = [("updated_at", -1), ("_id", -1)]
APPLIED_CAP = 200


class SlugTaken(Exception):
    pass


class GroupRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._access = Access(store)
        self._groups = store.collection(GROUPS)
        self._memberships = store.collection(MEMBERSHIPS)

    async def prepare(self) -> None:
        await self._groups.create_index([("slug", 1)], unique=True)
        await self._groups.create_index([("deleted", 1), ("created_at", -1), ("_id", -1)])
        await self._memberships.create_index(
            [("group_id", 1), ("state", 1), ("joined_at", -1), ("_id", -1)]
        )

    # -- groups ---------------------------------------------------------------------

    async def add_group(self, group: dict[str, Any], event: Event) -> None:
        try:
            await self._groups.insert_one(insert_with_events(group, [event]))
        except DuplicateKeyError as exc:
            raise SlugTaken(group["slug"]) from exc

    async def group(self, group_id: str) -> dict[str, Any] | None:
        doc = await self._groups.find_one({"_id": group_id, "deleted": False})
        return _clean(doc)

    async def group_by_slug(self, slug: str) -> dict[str, Any] | None:
        return _clean(await self._groups.find_one({"slug": slug, "deleted": False}))

    async def update_group(
        self, group: dict[str, Any], fields: dict[str, Any], event: Event
    ) -> bool:
        """Compare-and-swap on `revision`; False when someone else changed the group first."""
        result = await self._groups.update_one(
            {"_id": group["_id"], "revision": group["revision"], "deleted": False},
            update_with_events({"$set": fields}, [event]),
        )
        return result.matched_count == 1

    async def list_groups(
        self, filter: dict[str, Any], *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        docs = await self._groups.find(
            {**filter, "deleted": False}, sort=LIST_SORT, limit=limit, after=after
        )
        return [d for d in (_clean(doc) for doc in docs) if d]

    async def apply_member_delta(self, group_id: str, delta: int, event_id: str) -> bool:
        """One atomic update, skipped when this event id was already applied."""
        result = await self._groups.update_one(
            {"_id": group_id, "_applied": {"$ne": event_id}},
            {
                "$inc": {"member_count": delta},
                "$push": {"_applied": {"$each": [event_id], "$slice": -APPLIED_CAP}},
            },
        )
        return result.matched_count == 1

    async def settle_visibility(self, group_id: str) -> None:
        """Every item of the group carries the group's current visibility (idempotent)."""
        await self._access.settle_visibility(group_id)

    # -- memberships ----------------------------------------------------------------

    async def membership(self, group_id: str, user_id: str) -> dict[str, Any] | None:
        return _clean(await self._memberships.find_one({"_id": f"{group_id}:{user_id}"}))

    async def add_membership(self, doc: dict[str, Any], events: list[Event]) -> bool:
        """Insert a new membership; False when one appeared meanwhile."""
        try:
            await self._memberships.insert_one(insert_with_events(doc, events))
            return True
        except DuplicateKeyError:
            return False

    async def update_membership(
        self, membership: dict[str, Any], fields: dict[str, Any], event: Event
    ) -> bool:
        result = await self._memberships.update_one(
            {"_id": membership["_id"], "revision": membership["revision"]},
            update_with_events(
                {"$set": {**fields, "revision": membership["revision"] + 1}}, [event]
            ),
        )
        return result.matched_count == 1

    async def managers(self, group_id: str) -> list[str]:
        docs = await self._memberships.find(
            {"group_id": group_id, "state": "active", "role": {"$in": ["owner", "admin"]}},
            sort=[("_id", 1)],
            projection=["user_id"],
            limit=100,
        )
        return [d["user_id"] for d in docs]

    async def owners(self, group_id: str) -> int:
        return await self._memberships.count(
            {"group_id": group_id, "state": "active", "role": "owner"}
        )

    async def members(
        self, group_id: str, state: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        sort = MEMBER_SORT if state == "active" else REQUEST_SORT
        docs = await self._memberships.find(
            {"group_id": group_id, "state": state}, sort=sort, limit=limit, after=after
        )
        return [d for d in (_clean(doc) for doc in docs) if d]

    async def my_group_ids(self, user_id: str) -> list[str]:
        docs = await self._memberships.find(
            {"user_id": user_id, "state": "active"}, projection=["group_id"]
        )
        return [d["group_id"] for d in docs]

    async def ensure_owner(self, doc: dict[str, Any]) -> None:
        """The creator's membership, unless it exists already (repairs a crash at creation)."""
        await self.add_membership(doc, [])


def _clean(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: v for k, v in strip_outbox(doc).items() if k != "_applied"}
