"""The activity use cases' errors as HTTP problems, one mapping for every feature's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.activity.rules import ChangedMeanwhile, Invisible, NotPermitted
from shared.http import Conflict, Forbidden, NotFound, Unprocessable


@asynccontextmanager
async def as_problems(rule_violation: type[Exception]) -> AsyncIterator[None]:
    """Invisible -> 404, not permitted -> 403, `rule_violation` -> 422, changed -> 409."""
    try:
        yield
    except Invisible as exc:
        raise NotFound(detail=str(exc)) from exc
    except NotPermitted as exc:
        raise Forbidden(detail=str(exc)) from exc
    except rule_violation as exc:
        raise Unprocessable(detail=str(exc)) from exc
    except ChangedMeanwhile as exc:
        raise Conflict(detail=str(exc)) from exc
