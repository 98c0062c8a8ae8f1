"""Mixed workload against the four services as four processes: throughput, latency, memory.

    python bench/bench_mixed.py [--backend external|embedded|both] [--steps 1,2,3,4,8,16]
                                [--duration 20] [--warmup 60] [--people 40] [--posts 300]

The four services run as `canteen serve <service>` processes (bench/stack.py) on the real
engines (external: Kafka, FerretDB, OpenSearch from var/engines/engines.env, a fresh
database prefix and bus namespace per run) or on the embedded backend (one shared
CANTEEN_DATA_DIR); rate limits off (CANTEEN_RATE_LIMIT_MULTIPLIER=0: a few people write a
lot). A small company is seeded first through the public APIs: people signed in (dev mode
provisions them), 4 public groups, 5 people and 2 topics followed each, `--posts` posts (a
fifth questions, a quarter in groups, some answered); `canteen admin seed-demo` would be
richer but takes over ten minutes on FerretDB here (votes, comments, reactions). Then, once
a marker post is searchable (the consumers have caught up), a closed-loop load generator
in this process (httpx.AsyncClient, keep-alive, each path routed to its service by the
gateway's prefix map) runs the workload `--warmup` seconds unmeasured at the largest
concurrency (the engines' JIT: on freshly started engines OpenSearch used 0.63 cores at the
first step, 0.23-0.27 once warm, at the same load), then `--duration` seconds at each
concurrency of `--steps`. Each
client picks a random person and an operation by weight:

- reads (90%): home feed 30, group feed 10, topic feed 10, search 15, notifications 10,
  unread count 15;
- writes (10%): post 3 (a third mention someone), answer 2, reaction 3, follow/unfollow 2.

Latency is time.perf_counter around each request; percentiles are nearest-rank over the
sorted samples. Every answer that is not 2xx/3xx (and every transport error) is an error.
"Saturation" is the lowest concurrency whose throughput is within 10% of the best step:
more clients past it only queue. "Cores busy" is the lowest whose machine CPU is at least
95% busy, the issue's "throughput where the 2 cores are saturated" (either may come first:
past the cores' limit more clients can still add throughput, by batching, while they
queue); per-route latencies are printed at both. Machine CPU busy comes from /proc/stat
(the 2 cores are shared: other processes count too), each process's CPU from
/proc/<pid>/stat, memory is VmRSS from /proc/<pid>/status at the end. Prints markdown;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import (
    SERVICES,
    Stack,
    client,
    cpu_seconds,
    engine_pids,
    machine_cpu,
    percentile,
    sigterm_as_interrupt,
    vm_rss_kib,
)
from canteen.demo.client import Api

REACTIONS = ("like", "insightful", "thanks", "celebrate")
TOPICS = ("kubernetes", "python", "security", "onboarding", "budget", "design", "sales", "hiring")
WORDS = (
    "deploy", "review", "checklist", "incident", "roadmap", "customer", "release", "migration",
    "latency", "invoice", "interview", "workshop", "template", "outage", "pipeline", "contract",
)  # fmt: skip
GROUPS = ("platform-guild", "sales-floor", "design-crit", "new-joiners")
SATURATION_SHARE = 0.9  # a step within 10% of the best throughput counts as saturated
# The issue's own words, "the throughput where the 2 cores are saturated": the first step
# with the machine's CPU at least this busy.
CORES_BUSY = 0.95
TOKEN_TTL_SECONDS = 86_400


@dataclass
class World:
    """What the generator picks from: people, their tokens, groups, topics, targets."""

    people: list[str]
    handles: list[str]
    tokens: dict[str, str]
    member_groups: list[tuple[str, str]]  # (member, group id)
    topics: list[str]
    words: list[str]
    questions: list[str]
    posts: list[str]
    following: set[tuple[str, str]]  # (follower, followed person)


@dataclass
class Samples:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    recording: bool = True

    def add(self, route: str, ms: float, error: str | None) -> None:
        if not self.recording:
            return
        self.latencies[route].append(ms)
        if error is not None:
            self.errors[route] += 1
            self.examples.setdefault(route, error)


class Generator:
    def __init__(self, http: httpx.AsyncClient, world: World, rng: random.Random) -> None:
        self.http = http
        self.world = world
        self.rng = rng
        self.sequence = 0
        self.operations: list[tuple[int, Any]] = [
            (30, self.home),
            (10, self.group_feed),
            (10, self.topic_feed),
            (15, self.search),
            (10, self.notifications),
            (15, self.unread),
            (3, self.post),
            (2, self.answer),
            (3, self.react),
            (2, self.follow),
        ]
        self._ops = [op for _, op in self.operations]
        self._weights = [w for w, _ in self.operations]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.tokens[user]}"}

    def someone(self) -> str:
        return self.rng.choice(self.world.people)

    async def one(self, samples: Samples) -> None:
        op = self.rng.choices(self._ops, self._weights)[0]
        route, method, path, user, kwargs = op()
        started = time.perf_counter()
        error = None
        try:
            response = await self.http.request(method, path, headers=self.auth(user), **kwargs)
            if response.status_code >= 400:
                error = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        samples.add(route, (time.perf_counter() - started) * 1000, error)

    # -- reads ---------------------------------------------------------------------------

    def home(self) -> tuple[str, str, str, str, dict[str, Any]]:
        return "GET /feeds/home", "GET", "/api/v1/feeds/home", self.someone(), {}

    def group_feed(self) -> tuple[str, str, str, str, dict[str, Any]]:
        user, group = self.rng.choice(self.world.member_groups)
        return "GET /feeds/groups/{id}", "GET", f"/api/v1/feeds/groups/{group}", user, {}

    def topic_feed(self) -> tuple[str, str, str, str, dict[str, Any]]:
        topic = self.rng.choice(self.world.topics)
        return "GET /feeds/topics/{t}", "GET", f"/api/v1/feeds/topics/{topic}", self.someone(), {}

    def search(self) -> tuple[str, str, str, str, dict[str, Any]]:
        q = self.rng.choice(self.world.words)
        return "GET /search?q=", "GET", "/api/v1/search", self.someone(), {"params": {"q": q}}

    def notifications(self) -> tuple[str, str, str, str, dict[str, Any]]:
        return "GET /notifications", "GET", "/api/v1/notifications", self.someone(), {}

    def unread(self) -> tuple[str, str, str, str, dict[str, Any]]:
        path = "/api/v1/notifications/unread-count"
        return "GET /notifications/unread-count", "GET", path, self.someone(), {}

    # -- writes --------------------------------------------------------------------------

    def post(self) -> tuple[str, str, str, str, dict[str, Any]]:
        self.sequence += 1
        topic = self.rng.choice(self.world.topics)
        words = " ".join(self.rng.sample(WORDS, 3))
        body = f"Bench note {self.sequence} about {topic}: {words}."
        if self.sequence % 3 == 0:
            body += f" What do you think, @{self.rng.choice(self.world.handles)}?"
        json = {"kind": "note", "body_md": body, "tags": [topic]}
        return "POST /posts", "POST", "/api/v1/posts", self.someone(), {"json": json}

    def answer(self) -> tuple[str, str, str, str, dict[str, Any]]:
        question = self.rng.choice(self.world.questions)
        path = f"/api/v1/questions/{question}/answers"
        json = {"text": f"From the bench: try {' and '.join(self.rng.sample(WORDS, 2))}."}
        return "POST /questions/{id}/answers", "POST", path, self.someone(), {"json": json}

    def react(self) -> tuple[str, str, str, str, dict[str, Any]]:
        path = f"/api/v1/posts/{self.rng.choice(self.world.posts)}/reactions"
        json = {"kind": self.rng.choice(REACTIONS)}
        return "PUT /posts/{id}/reactions", "PUT", path, self.someone(), {"json": json}

    def follow(self) -> tuple[str, str, str, str, dict[str, Any]]:
        user = self.someone()
        target = self.rng.choice([p for p in self.world.people if p != user])
        path = f"/api/v1/follows/people/{target}"
        # Toggle, so every follow write changes something (a repeated PUT is a no-op).
        if (user, target) in self.world.following:
            self.world.following.discard((user, target))
            return "PUT/DELETE /follows/people/{id}", "DELETE", path, user, {}
        self.world.following.add((user, target))
        return "PUT/DELETE /follows/people/{id}", "PUT", path, user, {}


# -- setup ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The small company to seed, decided up front from a seed (same seed, same company)."""

    people: list[str]
    groups: list[tuple[str, str, list[str]]]  # (slug, owner, members without the owner)
    follows: list[tuple[str, str, str]]  # (follower, "people" | "topics", target)
    posts: list[dict[str, Any]]  # {"as": author, "body": POST body, "group": slug | None}


