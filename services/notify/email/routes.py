"""Unsubscribe routes: reached from a mail client without login, authorised by the token.

`GET` shows a confirmation page and changes nothing (link scanners prefetch GETs); `POST`
is RFC 8058's one-click request (`List-Unsubscribe=One-Click`) and applies it. Both answer
409 for a critical type (announcements), which no preference can turn off.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from services.notify.email import examples
from services.notify.email.compose import UNSUBSCRIBE_PATH, Composer
from services.notify.email.unsubscribe import BadLink, CannotTurnOff, Unsubscriber, describe
from shared.http import BadRequest, Conflict, problem_type

Token = Annotated[str, Query(min_length=10, max_length=2000, examples=[examples.TOKEN])]


def build_router(unsubscriber: Unsubscriber, composer: Composer) -> APIRouter:
    router = APIRouter(tags=["email"])

    def bad_link(exc: BadLink) -> BadRequest:
        return BadRequest(
            "this unsubscribe link is not valid", type=problem_type("invalid-unsubscribe-link")
        )

    def critical(exc: CannotTurnOff) -> Conflict:
        return Conflict(
            f"“{exc}” notifications are critical: they reach every member of the group and "
            "cannot be turned off, so this link changed nothing",
            type=problem_type("critical-notification"),
        )

    @router.get(
        UNSUBSCRIBE_PATH,
        response_class=HTMLResponse,
        responses={200: examples.page(examples.CONFIRM_PAGE)},
    )
    async def confirm(token: Token) -> HTMLResponse:
        """A confirmation page for an unsubscribe link (changes nothing)."""
        try:
            _, kind = unsubscriber.read(token)
        except BadLink as exc:
            raise bad_link(exc) from exc
        except CannotTurnOff as exc:
            raise critical(exc) from exc
        page = composer.page(what=describe(kind), action=f"?token={token}", done=False)
        return HTMLResponse(page)

    @router.post(
        UNSUBSCRIBE_PATH,
        response_class=HTMLResponse,
        responses={200: examples.page(examples.DONE_PAGE)},
    )
    async def unsubscribe(token: Token) -> HTMLResponse:
        """One-click unsubscribe (RFC 8058): turn this kind of email off."""
        try:
            kind = await unsubscriber.apply(token)
        except BadLink as exc:
            raise bad_link(exc) from exc
        except CannotTurnOff as exc:
            raise critical(exc) from exc
        return HTMLResponse(composer.page(what=describe(kind), action="", done=True))

    return router
