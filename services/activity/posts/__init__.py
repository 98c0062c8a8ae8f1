"""Posts: notes, questions, resources and articles; edit, delete, pin."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature
from services.activity.directory import Directory
from services.activity.posts.repository import POSTS, PostRepository
from services.activity.posts.routes import build_router
from services.activity.posts.service import PostService


def install(ctx: ActivityContext) -> Feature:
    repo = PostRepository(ctx.store)
    posts = PostService(
        repo, ctx.access, Directory(ctx.store), on_events=lambda: ctx.notify_outbox()
    )
    return Feature(
        routers=[build_router(posts, ctx.route_class)],
        outbox_collections=[POSTS],
        setup=[repo.prepare],
    )
