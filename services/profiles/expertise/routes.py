"""Expertise routes: a person's topics, experts, who to ask, people to follow, hidden topics."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from services.profiles.expertise import examples
from services.profiles.expertise.service import (
    ExpertiseService,
    PersonNotFound,
    QuestionNotFound,
)
from services.profiles.expertise.topics import InvalidSkill, slug
from shared.http import NotFound, PrincipalDep, Unprocessable, problem_type
from shared.http.auth.principal import Principal

MAX_EXPERTS = 50


class EvidenceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.EVIDENCE]})

    kind: str
    ref_id: str
    link: str
    weight: float
    base_weight: float
    at: datetime
    group_id: str | None = None


class TopicOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TOPIC]})

    topic: str
    score: float
    hidden: bool
    evidence: list[EvidenceOut]


class ExpertiseOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.EXPERTISE]})

    person_id: str
    topics: list[TopicOut]


class ExpertOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.EXPERT]})

    person_id: str
    handle: str | None = None
    display_name: str | None = None
    topic: str
    score: float
    evidence: list[EvidenceOut]


class AskOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ASK]})

    person_id: str
    handle: str | None = None
    display_name: str | None = None
    score: float
    rank_score: float
    open_requests: int
    topics: list[str]
    evidence: list[EvidenceOut]


class SuggestionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SUGGESTION]})

    person_id: str
    handle: str | None = None
    display_name: str | None = None
    reason: str
    topic: str | None = None
    department: str | None = None


class HiddenTopicsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.HIDDEN_TOPICS]})

    hidden_topics: list[str]


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except InvalidSkill as exc:
        raise Unprocessable(str(exc), type=problem_type("invalid-topic")) from exc
    except PersonNotFound as exc:
        raise NotFound(f"person {exc} not found") from exc
    except QuestionNotFound as exc:
        raise NotFound(f"question {exc} not found") from exc


def _who(principal: Principal, person_id: str) -> str:
    return principal.user_id if person_id == "me" else person_id


def build_router(svc: ExpertiseService) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["expertise"])

    def get_svc() -> ExpertiseService:
        return svc

    Svc = Annotated[ExpertiseService, Depends(get_svc)]

    @router.get("/people/{person_id}/expertise", response_model=ExpertiseOut)
    async def expertise(person_id: str, principal: PrincipalDep, s: Svc) -> Any:
        """A person's inferred topics with current score and evidence (`me` for yourself)."""
        who = _who(principal, person_id)
        with domain_errors():
            topics = await s.of_person(principal, who)
        return {"person_id": who, "topics": topics}

    @router.get("/experts", response_model=list[ExpertOut])
    async def experts(
        principal: PrincipalDep,
        s: Svc,
        topic: Annotated[str, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=MAX_EXPERTS)] = 10,
    ) -> Any:
        """People ranked by current expertise in a topic, with their top evidence."""
        with domain_errors():
            return await s.experts(principal, slug(topic), limit)

    @router.get("/experts/for-question/{post_id}", response_model=list[AskOut])
    async def who_to_ask(post_id: str, principal: PrincipalDep, s: Svc) -> Any:
        """Who to ask: experts in the question's topics, excluding the asker, load spread."""
        with domain_errors():
            return await s.for_question(principal, post_id)

    @router.get("/people/{person_id}/suggestions", response_model=list[SuggestionOut])
    async def suggestions(person_id: str, principal: PrincipalDep, s: Svc) -> Any:
        """People to follow (`me`), each with a reason."""
        with domain_errors():
            return await s.suggestions(principal, _who(principal, person_id))

    @router.put("/people/me/hidden-topics/{topic}", response_model=HiddenTopicsOut)
    async def hide(topic: str, principal: PrincipalDep, s: Svc) -> Any:
        """Hide one of my inferred topics from everything public."""
        with domain_errors():
            return {"hidden_topics": await s.set_hidden(principal, slug(topic), True)}

    @router.delete("/people/me/hidden-topics/{topic}", response_model=HiddenTopicsOut)
    async def show(topic: str, principal: PrincipalDep, s: Svc) -> Any:
        """Show a hidden topic again."""
        with domain_errors():
            return {"hidden_topics": await s.set_hidden(principal, slug(topic), False)}

    return router
