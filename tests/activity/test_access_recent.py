"""Feed pages may use a group's deletion flag and member count from a recent read.

`Access.member_group_sizes(recent=True)`: memberships are always read; the groups' state
may be up to GROUP_STATE_SECONDS old on MongoDB, and never older than the last write on
the embedded store. Only the members of a group deleted meanwhile can be affected.
"""

from __future__ import annotations

from services.activity.access import GROUP_STATE_SECONDS, Access
from shared.settings import CanteenSettings
from tests.activity.test_groups_support import activity_store
from tests.support import ManualClock


async def test_recent_group_state_is_kept_briefly_and_memberships_never(
    settings: CanteenSettings,
) -> None:
    clock = ManualClock(100.0)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with activity_store(settings) as store:
        access = Access(store, clock=clock)
        groups, memberships = store.collection("groups"), store.collection("memberships")
        await groups.insert_many(
            [
                {"_id": "g1", "deleted": False, "member_count": 3},
                {"_id": "g2", "deleted": False, "member_count": 9},
            ]
        )
        await memberships.insert_many(
            [
                {"_id": f"{g}:ana", "group_id": g, "user_id": "ana", "state": "active"}
                for g in ("g1", "g2")
            ]
        )
        assert await access.member_group_sizes("ana", recent=True) == {"g1": 3, "g2": 9}

        # Leaving shows at once, recent or not: memberships are read on every page.
        await memberships.update_one({"_id": "g2:ana"}, {"$set": {"state": "none"}})
        assert await access.member_group_sizes("ana", recent=True) == {"g1": 3}

        await groups.update_one({"_id": "g1"}, {"$set": {"deleted": True, "member_count": 4}})
        # A fresh read (writers, backfills) sees the deletion at once, on every store.
        assert await access.member_groups("ana") == set()
        await memberships.update_one({"_id": "g2:ana"}, {"$set": {"state": "active"}})
        # The fresh read also refreshed what feed pages use.
        assert await access.member_group_sizes("ana", recent=True) == {"g2": 9}

        # Kept values expire: a group state read recently is used until the TTL passes.
        await groups.update_one({"_id": "g2"}, {"$set": {"member_count": 10}})
        kept = await access.member_group_sizes("ana", recent=True)
        if store.change_token() is None:
            assert kept == {"g2": 9}  # MongoDB: up to GROUP_STATE_SECONDS old
        else:
            assert kept == {"g2": 10}  # embedded: every write forgets what was kept
        clock.now += GROUP_STATE_SECONDS + 0.1
        assert await access.member_group_sizes("ana", recent=True) == {"g2": 10}
