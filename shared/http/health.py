"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from starlette.responses import Response

from shared.http.context import request_id_of
from shared.http.problems import problem_response, problem_type

log = structlog.get_logger(__name__)

_MAX_REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    """A named probe of one dependency; `check` raises when it is not usable."""

    name: str
    check: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    reason: str | None = None


class Readiness:
    """The checks /readyz runs; lifespans add theirs once their clients are open."""

    def __init__(self, checks: Iterable[ReadinessCheck] = (), *, timeout_seconds: float) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        self.timeout_seconds = timeout_seconds
        for check in checks:
            self.add(check)

    def add(self, check: ReadinessCheck) -> None:
        if check.name in self._checks:
            raise ValueError(f"readiness check {check.name!r} is already registered")
        self._checks[check.name] = check

    def remove(self, name: str) -> None:
        self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self) -> list[CheckResult]:
        checks = list(self._checks.values())
        return list(await asyncio.gather(*(self._run_one(c) for c in checks)))

    async def _run_one(self, check: ReadinessCheck) -> CheckResult:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                await check.check()
        except TimeoutError:
            reason = f"timed out after {self.timeout_seconds:g}s"
        except Exception as exc:
            # The class and message say why; the traceback stays in the server log.
            reason = f"{type(exc).__name__}: {exc}"[:_MAX_REASON_CHARS]
            log.warning("http.readiness.check_failed", check=check.name, exc_info=True)
        else:
            return CheckResult(check.name, ok=True)
        return CheckResult(check.name, ok=False, reason=reason)


def get_readiness(app: FastAPI) -> Readiness:
    readiness = app.state.readiness
    assert isinstance(readiness, Readiness)
    return readiness


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessReport(BaseModel):
    status: Literal["ok"] = "ok"
    checks: dict[str, dict[str, Any]]


health_router = APIRouter(tags=["ops"])


@health_router.get("/healthz", include_in_schema=False)
async def healthz() -> Liveness:
    """The process is up; says nothing about its dependencies."""
    return Liveness()


@health_router.get("/readyz", include_in_schema=False, response_model=None)
async def readyz(request: Request) -> ReadinessReport | Response:
    """Ready to serve when every registered dependency check passes."""
    results = await get_readiness(request.app).run()
    checks = {
        r.name: {"status": "ok"} if r.ok else {"status": "failed", "reason": r.reason}
        for r in results
    }
    failed = [r.name for r in results if not r.ok]
    if not failed:
        return ReadinessReport(checks=checks)
    return problem_response(
        503,
        title="Not ready",
        type=problem_type("not-ready"),
        detail="failed readiness checks: " + ", ".join(failed),
        instance=request.url.path,
        request_id=request_id_of(request),
        extensions={"checks": checks},
    )
