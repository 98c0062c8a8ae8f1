"""Membership routes: join, leave, requests, invitations, roles, members.

Join answers 200 with the active membership, or 202 when the request awaits approval.
Leave and remove answer 204. No `from __future__ import annotations` (see routes.py).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from services.activity.groups.errors import problems
from services.activity.groups.memberships import MembershipService
from services.activity.groups.schemas import GroupId, InvitationIn, MembershipOut, RoleIn, UserId
from shared.http import Page, PageDep, PageParams, PrincipalDep


def _page(page: PageParams, docs: list[dict[str, Any]], key: str) -> Page[MembershipOut]:
    pairs = [(MembershipOut.of(d), d) for d in docs]
    shown = page.page(pairs, lambda p: {key: p[1][key], "_id": p[1]["_id"]})
    return Page(items=[p[0] for p in shown.items], next_cursor=shown.next_cursor)


def build_router(members: MembershipService, router: APIRouter) -> APIRouter:
    def get_members() -> MembershipService:
        return members

    Members = Annotated[MembershipService, Depends(get_members)]
    base = "/groups/{group_id}"

    @router.get(base + "/membership", response_model=MembershipOut)
    async def mine(group_id: GroupId, principal: PrincipalDep, svc: Members) -> MembershipOut:
        """Your own membership, request or invitation in a group (state `none` if nothing)."""
        with problems():
            return MembershipOut.of(await svc.mine(principal, group_id))

    @router.post(base + "/join", response_model=MembershipOut)
    async def join(
        group_id: GroupId, principal: PrincipalDep, svc: Members, response: Response
    ) -> MembershipOut:
        """Join an open group, ask to join a request group, or accept your invitation."""
        with problems():
            doc = await svc.join(principal, group_id)
        if doc["state"] == "requested":
            response.status_code = status.HTTP_202_ACCEPTED
        return MembershipOut.of(doc)

    @router.post(base + "/leave", status_code=status.HTTP_204_NO_CONTENT)
    async def leave(group_id: GroupId, principal: PrincipalDep, svc: Members) -> None:
        """Leave a group, withdraw your request, or decline your invitation."""
        with problems():
            await svc.leave(principal, group_id)

    @router.get(base + "/members", response_model=Page[MembershipOut])
    async def list_members(
        group_id: GroupId, principal: PrincipalDep, page: PageDep, svc: Members
    ) -> Page[MembershipOut]:
        """Active members and their roles, newest first (private group: members only)."""
        with problems():
            docs = await svc.members(principal, group_id, limit=page.fetch_limit, after=page.after)
        return _page(page, docs, "joined_at")

    @router.get(base + "/requests", response_model=Page[MembershipOut])
    async def list_requests(
        group_id: GroupId, principal: PrincipalDep, page: PageDep, svc: Members
    ) -> Page[MembershipOut]:
        """Pending requests to join, newest first (owners and admins)."""
        with problems():
            docs = await svc.requests(principal, group_id, limit=page.fetch_limit, after=page.after)
        return _page(page, docs, "updated_at")

    @router.post(base + "/requests/{user_id}/approve", response_model=MembershipOut)
    async def approve(
        group_id: GroupId, user_id: UserId, principal: PrincipalDep, svc: Members
    ) -> MembershipOut:
        """Approve a request to join (owners and admins)."""
        with problems():
            doc = await svc.answer_request(principal, group_id, user_id, approve=True)
        return MembershipOut.of(doc)

    @router.post(base + "/requests/{user_id}/reject", response_model=MembershipOut)
    async def reject(
        group_id: GroupId, user_id: UserId, principal: PrincipalDep, svc: Members
    ) -> MembershipOut:
        """Reject a request to join (owners and admins)."""
        with problems():
            doc = await svc.answer_request(principal, group_id, user_id, approve=False)
        return MembershipOut.of(doc)

    @router.post(
        base + "/invitations", status_code=status.HTTP_201_CREATED, response_model=MembershipOut
    )
    async def invite(
        group_id: GroupId,
        body: InvitationIn,
        principal: PrincipalDep,
        svc: Members,
        response: Response,
    ) -> MembershipOut:
        """Invite someone (owners and admins); 201 when new, 200 if already invited or approved."""
        with problems():
            doc, created = await svc.invite(principal, group_id, body.user_id)
        if not created:
            response.status_code = status.HTTP_200_OK
        return MembershipOut.of(doc)

    @router.post(base + "/invitations/accept", response_model=MembershipOut)
    async def accept(group_id: GroupId, principal: PrincipalDep, svc: Members) -> MembershipOut:
        """Accept your invitation: you become a member."""
        with problems():
            return MembershipOut.of(await svc.answer_invitation(principal, group_id, accept=True))

    @router.post(base + "/invitations/decline", response_model=MembershipOut)
    async def decline(group_id: GroupId, principal: PrincipalDep, svc: Members) -> MembershipOut:
        """Decline your invitation."""
        with problems():
            doc = await svc.answer_invitation(principal, group_id, accept=False)
        return MembershipOut.of(doc)

    @router.put(base + "/members/{user_id}/role", response_model=MembershipOut)
    async def set_role(
        group_id: GroupId, user_id: UserId, body: RoleIn, principal: PrincipalDep, svc: Members
    ) -> MembershipOut:
        """Make a member owner, admin or member (owners; a group keeps at least one owner)."""
        with problems():
            return MembershipOut.of(await svc.set_role(principal, group_id, user_id, body.role))

    @router.delete(base + "/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def remove(
        group_id: GroupId, user_id: UserId, principal: PrincipalDep, svc: Members
    ) -> None:
        """Remove a member (owners and admins; only owners remove owners and admins)."""
        with problems():
            await svc.remove(principal, group_id, user_id)

    return router
