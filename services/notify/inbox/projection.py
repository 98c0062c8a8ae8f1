"""Local projections the inbox decides with, so it never calls another service back.

`audiences`: group memberships (`m:<group>:<user>`), deleted groups (`g:<group>`), groups
that turned private (`v:<group>`, its visibility at a revision), deleted posts
(`p:<post>`), deleted answers and comments (`i:<item>`), and experts per topic
(`e:<topic>:<person>`), from activity and profiles events. Writes are plain sets keyed by
id: replaying an event gives the same state, and per-key bus order (memberships are keyed by
group) keeps the latest state last.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore
from shared.store.reads import find_by_ids

AUDIENCES = "audiences"
TOP_EXPERTS = 3


def post_key(post_id: str) -> str:
    """The id of a deleted post's tombstone."""
    return f"p:{post_id}"


def item_key(item_id: str) -> str:
    """The id of a deleted answer's or comment's tombstone (what `item_id` points at)."""
    return f"i:{item_id}"


def group_key_of(group_id: str) -> str:
    """The id of a deleted group's tombstone."""
    return f"g:{group_id}"


def visibility_key(group_id: str) -> str:
    """The id of a group's visibility record (it "holds" while the group is private)."""
    return f"v:{group_id}"


def member_key(group_id: str, user_id: str) -> str:
    return f"m:{group_id}:{user_id}"


class Audiences:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(AUDIENCES)

    async def prepare(self) -> None:
        await self._docs.create_index([("kind", 1), ("group_id", 1), ("state", 1)])
        await self._docs.create_index([("kind", 1), ("topic", 1), ("score_ref", -1)])

    async def set_membership(
        self, group_id: str, user_id: str, state: str, role: str | None
    ) -> None:
        await self._docs.update_one(
            {"_id": member_key(group_id, user_id)},
            {
                "$set": {
                    "kind": "m",
                    "group_id": group_id,
                    "user_id": user_id,
                    "state": state,
                    "role": role,
                }
            },
            upsert=True,
        )

    async def set_owner(self, group_id: str, owner_id: str) -> None:
        await self.set_membership(group_id, owner_id, "active", "owner")

    async def delete_group(self, group_id: str) -> None:
        await self._docs.update_one(
            {"_id": group_key_of(group_id)}, {"$set": {"kind": "g", "deleted": True}}, upsert=True
        )

    async def set_visibility(self, group_id: str, visibility: str, revision: int) -> str:
        """Record a group's visibility at `revision`; the newest one recorded (a redelivered
        older event changes nothing: a group's events share its key, so arrive in order)."""
        key = visibility_key(group_id)
        fields = {"kind": "v", "state": visibility, "revision": revision}
        newer = {"_id": key, "revision": {"$lt": revision}}
        if not (await self._docs.update_one(newer, {"$set": fields})).matched_count:
            with suppress(DuplicateKeyError):
                await self._docs.insert_one({"_id": key, **fields})
        doc = await self._docs.find_one({"_id": key})
        return str(doc["state"]) if doc else visibility

    async def delete_post(self, post_id: str) -> None:
        await self._docs.update_one(
            {"_id": post_key(post_id)}, {"$set": {"kind": "p", "deleted": True}}, upsert=True
        )

    async def delete_item(self, item_id: str) -> None:
        await self._docs.update_one(
            {"_id": item_key(item_id)}, {"$set": {"kind": "i", "deleted": True}}, upsert=True
        )

    async def lookup(self, ids: set[str]) -> set[str]:
        """Which of these ids hold: a post or group tombstone exists, a membership is active.
        `$in` queries by `_id` (one per `IN_CHUNK` ids), whatever mix of ids is asked."""
        if not ids:
            return set()
        docs = await find_by_ids(self._docs, ids, projection=["state"])
        return {i for i, d in docs.items() if _holds(i, d)}

    async def deleted(self, post_ids: set[str], item_ids: set[str]) -> tuple[set[str], set[str]]:
        """Which of these posts, and which of these items, have a tombstone (one read)."""
        found = await self.lookup({post_key(p) for p in post_ids} | {item_key(i) for i in item_ids})
        return (
            {p for p in post_ids if post_key(p) in found},
            {i for i in item_ids if item_key(i) in found},
        )

    async def members(self, group_id: str) -> list[str]:
        if await self._docs.find_one({"_id": group_key_of(group_id)}) is not None:
            return []
        docs = await self._docs.find(
            {"kind": "m", "group_id": group_id, "state": "active"}, projection=["user_id"]
        )
        return sorted(d["user_id"] for d in docs)

    async def set_expertise(
        self, person_id: str, topic: str, score_ref: float, hidden: bool
    ) -> None:
        await self._docs.update_one(
            {"_id": f"e:{topic}:{person_id}"},
            {
                "$set": {
                    "kind": "e",
                    "topic": topic,
                    "person_id": person_id,
                    "score_ref": 0.0 if hidden else score_ref,
                    "hidden": hidden,
                }
            },
            upsert=True,
        )

    async def top_experts(self, topics: list[str], limit: int = TOP_EXPERTS) -> list[str]:
        """The top `limit` visible experts of each topic (in topic order, without repeats)."""
        out: dict[str, None] = {}
        for topic in topics:
            docs: list[dict[str, Any]] = await self._docs.find(
                {"kind": "e", "topic": topic, "hidden": False},
                sort=[("score_ref", -1), ("_id", 1)],
                limit=limit,
                projection=["person_id"],
            )
            out.update((d["person_id"], None) for d in docs)
        return list(out)


def _holds(key: str, doc: dict[str, Any]) -> bool:
    """A tombstone holds by existing; a membership while active; a visibility while private."""
    if key.startswith("m:"):
        return doc.get("state") == "active"
    if key.startswith("v:"):
        return doc.get("state") == "private"
    return True
