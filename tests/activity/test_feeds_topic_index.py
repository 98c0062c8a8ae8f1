"""The topic index is rebuilt at set-up when it was built with an older entry layout."""

from __future__ import annotations

from datetime import UTC, datetime

from services.activity.feeds.topic_index import BUILT_MARKER, LAYOUT, TOPIC_INDEX, TopicIndex
from shared.settings import CanteenSettings
from tests.support import service_store


async def test_an_index_of_an_older_layout_is_rebuilt_with_question_state(
    settings: CanteenSettings,
) -> None:
    async with service_store(settings, "activity") as store:
        when = datetime(2026, 1, 1, tzinfo=UTC)
        await store.collection("posts").insert_many(
            [
                {
                    "_id": "q1",
                    "kind": "question",
                    "state": "answered",
                    "author_id": "ana",
                    "audience": "org",
                    "topics": ["db"],
                    "created_at": when,
                    "deleted": False,
                },
                {
                    "_id": "n1",
                    "kind": "note",
                    "author_id": "ana",
                    "audience": "org",
                    "topics": ["db", "web"],
                    "created_at": when,
                    "deleted": False,
                },
            ]
        )
        entries = store.collection(TOPIC_INDEX)
        # As the first layout left it: entries without `state`, a marker without `layout`,
        # and an entry of a post that no longer has that topic.
        await entries.insert_many(
            [
                {"_id": BUILT_MARKER, "entries": 3},
                {"_id": "db:q1", "topic": "db", "post_id": "q1", "kind": "question"},
                {"_id": "db:n1", "topic": "db", "post_id": "n1", "kind": "note"},
                {"_id": "old:n1", "topic": "old", "post_id": "n1", "kind": "note"},
            ]
        )

        await TopicIndex(store).prepare()

        found = {d["_id"]: d for d in await entries.find({"_id": {"$ne": BUILT_MARKER}})}
        assert sorted(found) == ["db:n1", "db:q1", "web:n1"]
        assert found["db:q1"]["state"] == "answered"
        assert found["db:n1"]["state"] is None
        marker = await entries.find_one({"_id": BUILT_MARKER})
        assert marker is not None and marker["layout"] == LAYOUT

        # Built with this layout: a second set-up leaves the entries alone.
        await entries.update_one({"_id": "db:q1"}, {"$set": {"touched": True}})
        await TopicIndex(store).prepare()
        again = await entries.find_one({"_id": "db:q1"})
        assert again is not None and again.get("touched") is True
