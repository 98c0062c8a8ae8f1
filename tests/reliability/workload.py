"""A load generator that writes a known workload and keeps a ledger of what was acknowledged.

A small company writes through the public APIs as a mobile client would: every POST carries
an Idempotency-Key and is retried with the same key on a 503 or a broken connection, a few
times, then given up. The ledger records each write's fate:

- `acked`: a 2xx came back, the write must exist and stay;
- `refused`: every attempt was answered with an error (503 while a store was down): the
  write should not exist; if the store committed before the connection broke, it may, but
  then everything downstream must agree with the store;
- `unknown`: no answer at all (a killed process): it may or may not exist.

The checks (convergence.py) compare every service with the store of truth (activity) and the
ledger. Each post carries a unique marker word, so a post can be found by search alone.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from tests.reliability.fleet import Fleet
from tests.support import eventually

Fate = Literal["acked", "refused", "unknown"]
AUTHORS = tuple(f"p{i:02d}" for i in range(12))
WATCHER = "wendy"  # follows every author: her home feed must hold every post, once
MENTIONED = "mia"  # mentioned by a third of the posts: one mention notification each
TOPICS = ("kubernetes", "python", "security", "onboarding")
WORDS = ("deploy", "review", "checklist", "incident", "roadmap", "release", "pipeline")
ATTEMPTS = 3
REQUEST_TIMEOUT_SECONDS = 60.0  # "never hang": an answer, even a 503, comes before this
# A day: the default hour is shorter than the rig's run on a slow machine.
TOKEN_TTL_SECONDS = 86_400


@dataclass
class Write:
    kind: str  # post | answer | reaction | follow
    key: str  # the marker (post, answer), or "user>target"
    fate: Fate
    id: str | None = None
    status: int | None = None
    detail: str = ""


@dataclass
class Ledger:
    run: str = field(default_factory=lambda: f"zr{uuid.uuid4().hex[:8]}")
    writes: list[Write] = field(default_factory=list)
    questions: dict[str, str] = field(default_factory=dict)  # acked question id -> asker
    posts: dict[str, str] = field(default_factory=dict)  # acked post id -> author
    statuses: Counter[str] = field(default_factory=Counter)
    slowest_answer: float = 0.0
    hung: list[str] = field(default_factory=list)  # requests with no answer in time
    server_errors: list[str] = field(default_factory=list)  # 5xx other than 503
    rejected: list[str] = field(default_factory=list)  # 4xx: the generator's or a service's bug

    def of(self, kind: str, fate: Fate | None = None) -> list[Write]:
        return [w for w in self.writes if w.kind == kind and (fate is None or w.fate == fate)]


class Client:
    """Tokens and requests, each routed to the service the gateway would send it to."""

    def __init__(self, fleet: Fleet, http: httpx.AsyncClient, ledger: Ledger) -> None:
        self.fleet = fleet
        self.http = http
        self.ledger = ledger
        self.tokens: dict[str, str] = {}

    async def sign_in(self, *users: str) -> None:
        for user in users:
            response = await self.http.post(
                self.fleet.url("/api/v1/dev/token"),
                json={"sub": user, "roles": [], "ttl_seconds": TOKEN_TTL_SECONDS},
            )
            response.raise_for_status()
            self.tokens[user] = response.json()["access_token"]
            await self.ok("GET", "/api/v1/people/me", as_=user)

    async def request(self, method: str, path: str, *, as_: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}", **kwargs.pop("headers", {})}
        return await self.http.request(
            method, self.fleet.url(path), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs
        )

    async def ok(self, method: str, path: str, *, as_: str, **kwargs: Any) -> Any:
        """For set-up and checks: retried until the stack answers 2xx (bounded)."""
        deadline = time.monotonic() + 120
        while True:
            try:
                response = await self.request(method, path, as_=as_, **kwargs)
                if response.is_success:
                    return response.json() if response.content else None
                if response.status_code != 503:
                    raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path} kept failing: {last}")
            await asyncio.sleep(0.5)  # a client's back-off between retries

    async def write(
        self, kind: str, key: str, method: str, path: str, *, as_: str, **kwargs: Any
    ) -> Write:
        """One write as a mobile client does it: same Idempotency-Key on every retry."""
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        fate: Fate = "unknown"
        status: int | None = None
        detail = ""
        for attempt in range(ATTEMPTS):
            started = time.monotonic()
            try:
                response = await self.request(method, path, as_=as_, headers=headers, **kwargs)
            except httpx.TimeoutException:
                self.ledger.hung.append(f"{method} {path}")
                fate, detail = "unknown", "timeout"
            except httpx.TransportError as exc:
                fate, detail = "unknown", type(exc).__name__
            else:
                elapsed = time.monotonic() - started
                self.ledger.slowest_answer = max(self.ledger.slowest_answer, elapsed)
                status = response.status_code
                self.ledger.statuses[f"{method} {kind} {status}"] += 1
                if response.is_success:
                    body = response.json() if response.content else {}
                    write = Write(kind, key, "acked", (body or {}).get("id"), status)
                    self.ledger.writes.append(write)
                    return write
                if status >= 500 and status != 503:
                    self.ledger.server_errors.append(f"{method} {path} {status} {response.text}")
                problem = response.headers.get("content-type", "")
                assert problem.startswith("application/problem+json"), (status, response.text)
                if status == 409 and "idempotency-key-in-use" in response.text:
                    # An earlier attempt still holds the key (or died holding it): its
                    # outcome is unknown until it finishes; retry as the answer says.
                    fate, detail = "unknown", "idempotency key in use"
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                    continue
                if status != 503:  # a 4xx is the answer; retrying will not change it
                    self.ledger.rejected.append(f"{method} {path} {status} {response.text[:300]}")
                    fate, detail = "refused", response.text[:200]
                    break
                # A 503 after a broken connection may hide a commit: keep `unknown` then.
                fate = "refused" if fate != "unknown" or attempt == 0 else "unknown"
                detail = response.text[:200]
            await asyncio.sleep(0.5 * (attempt + 1))  # the client's back-off
        write = Write(kind, key, fate, None, status, detail)
        self.ledger.writes.append(write)
        return write


class Workload:
    """Closed-loop writers: posts, questions, answers, reactions and follows by weight."""

    def __init__(self, client: Client, seed: int) -> None:
        self.client = client
        self.ledger = client.ledger
        self.rng = random.Random(seed)

    async def setup(self) -> None:
        await self.client.sign_in(*AUTHORS, WATCHER, MENTIONED)
        await self._until_mentionable()
        for author in AUTHORS:
            await self.client.ok("PUT", f"/api/v1/follows/people/{author}", as_=WATCHER)

    async def _until_mentionable(self) -> None:
        """Until activity's directory, fed by profiles' events, knows MENTIONED: an @handle
        it does not know yet when a post is written stays plain text (docs/activity.md)."""
        hello = {"body_md": "Hello, I have just joined."}  # no run marker: not in the checks
        post = await self.client.ok("POST", "/api/v1/posts", as_=MENTIONED, json=hello)
        await eventually(
            lambda: self.client.ok("GET", f"/api/v1/posts/{post['id']}", as_=MENTIONED),
            until=lambda read: read["author"]["handle"] == MENTIONED,
            within=60,
        )

    def _marker(self) -> str:
        return f"{self.ledger.run}m{uuid.uuid4().hex[:10]}"

    async def _post(self) -> None:
        author = self.rng.choice(AUTHORS)
        marker = self._marker()
        question = self.rng.random() < 0.3
        mention = f" @{MENTIONED}" if self.rng.random() < 1 / 3 else ""
        words = " ".join(self.rng.sample(WORDS, 3))
        body: dict[str, Any] = {
            "body_md": f"{self.ledger.run} {marker} {words}{mention}",
            "tags": [self.rng.choice(TOPICS)],
        }
        if question:
            body |= {"kind": "question", "title": f"How do we {words}? {marker}"}
        write = await self.client.write(
            "post", marker, "POST", "/api/v1/posts", as_=author, json=body
        )
        if write.fate == "acked" and write.id:
            self.ledger.posts[write.id] = author
            if question:
                self.ledger.questions[write.id] = author

    async def _answer(self) -> None:
        if not self.ledger.questions:
            return await self._post()
        question, asker = self.rng.choice(list(self.ledger.questions.items()))
        author = self.rng.choice([a for a in AUTHORS if a != asker])
        marker = self._marker()
        body = {"text": f"{self.ledger.run} {marker} try the {self.rng.choice(WORDS)} runbook"}
        await self.client.write(
            "answer", marker, "POST", f"/api/v1/questions/{question}/answers", as_=author, json=body
        )

    async def _reaction(self) -> None:
        if not self.ledger.posts:
            return await self._post()
        post, author = self.rng.choice(list(self.ledger.posts.items()))
        who = self.rng.choice([a for a in AUTHORS if a != author])
        await self.client.write(
            "reaction",
            f"{who}>{post}",
            "PUT",
            f"/api/v1/posts/{post}/reactions",
            as_=who,
            json={"kind": self.rng.choice(("like", "thanks", "insightful"))},
        )

    async def _follow(self) -> None:
        who = self.rng.choice(AUTHORS)
        if self.rng.random() < 0.5:
            target = f"people/{self.rng.choice([a for a in AUTHORS if a != who])}"
        else:
            target = f"topics/{self.rng.choice(TOPICS)}"
        await self.client.write(
            "follow", f"{who}>{target}", "PUT", f"/api/v1/follows/{target}", as_=who
        )

    async def run(
        self, operations: int, *, until: asyncio.Event | None = None, concurrency: int = 6
    ) -> int:
        """At least `operations` writes with `concurrency` closed-loop clients, and on until
        `until` is set (the fault is over); returns how many were written."""
        done = 0
        ops = (self._post, self._answer, self._reaction, self._follow)
        weights = (40, 20, 25, 15)

        def more() -> bool:
            return done < operations or (until is not None and not until.is_set())

        async def worker() -> None:
            nonlocal done
            while more():
                done += 1
                await self.rng.choices(ops, weights)[0]()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done
