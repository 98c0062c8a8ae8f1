"""Who may see what. Every read path asks this module; nothing else decides visibility.

Rules: an `org` post is visible to everyone signed in; a post in a public group too; a post
in a private group only to the group's active members — not to org admins who are not
members (privacy over convenience; moderators act through membership). A non-member asking
for a private group's resources gets 404, so the group's existence does not leak.

A deleted group counts no one as a member: its items (which the groups feature flips to
`group_visibility: private` on deletion) are then invisible to everyone.

The memberships and groups collections belong to the groups feature; their shape is fixed
here because visibility depends on it:
- `groups`: {_id, slug, name, description, visibility: public|private,
  join_policy: open|request|invite, owner_id (the creator), member_count (active members,
  kept by the `activity.groups` consumer), created_at, updated_at, revision (bumped by
  every edit), deleted (bool), deleted_at, deleted_by, _applied (consumer bookkeeping)}
- `memberships`: {_id: "<group_id>:<user_id>", group_id, user_id,
  role: owner|admin|member (None unless active), state: active|requested|invited|none,
  joined_at (when it last became active), invited_by, created_at, updated_at, revision}.
  `none` is a former membership (left, removed, rejected, declined) kept as the document
  that carries its last event: select on `state: "active"`, never on existence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Literal

from services.activity.rules import ChangedMeanwhile
from shared.http.auth.principal import Principal
from shared.settle import settle
from shared.store.memo import StoreMemo
from shared.store.port import DocumentStore

GROUPS = "groups"
MEMBERSHIPS = "memberships"
# Collections whose documents copy their group's visibility (`group_id`, `group_visibility`).
GROUP_ITEMS = ("posts", "answers", "comments", "reactions", "timelines")
_SETTLE_ROUNDS = 10
_UNKNOWN: Any = object()
MODERATOR_ROLES = frozenset({"admin", "moderator"})
# How long a feed page may use a group's deletion flag and member count read for an earlier
# one (`member_group_sizes(recent=True)`); groups kept at most.
GROUP_STATE_SECONDS = 5.0
GROUP_STATE_KEPT = 4096

Role = Literal["owner", "admin", "member"]


def membership_id(group_id: str, user_id: str) -> str:
    return f"{group_id}:{user_id}"


class Access:
    def __init__(
        self, store: DocumentStore, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._groups = store.collection(GROUPS)
        self._memberships = store.collection(MEMBERSHIPS)
        # group id -> (deleted, member_count), for feed pages only (see member_group_sizes).
        self._group_state: StoreMemo[str, tuple[bool, int]] = StoreMemo(
            store.change_token, ttl=GROUP_STATE_SECONDS, maxsize=GROUP_STATE_KEPT, timer=clock
        )

    async def prepare(self) -> None:
        await self._memberships.create_index([("user_id", 1), ("state", 1)])
        await self._memberships.create_index([("group_id", 1), ("state", 1), ("role", 1)])

    async def member_groups(self, user_id: str, *, recent: bool = False) -> set[str]:
        """Groups where `user_id` is an active member (any role)."""
        return set(await self.member_group_sizes(user_id, recent=recent))

    async def member_group_sizes(self, user_id: str, *, recent: bool = False) -> dict[str, int]:
        """`member_groups` with each group's member count (the home feed needs both: one
        read of the groups instead of two).

        The memberships are always read. `recent` (feed pages) lets the groups' deletion
        flag and member count come from a read up to GROUP_STATE_SECONDS old, and on the
        embedded store never from before a write (`StoreMemo`): on MongoDB the members of
        a group deleted a moment ago may still see its items for those seconds, no one
        else ever does, since the items' visibility and the memberships are read fresh;
        and a group that just grew past the fan-out threshold is merged into home pages a
        few seconds late. Writers (a backfill) read the groups fresh.
        """
        docs = await self._memberships.find(
            {"user_id": user_id, "state": "active"}, projection=["group_id"]
        )
        ids = sorted({d["group_id"] for d in docs})
        if not ids:
            return {}
        token = self._group_state.current()
        states: dict[str, tuple[bool, int] | None] = (
            {g: self._group_state.get(g) for g in ids} if recent else {}
        )
        missing = [g for g in ids if states.get(g) is None]
        if missing:
            groups = await self._groups.find(
                {"_id": {"$in": missing}}, projection=["deleted", "member_count"]
            )
            for g in groups:
                read = (bool(g.get("deleted")), int(g.get("member_count") or 0))
                states[g["_id"]] = read
                self._group_state.put(g["_id"], read, token)
        return {g: s[1] for g in ids if (s := states.get(g)) is not None and not s[0]}

    async def active_members_among(self, group_id: str, user_ids: list[str]) -> list[str]:
        """Those of `user_ids` who are active members of the group now (order kept)."""
        if not user_ids:
            return []
        found = await self._memberships.find(
            {"_id": {"$in": [membership_id(group_id, u) for u in user_ids]}, "state": "active"},
            projection=["user_id"],
        )
        members = {d["user_id"] for d in found}
        return [u for u in user_ids if u in members]

    async def role_in(self, group_id: str, user_id: str) -> Role | None:
        doc = await self._memberships.find_one(
            {"_id": membership_id(group_id, user_id), "state": "active"}
        )
        if doc is None or await self.group(group_id) is None:
            return None
        role: Role = doc["role"]
        return role

    async def group(self, group_id: str) -> dict[str, Any] | None:
        return await self._groups.find_one({"_id": group_id, "deleted": {"$ne": True}})

    async def visibility_now(self, group_id: str) -> str | None:
        """What the group's items must carry now: its visibility, `private` once deleted."""
        doc = await self._groups.find_one({"_id": group_id})
        if doc is None:
            return None
        return "private" if doc.get("deleted") else str(doc.get("visibility", "public"))

    async def settle_visibility(self, group_id: str, *, copied: Any = _UNKNOWN) -> None:
        """Make every item of the group carry the group's visibility as it is now.

        Items copy the visibility when they are written, and the group can change while
        one is being written, or change twice while an earlier propagation is still
        running: so propagate until a read of the group after propagating agrees
        (`shared.settle`). Callers: whoever changes a group's visibility, and whoever wrote
        an item (`copied`: the visibility it copied; nothing is written if it still holds).
        """

        async def propagate(visibility: str | None) -> None:
            if visibility is None:
                return  # no such group
            for name in GROUP_ITEMS:
                await self._store.collection(name).update_many(
                    {"group_id": group_id, "group_visibility": {"$ne": visibility}},
                    {"$set": {"group_visibility": visibility}},
                )

        def moving() -> Exception:
            return ChangedMeanwhile(f"group {group_id} kept changing its visibility; retry")

        now = partial(self.visibility_now, group_id)
        if copied is _UNKNOWN:
            await settle(now, propagate, error=moving, rounds=_SETTLE_ROUNDS)
        else:
            await settle(now, propagate, written=copied, error=moving, rounds=_SETTLE_ROUNDS)

    async def hold_copied_visibility(self, item: dict[str, Any]) -> None:
        """After writing `item`: if its group's visibility changed since it was copied,
        settle the group. The change writes the group first and then propagates; a writer
        writes the item first and then reads the group; so one of the two sees the other.
        """
        if item.get("group_id") is not None:
            await self.settle_visibility(item["group_id"], copied=item.get("group_visibility"))

    async def can_see_group(self, principal: Principal, group: dict[str, Any]) -> bool:
        if group.get("visibility") == "public":
            return True
        return await self.role_in(group["_id"], principal.user_id) is not None

    @staticmethod
    def sees_group(group: dict[str, Any], member_groups: Iterable[str]) -> bool:
        """`can_see_group` for a reader whose `member_groups` were just read (a feed reads
        them anyway for its readable filter): public, or a live group they are active in."""
        return group.get("visibility") == "public" or group["_id"] in set(member_groups)

    async def can_read(self, principal: Principal, item: dict[str, Any]) -> bool:
        """May `principal` read an item carrying `audience`, `group_id`, `group_visibility`?"""
        if item.get("audience", "org") == "org":
            return True
        if item.get("group_visibility") == "public":
            return True
        return await self.role_in(item["group_id"], principal.user_id) is not None

    async def readable_filter(
        self, principal: Principal, *, recent: bool = False
    ) -> dict[str, Any]:
        """A store filter selecting only items `principal` may read (for lists and feeds;
        `recent`: see `member_group_sizes`)."""
        return readable_filter_of(await self.member_groups(principal.user_id, recent=recent))

    async def can_moderate(self, principal: Principal, item: dict[str, Any]) -> bool:
        """Author-independent edit/delete rights: org moderators, or the group's admins."""
        if principal.roles & MODERATOR_ROLES:
            return True
        if item.get("audience") == "group":
            return await self.role_in(item["group_id"], principal.user_id) in ("owner", "admin")
        return False


def readable_filter_of(member_groups: Iterable[str]) -> dict[str, Any]:
    """`Access.readable_filter` for a reader whose `member_groups` were just read (feeds
    read them once per page for both this filter and the home timeline's sources)."""
    groups = sorted(member_groups)
    clauses: list[dict[str, Any]] = [{"audience": "org"}, {"group_visibility": "public"}]
    if groups:
        clauses.append({"group_id": {"$in": groups}})
    return {"$or": clauses}


async def member_mentions(
    access: Access, placed: dict[str, Any], mentions: list[str]
) -> list[str] | None:
    """In a private group, who of the mentioned may be told (active members, now); None
    elsewhere. Events carry it so consumers need not wait for memberships that travel on
    other partitions."""
    group_id = placed.get("group_id")
    if group_id is None or placed.get("group_visibility") != "private":
        return None
    return await access.active_members_among(group_id, mentions)