def plan(seed_value: int, people: int, posts: int) -> Plan:
    rng = random.Random(seed_value)
    users = [f"mx-{i:03d}" for i in range(people)]
    groups = []
    for slug in GROUPS:
        owner, *members = rng.sample(users, max(2, people // 3))
        groups.append((slug, owner, members))
    follows = [(u, "people", t) for u in users for t in rng.sample([v for v in users if v != u], 5)]
    follows += [(u, "topics", t) for u in users for t in rng.sample(TOPICS, 2)]
    planned = []
    for i in range(posts):
        topic = rng.choice(TOPICS)
        words = " ".join(rng.sample(WORDS, 4))
        group = rng.choice(groups) if rng.random() < 0.25 else None
        author = rng.choice([group[1], *group[2]]) if group else rng.choice(users)
        body: dict[str, Any] = {
            "kind": "note",
            "body_md": f"{words} ({topic}, {i}).",
            "tags": [topic],
        }
        if i % 5 == 0:
            body.update(kind="question", title=f"How do we handle {topic} {rng.choice(WORDS)}?")
        planned.append({"as": author, "body": body, "group": group[0] if group else None})
    return Plan(users, groups, follows, planned)


async def seed_company(http: httpx.AsyncClient, company: Plan) -> float:
    """Sign everyone in, groups and members, follows, posts, an answer to half the questions.

    Through the public APIs, a few requests at a time (the seeder's client retries 429/5xx).
    """
    started = time.perf_counter()
    api = Api(http, concurrency=8)

    async def each(items: Any, work: Any) -> None:
        await asyncio.gather(*(work(i) for i in items))

    await each(company.people, lambda u: api.call("GET", "/api/v1/people/me", as_user=u))
    group_ids: dict[str, str] = {}

    async def create_group(group: tuple[str, str, list[str]]) -> None:
        slug, owner, members = group
        body = {"name": slug.replace("-", " ").title(), "slug": slug, "visibility": "public"}
        created = await api.call("POST", "/api/v1/groups", as_user=owner, json=body)
        group_ids[slug] = created.json()["id"]
        await each(
            members,
            lambda m: api.call("POST", f"/api/v1/groups/{group_ids[slug]}/join", as_user=m),
        )

    await each(company.groups, create_group)
    await each(
        company.follows,
        lambda f: api.call("PUT", f"/api/v1/follows/{f[1]}/{f[2]}", as_user=f[0]),
    )

    async def create_post(post: dict[str, Any]) -> None:
        body = dict(post["body"])
        if post["group"]:
            body["group_id"] = group_ids[post["group"]]
        created = await api.call("POST", "/api/v1/posts", as_user=post["as"], json=body)
        view = created.json()
        if view["kind"] == "question" and not post["group"] and len(view["title"]) % 2 == 0:
            answerer = next(u for u in company.people if u != post["as"])
            await api.call(
                "POST",
                f"/api/v1/questions/{view['id']}/answers",
                as_user=answerer,
                json={"text": f"Ask the {post['body']['tags'][0]} group; it worked for us."},
            )

    for start in range(0, len(company.posts), 8):  # in order: the feeds read as a timeline
        await each(company.posts[start : start + 8], create_post)
    return time.perf_counter() - started


async def discover(http: httpx.AsyncClient, company: Plan) -> World:
    """Ids the seeding created, read back through the APIs (as a client would learn them)."""
    api = Api(http, concurrency=8)
    tokens = {}
    handles = []
    for person in company.people:
        response = await http.post(
            "/api/v1/dev/token",
            json={"sub": person, "roles": [], "ttl_seconds": TOKEN_TTL_SECONDS},
        )
        response.raise_for_status()
        tokens[person] = response.json()["access_token"]
        me = await api.call("GET", "/api/v1/people/me", as_user=person)
        handles.append(me.json()["handle"])
    member_groups = []
    for slug, owner, members in company.groups:
        found = await api.call("GET", f"/api/v1/groups/by-slug/{slug}", as_user=owner)
        member_groups += [(m, found.json()["id"]) for m in (owner, *members)]
    reader = company.people[0]
    questions = await api.call("GET", "/api/v1/questions", as_user=reader, params={"limit": 100})
    posts = await api.call("GET", "/api/v1/posts", as_user=reader, params={"limit": 100})
    # Org-wide targets only: everyone may answer and react to them.
    question_ids = [q["id"] for q in questions.json()["items"] if not q.get("group_id")]
    post_ids = [p["id"] for p in posts.json()["items"] if not p.get("group_id")]
    return World(
        people=company.people,
        handles=handles,
        tokens=tokens,
        member_groups=member_groups,
        topics=list(TOPICS),
        words=list(TOPICS) + list(WORDS),
        questions=question_ids,
        posts=post_ids,
        following={(f[0], f[2]) for f in company.follows if f[1] == "people"},
    )


async def caught_up(http: httpx.AsyncClient, world: World, deadline_s: float = 300.0) -> float:
    """Seconds until a marker post is searchable: the consumers have drained the seeding."""
    api = Api(http)
    marker = f"marker{random.randrange(10**9)}"
    author = world.people[0]
    await api.call("POST", "/api/v1/posts", as_user=author, json={"body_md": f"{marker} done"})
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_s:
        found = await api.call("GET", "/api/v1/search", as_user=author, params={"q": marker})
        if found.json()["items"]:
            return time.perf_counter() - started
        await asyncio.sleep(0.5)  # polling the index, a bounded wait
    raise RuntimeError(f"the seeding was not indexed within {deadline_s:.0f} s")


# -- the run --------------------------------------------------------------------------------


@dataclass
class StepResult:
    concurrency: int
    seconds: float
    samples: Samples
    machine_busy: float  # share of all cores, 0..1
    services_cores: float  # CPU seconds of the four services per wall second
    generator_cores: float
    engines_cores: dict[str, float]  # external: each engine's CPU (others use them too)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.samples.latencies.values())

    @property
    def rps(self) -> float:
        return self.count / self.seconds

    @property
    def errors(self) -> int:
        return sum(self.samples.errors.values())

    def all_sorted(self) -> list[float]:
        return sorted(ms for v in self.samples.latencies.values() for ms in v)


async def run_step(
    http: httpx.AsyncClient, world: World, stack: Stack, concurrency: int, seconds: float
) -> StepResult:
    samples = Samples()
    rng = random.Random(concurrency)
    generator = Generator(http, world, rng)
    deadline = time.perf_counter() + seconds
    pids = list(stack.pids().values())
    engines = engine_pids() if stack.backend == "external" else {}
    engines0 = {e: cpu_seconds(p) for e, p in engines.items()}
    cpu0 = sum(cpu_seconds(p) for p in pids)
    gen0 = time.process_time()
    busy0, total0 = machine_cpu()
    started = time.perf_counter()

    async def loop() -> None:
        while time.perf_counter() < deadline:
            await generator.one(samples)

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    busy1, total1 = machine_cpu()
    return StepResult(
        concurrency=concurrency,
        seconds=elapsed,
        samples=samples,
        machine_busy=(busy1 - busy0) / max(total1 - total0, 1.0),
        services_cores=(sum(cpu_seconds(p) for p in pids) - cpu0) / elapsed,
        generator_cores=(time.process_time() - gen0) / elapsed,
        engines_cores={e: (cpu_seconds(p) - engines0[e]) / elapsed for e, p in engines.items()},
    )


def per_route(step: StepResult, when: str, note: str) -> None:
    print(f"\nPer route {when} ({step.concurrency} clients, {step.rps:,.1f} req/s; {note}):\n")
    print("| route | share | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for route, values in sorted(step.samples.latencies.items(), key=lambda kv: -len(kv[1])):
        ordered = sorted(values)
        print(
            f"| {route} | {len(values) / step.count:.0%} | {len(values) / step.seconds:,.1f} | "
            f"{percentile(ordered, 50):.1f} | {percentile(ordered, 95):.1f} | "
            f"{percentile(ordered, 99):.1f} | {step.samples.errors[route]} |"
        )


def report(
    label: str, args: argparse.Namespace, seeded_s: float, results: list[StepResult], stack: Stack
) -> None:
    rss_mib = {s: vm_rss_kib(pid) / 1024 for s, pid in stack.pids().items()}
    best = max(r.rps for r in results)
    saturated = next(r for r in results if r.rps >= SATURATION_SHARE * best)
    cores = next((r for r in results if r.machine_busy >= CORES_BUSY), None)
    print(f"### Mixed workload, {label}, four `canteen serve` processes\n")
    print(
        f"A company of {args.people} people, {len(GROUPS)} groups, {args.posts} posts (a fifth "
        "questions), 5 people + 2 topics followed each, seeded through the APIs in "
        f"{seeded_s:.0f} s; {args.duration:.0f} s per step after a {args.warmup:.0f} s "
        "warm-up; 90% reads / 10% writes.\n"
    )
    engines = sorted(results[0].engines_cores)
    print(
        "| clients | req/s | p50 ms | p95 ms | p99 ms | errors | machine CPU busy | "
        "services cores | generator cores |" + "".join(f" {e} cores |" for e in engines)
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(engines))
    for r in results:
        ordered = r.all_sorted()
        mark = " **(saturated)**" if r is saturated else ""
        mark += " *(cores busy)*" if r is cores else ""
        print(
            f"| {r.concurrency}{mark} | {r.rps:,.1f} | {percentile(ordered, 50):.1f} | "
            f"{percentile(ordered, 95):.1f} | {percentile(ordered, 99):.1f} | {r.errors} | "
            f"{r.machine_busy:.0%} | {r.services_cores:.2f} | {r.generator_cores:.2f} |"
            + "".join(f" {r.engines_cores[e]:.2f} |" for e in engines)
        )
    if engines:
        print(
            "\n(Cores = CPU seconds per wall second; the engines are shared with whatever else "
            "runs on the machine, their CPU includes it.)"
        )
    print(
        "\n(**saturated**: the first step within 10% of the best throughput; *cores busy*: "
        f"the first with the machine's CPU at least {CORES_BUSY:.0%} busy.)"
    )
    if cores is not None and cores is not saturated:
        per_route(cores, "where the cores are busy", "target p99 <= 100 ms")
    per_route(saturated, "at saturation", "target p99 <= 100 ms")
    if results[0] not in (saturated, cores):
        per_route(results[0], "at the lightest step", "for comparison")
    total_errors = sum(r.errors for r in results)
    print(f"\nErrors over all steps: {total_errors}.")
    examples = {k: v for r in results for k, v in r.samples.examples.items()}
    for route, example in examples.items():
        print(f"- {route}: `{example}`")
    memory = ", ".join(f"{s} {rss_mib[s]:.0f} MiB" for s in SERVICES)
    total = sum(rss_mib.values())
    print(f"\nResident memory (VmRSS) at the end: {memory}; total {total:.0f} MiB.\n")


async def bench(stack: Stack, args: argparse.Namespace) -> tuple[float, list[StepResult]]:
    company = plan(args.seed, args.people, args.posts)
    connections = max(args.steps) + 8
    async with client(stack, connections=connections, timeout=60.0) as http:
        seeded_s = await seed_company(http, company)
        world = await discover(http, company)
        indexed_s = await caught_up(http, world)
        print(f"  seeded in {seeded_s:.0f} s, caught up {indexed_s:.1f} s later", file=sys.stderr)
        warm = Samples(recording=False)
        generator = Generator(http, world, random.Random(0))
        deadline = time.perf_counter() + args.warmup

        async def warm_loop() -> None:
            while time.perf_counter() < deadline:
                await generator.one(warm)

        # At the largest step: the most work per second, so the engines' JIT (OpenSearch's,
        # Kafka's) is through its first phase before anything is measured.
        await asyncio.gather(*(warm_loop() for _ in range(max(args.steps))))
        results = []
        for concurrency in args.steps:
            result = await run_step(http, world, stack, concurrency, args.duration)
            print(
                f"  {concurrency} clients: {result.rps:.1f} req/s, "
                f"p99 {percentile(result.all_sorted(), 99):.1f} ms, {result.errors} errors",
                file=sys.stderr,
            )
            results.append(result)
    return seeded_s, results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["external", "embedded", "both"], default="external")
    parser.add_argument(
        "--steps", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3, 4, 8, 16]
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per step")
    parser.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds of the workload at the largest step before the steps (engines in "
        "service are warm: a fresh OpenSearch spends ~2x the CPU per search for minutes)",
    )
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    backends = ["external", "embedded"] if args.backend == "both" else [args.backend]
    labels = {"external": "Kafka + FerretDB + OpenSearch", "embedded": "embedded (SQLite)"}
    with sigterm_as_interrupt():
        for backend in backends:
            print(f"{backend}: starting the four services", file=sys.stderr)
            with Stack(backend) as stack:
                print(f"{backend}: pids {stack.pids()}, seeding", file=sys.stderr)
                seeded_s, results = asyncio.run(bench(stack, args))
                report(labels[backend], args, seeded_s, results, stack)
                sys.stdout.flush()


if __name__ == "__main__":
    main()
