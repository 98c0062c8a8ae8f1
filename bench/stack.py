"""The four services as four processes for the end-to-end benches, and a client routed to them.

`Stack` starts `canteen serve <service> --port N` for activity, profiles, search and notify
(as the compose stack runs them), waits for every `/readyz`, and stops exactly those
processes by pid (SIGTERM, then SIGKILL after a deadline) when the block ends, including on
Ctrl-C or an error. `RoutingTransport` sends each request to the service that owns its path
prefix, with the gateway's own prefix map (deploy/gateway/nginx.conf), over keep-alive
connections: the bench measures the services, not an nginx in front of them (none runs here).

External backend: the engines of var/engines/engines.env (or CANTEEN_TEST_* variables) with
a fresh database prefix and bus namespace per run; its OpenSearch indexes and databases are
dropped at the end (the shared cluster has a shard limit). Embedded: the four processes
share one CANTEEN_DATA_DIR in a temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from canteen.gateway import gateway_routes, service_for

ROOT = Path(__file__).resolve().parents[1]
ENGINES_ENV = ROOT / "var" / "engines" / "engines.env"
SERVICES = ("activity", "profiles", "search", "notify")
SECRET = "bench-dev-signing-secret-" + "s" * 16
CURSOR_SECRET = "bench-cursor-secret-" + "c" * 20
START_DEADLINE_SECONDS = 180
STOP_DEADLINE_SECONDS = 20


def engine_addresses() -> dict[str, str]:
    """kafka, mongodb, opensearch: from CANTEEN_TEST_* or var/engines/engines.env."""
    values = dict(os.environ)
    if ENGINES_ENV.exists():
        for line in ENGINES_ENV.read_text().splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                values.setdefault(name, value)
    names = {
        "kafka": "CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS",
        "mongodb": "CANTEEN_TEST_MONGODB_URI",
        "opensearch": "CANTEEN_TEST_OPENSEARCH_URL",
    }
    missing = [v for v in names.values() if not values.get(v)]
    if missing:
        raise SystemExit(
            f"external backend: {', '.join(missing)} unset and not in {ENGINES_ENV} "
            "(start the engines: bash deploy/native/engines.sh up)"
        )
    return {k: values[v] for k, v in names.items()}


def engine_pids() -> dict[str, int]:
    """Pids of the native engines (deploy/native/engines.sh pid files), those alive."""
    found = {}
    for engine in ("kafka", "ferretdb", "opensearch"):
        path = ROOT / "var" / "engines" / engine / f"{engine}.pid"
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if Path(f"/proc/{pid}").exists():
            found[engine] = pid
    return found


def free_port() -> int:
    """A loopback port nobody listens on now (bound, then released): for a server to come,
    or, left alone, for a client to find closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS from /proc/<pid>/status), KiB; 0 once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far (/proc/stat): diff two readings."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    return float(total - idle), float(total)


class NotReady(RuntimeError):
    """A service process exited while starting, or was not ready in time (logs attached)."""


def wait_ready(
    procs: Mapping[str, subprocess.Popen[bytes]],
    urls: Mapping[str, str],
    services: Iterable[str],
    *,
    tails: Callable[[], str],
    within: float = START_DEADLINE_SECONDS,
) -> None:
    """Until each service answers `/readyz` 200 (the benches, the journeys and the fault
    rig start the four services as processes, then all wait here)."""
    deadline = time.monotonic() + within
    waiting = set(services)
    last: dict[str, str] = {}
    with httpx.Client(timeout=10) as http:
        while waiting:
            for service in sorted(waiting):
                proc = procs[service]
                if proc.poll() is not None:
                    raise NotReady(
                        f"{service} exited with {proc.returncode} while starting\n{tails()}"
                    )
                try:
                    response = http.get(urls[service] + "/readyz")
                    last[service] = f"{response.status_code} {response.text[:300]}"
                    if response.status_code == 200:
                        waiting.discard(service)
                except httpx.TransportError as exc:
                    last[service] = repr(exc)
            if waiting and time.monotonic() > deadline:
                raise NotReady(f"not ready within {within:.0f}s: {last}\n{tails()}")
            if waiting:
                time.sleep(0.2)  # polling /readyz of processes that are starting


