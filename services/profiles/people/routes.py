"""People's HTTP routes: parse, call the use case, map errors. Nothing else.

No `from __future__ import annotations` here: FastAPI resolves the dependency aliases
built inside `build_router` at definition time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from services.profiles.people import examples
from services.profiles.people.domain import (
    MAX_BIO_CHARS,
    MAX_ID_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_LANGUAGES,
    MAX_LINK_LABEL_CHARS,
    MAX_LINKS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_URL_CHARS,
)
from services.profiles.people.service import (
    EditConflict,
    HandleTaken,
    InvalidSkill,
    NotAllowed,
    PeopleService,
    PersonExists,
    PersonNotFound,
    PersonRuleViolation,
)
from services.profiles.people.views import PersonOut, page_cursor
from shared.http import (
    Conflict,
    Forbidden,
    NotFound,
    Page,
    PageDep,
    PrincipalDep,
    Unprocessable,
    problem_type,
)

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Language = Annotated[str, Field(min_length=1, max_length=MAX_LANGUAGE_CHARS)]
Filter = Annotated[str | None, Query(min_length=1, max_length=MAX_TEXT_CHARS)]


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.LINK]})

    label: str = Field(min_length=1, max_length=MAX_LINK_LABEL_CHARS)
    url: str = Field(min_length=1, max_length=MAX_URL_CHARS, description="http(s)")


class PersonPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.PERSON_PATCH]}
    )

    handle: str | None = Field(None, max_length=64, description="[a-z0-9._-]{2,64}, unique")
    display_name: str | None = Field(None, max_length=MAX_NAME_CHARS)
    title: Text | None = Field(None, description="admins only")
    department: Text | None = Field(None, description="admins only")
    manager_id: str | None = Field(None, max_length=MAX_ID_CHARS, description="admins only")
    location: Text | None = None
    bio: str | None = Field(None, max_length=MAX_BIO_CHARS)
    avatar_url: str | None = Field(None, max_length=MAX_URL_CHARS, description="http(s)")
    languages: list[Language] | None = Field(None, max_length=MAX_LANGUAGES, description="BCP 47")
    time_zone: str | None = Field(None, max_length=64, description="IANA, e.g. Europe/Paris")
    links: list[Link] | None = Field(None, max_length=MAX_LINKS)


class PersonIn(PersonPatch):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PERSON_IN]})

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, description="the person's JWT sub")
    display_name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)


# Lists that may be emptied but not nulled.
_NOT_NULL = ("handle", "display_name", "languages", "links")


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map the use cases' errors to problems."""
    try:
        yield
    except PersonRuleViolation as exc:
        raise Unprocessable(str(exc), type=problem_type("person-rule")) from exc
    except InvalidSkill as exc:
        raise Unprocessable(str(exc), type=problem_type("skill-rule")) from exc
    except PersonNotFound as exc:
        raise NotFound(f"person {exc} not found") from exc
    except NotAllowed as exc:
        raise Forbidden(str(exc)) from exc
    except HandleTaken as exc:
        raise Conflict(f"handle {exc} is taken", type=problem_type("handle-taken")) from exc
    except PersonExists as exc:
        raise Conflict(f"person {exc} exists", type=problem_type("person-exists")) from exc
    except EditConflict as exc:
        raise Conflict(f"person {exc} changed meanwhile; read it again") from exc


def _changes(body: PersonPatch, **exclude: bool) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True, exclude=set(exclude))
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise Unprocessable(f"{name} may not be null", type=problem_type("person-rule"))
    return changes


