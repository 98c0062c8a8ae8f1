"""Questions and answers over HTTP: parse, call the use case, map errors.

No `from __future__ import annotations` here: FastAPI resolves the dependency aliases
built inside `build_router` at definition time.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from services.activity.directory import author_view
from services.activity.posts.activitystreams import as2_reply, wants_activity_streams
from services.activity.posts.routes import Author, as2_response
from services.activity.problems import as_problems
from services.activity.questions import examples
from services.activity.questions.domain import (
    MAX_ANSWER_CHARS,
    QuestionRuleViolation,
)
from services.activity.questions.service import QuestionService
from shared.http import Page, PageDep, PrincipalDep
from shared.http.ratelimit import limited


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.ANSWER_IN]})

    text: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.VOTE_IN]})

    value: Literal[-1, 0, 1]


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.ACCEPT_IN]})

    answer_id: str = Field(min_length=1, max_length=100)


class Votes(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.VOTES]})

    up: int
    down: int
    score: int


class AnswerOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ANSWER]})

    id: str
    question_id: str
    author_id: str
    author: Author
    body_md: str
    body_html: str
    text: str
    audience: str
    group_id: str | None
    created_at: datetime
    edited_at: datetime | None
    revision: int
    votes: Votes
    counts: dict[str, int]
    reactions_by_kind: dict[str, int]
    accepted: bool = False
    my_vote: int = 0

    @classmethod
    def of(cls, doc: dict[str, Any], people: dict[str, dict[str, Any]]) -> "AnswerOut":
        """`people`: display data by user id (Directory.people); an id not in it shows bare."""
        author_id = doc["author_id"]
        author = people.get(author_id) or author_view(author_id, None)
        return cls.model_validate({**doc, "id": doc["_id"], "author": author})


class VoteOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.VOTE]})

    answer_id: str
    value: int
    previous_value: int


class AcceptedOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ACCEPTED]})

    question_id: str
    state: Literal["open", "answered"]
    accepted_answer_id: str | None


class QuestionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.QUESTION]})

    id: str
    author_id: str
    audience: str
    group_id: str | None = None
    title: str | None = None
    text: str
    topics: list[str] = []
    state: Literal["open", "answered"] = "open"
    accepted_answer_id: str | None = None
    counts: dict[str, int] = {}
    created_at: datetime

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "QuestionOut":
        return cls.model_validate({**doc, "id": doc["_id"]})


def build_router(
    questions: QuestionService, *, route_class: type[APIRoute] = APIRoute
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["questions"], route_class=route_class)

    def get_service() -> QuestionService:
        return questions

    Questions = Annotated[QuestionService, Depends(get_service)]

    async def out(svc: QuestionService, doc: dict[str, Any]) -> AnswerOut:
        return AnswerOut.of(doc, await svc.people([doc["author_id"]]))

    @router.post(
        "/questions/{question_id}/answers",
        status_code=status.HTTP_201_CREATED,
        **limited("answer"),
        response_model=AnswerOut,
    )
    async def answer(
        question_id: str, body: AnswerIn, principal: PrincipalDep, svc: Questions
    ) -> AnswerOut:
        """Answer a question you can see."""
        async with as_problems(QuestionRuleViolation):
            doc = await svc.answer(principal, question_id, body.text)
        return await out(svc, doc)

    @router.get("/questions/{question_id}/answers", response_model=list[AnswerOut])
    async def answers(question_id: str, principal: PrincipalDep, svc: Questions) -> list[AnswerOut]:
        """A question's answers: accepted first, then by score, then oldest (at most 200)."""
        async with as_problems(QuestionRuleViolation):
            docs = await svc.answers(principal, question_id)
        people = await svc.people(d["author_id"] for d in docs)
        return [AnswerOut.of(d, people) for d in docs]

    @router.get("/answers/{answer_id}", response_model=AnswerOut, name="read_answer")
    async def read(
        answer_id: str,
        principal: PrincipalDep,
        svc: Questions,
        request: Request,
        response: Response,
        accept: Annotated[str | None, Header()] = None,
    ) -> Any:
        """One answer, as JSON or as an Activity Streams 2.0 Note (by Accept)."""
        async with as_problems(QuestionRuleViolation):
            doc = await svc.read_answer(principal, answer_id)
        people = await svc.people([doc["author_id"], *doc.get("mentions", [])])
        if wants_activity_streams(accept):
            obj = as2_reply(
                doc,
                reply_url=str(request.url_for("read_answer", answer_id=answer_id)),
                in_reply_to=str(request.url_for("read_post", post_id=doc["question_id"])),
                people=people,
                base_url=str(request.base_url),
            )
            return as2_response(obj, accept)
        response.headers["Vary"] = "Accept"
        return AnswerOut.of(doc, people)

    @router.patch("/answers/{answer_id}", response_model=AnswerOut)
    async def edit(
        answer_id: str, body: AnswerIn, principal: PrincipalDep, svc: Questions
    ) -> AnswerOut:
        """Edit an answer (its author or a moderator)."""
        async with as_problems(QuestionRuleViolation):
            doc = await svc.edit(principal, answer_id, body.text)
        return await out(svc, doc)

    @router.delete("/answers/{answer_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete(answer_id: str, principal: PrincipalDep, svc: Questions) -> Response:
        """Delete an answer (its author or a moderator)."""
        async with as_problems(QuestionRuleViolation):
            await svc.delete(principal, answer_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.put("/answers/{answer_id}/vote", response_model=VoteOut, **limited("vote"))
    async def vote(
        answer_id: str, body: VoteIn, principal: PrincipalDep, svc: Questions
    ) -> VoteOut:
        """Vote an answer up (1) or down (-1), or withdraw your vote (0)."""
        async with as_problems(QuestionRuleViolation):
            return VoteOut.model_validate(await svc.vote(principal, answer_id, body.value))

    @router.put("/questions/{question_id}/accepted-answer", response_model=AcceptedOut)
    async def accept(
        question_id: str, body: AcceptIn, principal: PrincipalDep, svc: Questions
    ) -> AcceptedOut:
        """Accept an answer (the asker or a moderator)."""
        async with as_problems(QuestionRuleViolation):
            return AcceptedOut.model_validate(
                await svc.accept(principal, question_id, body.answer_id)
            )

    @router.delete("/questions/{question_id}/accepted-answer", response_model=AcceptedOut)
    async def unaccept(question_id: str, principal: PrincipalDep, svc: Questions) -> AcceptedOut:
        """Un-accept the accepted answer (the asker or a moderator)."""
        async with as_problems(QuestionRuleViolation):
            return AcceptedOut.model_validate(await svc.accept(principal, question_id, None))

    @router.get("/questions", response_model=Page[QuestionOut])
    async def list_questions(
        principal: PrincipalDep,
        page: PageDep,
        svc: Questions,
        topic: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        state: Literal["open", "answered"] | None = None,
        unanswered_in_followed: bool = False,
    ) -> Page[QuestionOut]:
        """Questions you can see, newest first; by topic, state, or unanswered in your topics."""
        docs = await svc.questions(
            principal,
            topic=topic,
            state=state,
            unanswered_in_followed=unanswered_in_followed,
            limit=page.fetch_limit,
            after=page.after,
        )
        items = [QuestionOut.of(d) for d in docs]
        return page.page(items, lambda q: {"created_at": q.created_at, "_id": q.id})

    return router