@dataclass
class Stack:
    """Four `canteen serve` processes; use as a context manager (`with Stack(...) as s`)."""

    backend: str
    rate_limit_multiplier: str = "0"
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="canteen-bench-")))
    ports: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})
    routes: dict[str, str] = field(default_factory=gateway_routes)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {s: f"http://127.0.0.1:{p}" for s, p in self.ports.items()}

    def pids(self) -> dict[str, int]:
        return {s: p.pid for s, p in self.procs.items()}

    def service_of(self, path: str) -> str:
        bare = path.split("?", 1)[0]
        return service_for(bare, self.routes)

    def log(self, service: str) -> Path:
        return self.base / f"{service}.log"

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for service in SERVICES:
            path = self.log(service)
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            out.append(f"----- {service} ({self.backend}), last {lines} lines -----")
            out.extend(text[-lines:])
        return "\n".join(out)

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANTEEN_")}
        # The services import this checkout's code, like the benchmark itself: an editable
        # install maps the packages to the checkout it was made from, so a second worktree
        # sharing that virtualenv (an old-vs-new comparison) would otherwise run the
        # first one's services.
        path = [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
        env.update(
            PYTHONPATH=os.pathsep.join(path),
            PYTHONUNBUFFERED="1",
            CANTEEN_ENV="dev",
            CANTEEN_BACKEND=self.backend,
            CANTEEN_DATA_DIR=str(self.base / "var"),
            CANTEEN_DEV_SIGNING_SECRET=SECRET,
            CANTEEN_CURSOR_SECRET=CURSOR_SECRET,
            CANTEEN_RATE_LIMIT_MULTIPLIER=self.rate_limit_multiplier,
            # As deployed: JSON logs at info (one access line per request), to a file.
            CANTEEN_LOG_FORMAT="json",
            CANTEEN_LOG_LEVEL="info",
            CANTEEN_SMTP_HOST="127.0.0.1",
            CANTEEN_SMTP_PORT=str(free_port()),  # nothing listens: email is not measured
        )
        if self.backend == "external":
            engines = engine_addresses()
            run = uuid.uuid4().hex[:10]
            env.update(
                CANTEEN_KAFKA_BOOTSTRAP_SERVERS=engines["kafka"],
                CANTEEN_MONGODB_URI=engines["mongodb"],
                CANTEEN_OPENSEARCH_URL=engines["opensearch"],
                # Own databases, index aliases, topics and consumer groups for this run.
                CANTEEN_MONGODB_DATABASE_PREFIX=f"e2ebench{run}",
                CANTEEN_BUS_NAMESPACE=f"e2ebench{run}",
            )
        return env

    def _address(self, service: str) -> list[str]:
        return ["--host", "127.0.0.1", "--port", str(self.ports[service])]

    def __enter__(self) -> Stack:
        self.env = self._environment()
        (self.base / "var").mkdir(parents=True, exist_ok=True)
        canteen = str(Path(sys.executable).parent / "canteen")
        try:
            for service in SERVICES:
                with self.log(service).open("wb") as log:
                    self.procs[service] = subprocess.Popen(
                        [canteen, "serve", service, *self._address(service)],
                        env=self.env,
                        cwd=self.base,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        preexec_fn=_die_with_parent,  # the children have no threads yet
                    )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        wait_ready(self.procs, self.urls, SERVICES, tails=self.log_tails)

    def stop(self) -> None:
        """SIGTERM each process we started (by pid), SIGKILL what outlives the deadline."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.backend == "external" and self.env:
            with contextlib.suppress(Exception):
                asyncio.run(_drop_external(self.env))
        shutil.rmtree(self.base, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the bench dies, even by SIGKILL (Linux prctl)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def _drop_external(env: dict[str, str]) -> None:
    """This run's search indexes and databases: the shared engines keep nothing of it."""
    from pymongo import AsyncMongoClient

    from services.search.backend import index_prefix, make_search_index
    from services.search.indexes import FAMILIES, Indexes
    from shared.settings import CanteenSettings

    prefix = env["CANTEEN_MONGODB_DATABASE_PREFIX"]
    settings = CanteenSettings(
        backend="external",
        opensearch_url=env["CANTEEN_OPENSEARCH_URL"],
        mongodb_database_prefix=prefix,
    )
    index = make_search_index(settings)
    indexes = Indexes(prefix=index_prefix(settings))
    try:
        for family in FAMILIES:
            await index.drop(indexes.alias(family))
    finally:
        await index.close()
    # By name: listing thousands of test databases on a busy FerretDB takes minutes.
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(env["CANTEEN_MONGODB_URI"])
    try:
        for service in SERVICES:
            await client.drop_database(settings.mongodb_database(service))
    finally:
        await client.close()


class RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the service owning its path, as the gateway would.

    One pooled transport underneath: connections are kept alive per service origin.
    """

    def __init__(self, stack: Stack, *, connections: int) -> None:
        self._stack = stack
        self._inner = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=connections * len(SERVICES),
                max_keepalive_connections=connections * len(SERVICES),
                keepalive_expiry=60,
            )
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = self._stack.ports[self._stack.service_of(request.url.path)]
        request.url = request.url.copy_with(host="127.0.0.1", port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def client(stack: Stack, *, connections: int = 64, timeout: float = 30.0) -> httpx.AsyncClient:
    """An AsyncClient whose paths go to their owning service (base URL is a placeholder)."""
    return httpx.AsyncClient(
        transport=RoutingTransport(stack, connections=connections),
        base_url="http://canteen",
        timeout=timeout,
    )


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted samples (as HdrHistogram reports it)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM to the bench unwinds like Ctrl-C, so `finally` stops the services."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