def build_router(people: PeopleService, route_class: type[APIRoute] = APIRoute) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["people"], route_class=route_class)

    def get_people() -> PeopleService:
        return people

    People = Annotated[PeopleService, Depends(get_people)]

    @router.get("/people/me", response_model=PersonOut)
    async def read_me(principal: PrincipalDep, svc: People) -> PersonOut:
        """My profile (404 until provisioned; dev mode creates it from the token)."""
        with domain_errors():
            return PersonOut.of(await svc.me(principal), principal)

    @router.patch("/people/me", response_model=PersonOut)
    async def edit_me(body: PersonPatch, principal: PrincipalDep, svc: People) -> PersonOut:
        """Edit my profile."""
        with domain_errors():
            doc = await svc.edit(principal, principal.user_id, _changes(body))
        return PersonOut.of(doc, principal)

    @router.post("/people", status_code=status.HTTP_201_CREATED, response_model=PersonOut)
    async def create(
        body: PersonIn, principal: PrincipalDep, svc: People, request: Request, response: Response
    ) -> PersonOut:
        """Add a person to the directory (admins)."""
        fields = _changes(body, id=True)
        with domain_errors():
            doc = await svc.create(principal, body.id, fields, handle_seed=body.display_name)
        # An id is any JWT sub: percent-encode it, a header carries only Latin-1 and a path no `/`.
        location = request.url_for("read_person", person_id=quote(doc["_id"], safe=""))
        response.headers["Location"] = str(location)
        return PersonOut.of(doc, principal)

    @router.get("/people", response_model=Page[PersonOut])
    async def directory(
        principal: PrincipalDep,
        page: PageDep,
        svc: People,
        department: Filter = None,
        location: Filter = None,
        skill: Filter = None,
        manager: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_CHARS)] = None,
        include_inactive: bool = False,
    ) -> Page[PersonOut]:
        """Active people by handle; filter by department, location, skill or manager."""
        with domain_errors():
            docs = await svc.directory(
                principal,
                department=department,
                location=location,
                manager=manager,
                skill=skill,
                include_inactive=include_inactive,
                limit=page.fetch_limit,
                after=page.after,
            )
        return page.page([PersonOut.of(d, principal) for d in docs], page_cursor)

    @router.get("/people/by-handle/{handle}", response_model=PersonOut)
    async def read_by_handle(handle: str, principal: PrincipalDep, svc: People) -> PersonOut:
        """One person by handle."""
        with domain_errors():
            return PersonOut.of(await svc.by_handle(handle), principal)

    @router.get("/people/{person_id}", response_model=PersonOut, name="read_person")
    async def read(person_id: str, principal: PrincipalDep, svc: People) -> PersonOut:
        """One person, deactivated ones included (`active: false`)."""
        with domain_errors():
            return PersonOut.of(await svc.get(person_id), principal)

    @router.patch("/people/{person_id}", response_model=PersonOut)
    async def edit(
        person_id: str, body: PersonPatch, principal: PrincipalDep, svc: People
    ) -> PersonOut:
        """Edit a profile (its owner, or an admin)."""
        with domain_errors():
            doc = await svc.edit(principal, person_id, _changes(body))
        return PersonOut.of(doc, principal)

    @router.post("/people/{person_id}/deactivate", response_model=PersonOut)
    async def deactivate(person_id: str, principal: PrincipalDep, svc: People) -> PersonOut:
        """Deactivate a person: gone from listings, still shown on what they wrote (admins)."""
        with domain_errors():
            doc = await svc.set_active(principal, person_id, active=False)
        return PersonOut.of(doc, principal)

    @router.post("/people/{person_id}/reactivate", response_model=PersonOut)
    async def reactivate(person_id: str, principal: PrincipalDep, svc: People) -> PersonOut:
        """Reactivate a deactivated person (admins)."""
        with domain_errors():
            doc = await svc.set_active(principal, person_id, active=True)
        return PersonOut.of(doc, principal)

    @router.get("/people/{person_id}/reports", response_model=Page[PersonOut])
    async def reports(
        person_id: str, principal: PrincipalDep, page: PageDep, svc: People
    ) -> Page[PersonOut]:
        """A person's active direct reports, by handle."""
        with domain_errors():
            docs = await svc.reports(person_id, limit=page.fetch_limit, after=page.after)
        return page.page([PersonOut.of(d, principal) for d in docs], page_cursor)

    @router.get("/people/{person_id}/manager-chain", response_model=list[PersonOut])
    async def manager_chain(
        person_id: str, principal: PrincipalDep, svc: People
    ) -> list[PersonOut]:
        """The managers above a person, nearest first, up to the top (at most 20)."""
        with domain_errors():
            return [PersonOut.of(d, principal) for d in await svc.manager_chain(person_id)]

    return router
