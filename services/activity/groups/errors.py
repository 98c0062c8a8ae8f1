"""Domain errors of groups as problems: 404 invisible, 403 not allowed, 409, 422."""

from collections.abc import Iterator
from contextlib import contextmanager

from services.activity.groups.domain import (
    GroupConflict,
    GroupRuleViolation,
    NoSuchMembership,
    NotAllowed,
)
from services.activity.groups.service import GroupNotFound
from shared.http import Conflict, Forbidden, NotFound, Unprocessable


@contextmanager
def problems() -> Iterator[None]:
    try:
        yield
    except GroupNotFound as exc:
        raise NotFound(detail="group not found") from exc
    except NoSuchMembership as exc:
        raise NotFound(detail=str(exc)) from exc
    except NotAllowed as exc:
        raise Forbidden(detail=str(exc)) from exc
    except GroupConflict as exc:
        raise Conflict(detail=str(exc)) from exc
    except GroupRuleViolation as exc:
        raise Unprocessable(detail=str(exc)) from exc
