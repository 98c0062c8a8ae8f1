"""Group routes: create, read, list, edit, delete. Membership routes: `routes_members.py`.

No `from __future__ import annotations`: FastAPI resolves the dependency aliases built
inside `build_router` at definition time.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from services.activity.groups.domain import NewGroup
from services.activity.groups.errors import problems
from services.activity.groups.schemas import GroupId, GroupIn, GroupOut, GroupPatch, Slug
from services.activity.groups.service import GroupService
from shared.http import Page, PageDep, PrincipalDep
from shared.http.ratelimit import limited


def build_router(groups: GroupService, router: APIRouter) -> APIRouter:
    def get_groups() -> GroupService:
        return groups

    Groups = Annotated[GroupService, Depends(get_groups)]

    @router.post(
        "/groups", status_code=status.HTTP_201_CREATED, response_model=GroupOut, **limited("group")
    )
    async def create(body: GroupIn, principal: PrincipalDep, svc: Groups) -> GroupOut:
        """Create a group; you become its owner (409 when the slug is taken)."""
        cmd = NewGroup(
            name=body.name,
            slug=body.slug,
            description=body.description,
            visibility=body.visibility,
            join_policy=body.join_policy,
        )
        with problems():
            return GroupOut.of(await svc.create(cmd, principal))

    @router.get("/groups", response_model=Page[GroupOut])
    async def list_groups(
        principal: PrincipalDep,
        page: PageDep,
        svc: Groups,
        mine: Annotated[bool, Query(description="only groups I am a member of")] = False,
    ) -> Page[GroupOut]:
        """Groups you can see (public ones and yours), newest first."""
        docs = await svc.list(principal, mine=mine, limit=page.fetch_limit, after=page.after)
        items = [GroupOut.of(d) for d in docs]
        return page.page(items, lambda g: {"created_at": g.created_at, "_id": g.id})

    @router.get("/groups/by-slug/{slug}", response_model=GroupOut)
    async def by_slug(slug: Slug, principal: PrincipalDep, svc: Groups) -> GroupOut:
        """One group, by its slug."""
        with problems():
            return GroupOut.of((await svc.by_slug(principal, slug)).group)

    @router.get("/groups/{group_id}", response_model=GroupOut)
    async def read(group_id: GroupId, principal: PrincipalDep, svc: Groups) -> GroupOut:
        """One group."""
        with problems():
            return GroupOut.of((await svc.get(principal, group_id)).group)

    @router.patch("/groups/{group_id}", response_model=GroupOut)
    async def edit(
        group_id: GroupId, body: GroupPatch, principal: PrincipalDep, svc: Groups
    ) -> GroupOut:
        """Change a group's name, description, visibility or join policy (owners, admins)."""
        with problems():
            changes = body.model_dump(exclude_unset=True)
            return GroupOut.of(await svc.edit(principal, group_id, changes))

    @router.delete("/groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete(group_id: GroupId, principal: PrincipalDep, svc: Groups) -> None:
        """Delete a group and hide everything in it (its owners, or an org admin)."""
        with problems():
            await svc.delete(principal, group_id)

    return router
