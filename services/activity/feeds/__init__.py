"""Feeds: home (fan-out on write, merge-on-read above a threshold), group, topic, person.

Read top-down: `domain.py` (who receives a post, entries, merging, ETags), `repository.py`
(`timelines`, `feed_state`; read-only access to the others' collections), `fanout.py` and
`handlers.py` (the `activity.feeds` consumer, with `audiences.py`, who each source
reaches, and `entries.py`, the entries' writer), `topic_index.py` (the per-topic side index
the same consumer keeps), `reader.py`, `routes.py` and `cache.py` (the reads, and rendered
pages kept until the store changes).
"""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature
from services.activity.directory import Directory
from services.activity.feeds.audiences import AudienceLists
from services.activity.feeds.cache import PageCache
from services.activity.feeds.entries import EntryWriter
from services.activity.feeds.handlers import build_dispatcher
from services.activity.feeds.reader import FeedReader
from services.activity.feeds.repository import Sources, TimelineRepository
from services.activity.feeds.routes import build_router, front_routes
from services.activity.feeds.topic_index import IndexingFanOut, TopicIndex
from shared.events.schemas.activity import TOPIC
from shared.service import Subscription

GROUP = "activity.feeds"
# Authors' names and avatars on feed pages, kept this long (Directory, StoreMemo).
AUTHOR_CACHE_SECONDS = 5.0


def install(ctx: ActivityContext) -> Feature:
    timelines = TimelineRepository(ctx.store)
    sources = Sources(ctx.store)
    options = ctx.options
    topic_index = TopicIndex(ctx.store)
    fanout = IndexingFanOut(
        topic_index,
        timelines,
        sources,
        ctx.access,
        threshold=options.fanout_threshold,
        cap=options.timeline_cap,
        # Lists a little above the threshold, so a source near it does not flap.
        audiences=AudienceLists(ctx.store, sources, cap=2 * options.fanout_threshold),
        writer=EntryWriter(ctx.store, timelines),
    )
    cache = PageCache(ctx.store.change_token, max_bytes=options.feed_cache_bytes)
    reader = FeedReader(
        timelines,
        sources,
        ctx.access,
        Directory(ctx.store, cache_seconds=AUTHOR_CACHE_SECONDS),
        topic_index,
        threshold=options.fanout_threshold,
    )
    return Feature(
        routers=[build_router(reader, cache)],
        fronts=front_routes(cache),
        setup=[timelines.prepare, sources.prepare, topic_index.prepare],
        subscriptions=[Subscription(group=GROUP, topics=[TOPIC], handler=build_dispatcher(fanout))],
        background=[fanout.trim_pending],
    )
