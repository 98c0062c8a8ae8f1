"""Per-principal write rate limits (OWASP API6): 429 problem+json with `Retry-After`.

A route opts in with `dependencies=[rate_limited("post")]`. Each action has a sustained
rate and a burst (GCRA, the token bucket without a timer): a person can post a burst of
answers in a lively thread, but no script can flood followers' feeds and inboxes.

The state is in this process's memory: a limiter on the request path must not cost a
store round trip. With N replicas behind the gateway a determined client gets at most N
times the limit, which still bounds fan-out; `CANTEEN_RATE_LIMIT_MULTIPLIER` scales every
limit (0 turns them off, e.g. for a bulk import through the API).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from shared.http.auth.deps import current_principal
from shared.http.auth.principal import Principal
from shared.http.problems import Problem, problem_type

RATE_LIMITED = problem_type("rate-limited")


@dataclass(frozen=True, slots=True)
class Limit:
    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("a limit needs a positive rate and a burst of at least 1")


# Generous for people, tight for scripts. Keys are the actions routes name.
DEFAULT_LIMITS: Mapping[str, Limit] = {
    "post": Limit(per_minute=20, burst=20),
    "answer": Limit(per_minute=30, burst=30),
    "comment": Limit(per_minute=30, burst=30),
    "reaction": Limit(per_minute=60, burst=60),
    "vote": Limit(per_minute=60, burst=60),
    "follow": Limit(per_minute=30, burst=50),
    "endorsement": Limit(per_minute=20, burst=30),
    "group": Limit(per_minute=5, burst=10),
}


class RateLimiter:
    """GCRA per (action, subject); at most `max_keys` subjects remembered (LRU)."""

    def __init__(
        self,
        limits: Mapping[str, Limit] = DEFAULT_LIMITS,
        *,
        multiplier: float = 1.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if multiplier < 0:
            raise ValueError("multiplier must be >= 0")
        self.enabled = multiplier > 0
        self._limits = {
            action: Limit(limit.per_minute * multiplier, max(1, round(limit.burst * multiplier)))
            for action, limit in limits.items()
            if multiplier > 0
        }
        self._tat: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def hit(self, action: str, subject: str) -> float | None:
        """Count one request; None if allowed, else the seconds until one would be."""
        limit = self._limits.get(action)
        if limit is None:
            if self.enabled:
                raise KeyError(f"no rate limit named {action!r}")
            return None
        now = self._clock()
        interval = 60.0 / limit.per_minute
        key = (action, subject)
        # Theoretical arrival time: when the bucket would be empty again.
        tat = max(self._tat.get(key, now), now)
        allowed_at = tat - interval * (limit.burst - 1)
        if now < allowed_at:
            return allowed_at - now
        self._tat[key] = tat + interval
        self._tat.move_to_end(key)
        if len(self._tat) > self._max_keys:
            self._tat.popitem(last=False)
        return None


def get_rate_limiter(request: Request) -> RateLimiter | None:
    limiter = getattr(request.app.state, "rate_limiter", None)
    return limiter if isinstance(limiter, RateLimiter) else None


def rate_limited(action: str) -> Any:
    """A route dependency: count this request against the caller's `action` limit."""
    if action not in DEFAULT_LIMITS:
        raise KeyError(f"no rate limit named {action!r}")

    async def check(request: Request, principal: Principal = Depends(current_principal)) -> None:
        limiter = get_rate_limiter(request)
        if limiter is None:
            return
        wait = limiter.hit(action, principal.user_id)
        if wait is not None:
            raise Problem(
                429,
                detail=f"too many {action} requests; retry after the time in Retry-After",
                type=RATE_LIMITED,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    return Depends(check)


def limited(action: str) -> dict[str, Any]:
    """Route keyword arguments: the limit and its documented 429 answer.

    `@router.post("/posts", status_code=201, **limited("post"))`
    """
    return {
        "dependencies": [rate_limited(action)],
        "responses": {
            429: {
                "description": f"Too many {action} requests from you; wait `Retry-After` seconds.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        },
    }
