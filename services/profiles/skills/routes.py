"""Skills routes: the taxonomy (`/skills`), my declared skills, a person's skills,
endorsements (`/endorsements`)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from services.profiles.expertise.topics import InvalidSkill
from services.profiles.skills import examples
from services.profiles.skills.domain import MAX_ALIASES, SkillRuleViolation
from services.profiles.skills.service import (
    PersonNotFound,
    SkillConflict,
    SkillNotFound,
    SkillService,
    WriteConflict,
)
from shared.http import (
    AdminDep,
    Conflict,
    NotFound,
    Page,
    PageDep,
    PrincipalDep,
    Unprocessable,
    problem_type,
)
from shared.http.ratelimit import limited

Name = Annotated[str, Field(min_length=1, max_length=100)]


class SkillIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.SKILL_IN]})

    name: Name
    aliases: list[Name] = Field(default_factory=list, max_length=MAX_ALIASES)
    parent_id: Name | None = None


class SkillPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.SKILL_PATCH]}
    )

    name: Name | None = None
    aliases: list[Name] | None = Field(None, max_length=MAX_ALIASES)
    parent_id: Name | None = None


class SkillOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SKILL]})

    id: str
    name: str
    aliases: list[str]
    parent_id: str | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "SkillOut":
        return cls.model_validate({**doc, "id": doc["_id"]})


class LevelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.LEVEL_IN]})

    level: int = Field(ge=1, le=5)


class DeclaredOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DECLARED]})

    person_id: str
    skill_id: str
    level: int
    declared_at: datetime


class PersonSkillOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PERSON_SKILL]})

    skill_id: str
    name: str
    level: int | None
    endorsements: int
    endorsed_by_me: bool


class PersonSkillsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PERSON_SKILLS]})

    person_id: str
    skills: list[PersonSkillOut]


class EndorsementOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ENDORSEMENT]})

    id: str
    endorser_id: str
    person_id: str
    skill_id: str
    at: datetime


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except (InvalidSkill, SkillRuleViolation) as exc:
        raise Unprocessable(str(exc), type=problem_type("skill-rule")) from exc
    except SkillNotFound as exc:
        raise NotFound(f"skill {exc} not found") from exc
    except PersonNotFound as exc:
        raise NotFound(f"person {exc} not found") from exc
    except SkillConflict as exc:
        raise Conflict(str(exc), type=problem_type("skill-conflict")) from exc
    except WriteConflict as exc:
        raise Conflict(f"{exc} changed meanwhile; retry") from exc


def build_router(skills: SkillService) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["skills"])

    def get_skills() -> SkillService:
        return skills

    Skills = Annotated[SkillService, Depends(get_skills)]

    @router.post("/skills", status_code=status.HTTP_201_CREATED, response_model=SkillOut)
    async def create(body: SkillIn, admin: AdminDep, svc: Skills) -> SkillOut:
        """Add a skill to the taxonomy (admins)."""
        with domain_errors():
            doc = await svc.create(body.name, body.aliases, body.parent_id)
        return SkillOut.of(doc)

    @router.get("/skills", response_model=Page[SkillOut])
    async def list_skills(principal: PrincipalDep, page: PageDep, svc: Skills) -> Page[SkillOut]:
        """The taxonomy, by id."""
        docs = await svc.listing(page.fetch_limit, page.after)
        return page.page([SkillOut.of(d) for d in docs], lambda s: {"_id": s.id})

    @router.get("/skills/{name}", response_model=SkillOut)
    async def read(name: str, principal: PrincipalDep, svc: Skills) -> SkillOut:
        """One skill of the taxonomy, by its id, name or any alias (`k8s` -> kubernetes)."""
        with domain_errors():
            return SkillOut.of(await svc.get(name))

    @router.patch("/skills/{skill_id}", response_model=SkillOut)
    async def update(skill_id: str, body: SkillPatch, admin: AdminDep, svc: Skills) -> SkillOut:
        """Rename a skill, replace its aliases or move it under another parent (admins)."""
        with domain_errors():
            return SkillOut.of(await svc.update(skill_id, body.model_dump(exclude_unset=True)))

    @router.delete("/skills/{skill_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete(skill_id: str, admin: AdminDep, svc: Skills) -> None:
        """Remove a skill from the taxonomy (declared skills keep its slug) (admins)."""
        with domain_errors():
            await svc.delete(skill_id)

    @router.put("/skills/mine/{skill}", response_model=DeclaredOut)
    async def declare(skill: str, body: LevelIn, principal: PrincipalDep, svc: Skills) -> Any:
        """Declare one of my skills with a level from 1 to 5 (aliases resolve)."""
        with domain_errors():
            return await svc.declare(principal, skill, body.level)

    @router.delete("/skills/mine/{skill}", status_code=status.HTTP_204_NO_CONTENT)
    async def undeclare(skill: str, principal: PrincipalDep, svc: Skills) -> None:
        """Remove one of my declared skills."""
        with domain_errors():
            await svc.undeclare(principal, skill)

    @router.get("/skills/people/{person_id}", response_model=PersonSkillsOut)
    async def of_person(person_id: str, principal: PrincipalDep, svc: Skills) -> Any:
        """A person's declared skills with levels and endorsement counts (`me` for mine)."""
        who = principal.user_id if person_id == "me" else person_id
        with domain_errors():
            return {"person_id": who, "skills": await svc.of_person(principal, who)}

    @router.put(
        "/endorsements/{person_id}/{skill}",
        response_model=EndorsementOut,
        **limited("endorsement"),
    )
    async def endorse(person_id: str, skill: str, principal: PrincipalDep, svc: Skills) -> Any:
        """Endorse a person's skill (once per skill; never yourself)."""
        with domain_errors():
            doc = await svc.endorse(principal, person_id, skill)
        return {**doc, "id": doc["_id"]}

    @router.delete("/endorsements/{person_id}/{skill}", status_code=status.HTTP_204_NO_CONTENT)
    async def withdraw(person_id: str, skill: str, principal: PrincipalDep, svc: Skills) -> None:
        """Withdraw my endorsement of a person's skill."""
        with domain_errors():
            await svc.withdraw(principal, person_id, skill)

    return router
