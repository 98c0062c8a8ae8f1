"""What the fault tests break: a private set of engines and the four services as processes.

`PrivateEngines` runs deploy/native/engines.sh with its own data folder and ports, so a test
can stop Kafka, FerretDB or OpenSearch without touching the engines the rest of the suite
shares; Kafka keeps its log across a restart (CANTEEN_ENGINES_KAFKA_KEEP_LOG=1), as a real
broker does. `Fleet` runs `canteen serve <service>` for activity, profiles, search and
notify on those engines, and can SIGKILL, restart, SIGSTOP and SIGCONT each one.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.stack import free_port, vm_rss_kib, wait_ready
from canteen.gateway import gateway_routes, service_for

ROOT = Path(__file__).resolve().parents[2]
ENGINES_SCRIPT = ROOT / "deploy" / "native" / "engines.sh"
SERVICES = ("activity", "profiles", "search", "notify")
ENGINES = ("kafka", "ferretdb", "opensearch")
START_DEADLINE_SECONDS = 180
STOP_DEADLINE_SECONDS = 20
ENGINE_DEADLINE_SECONDS = 300
LOG_TAIL_LINES = 60
CANTEEN = str(Path(sys.executable).parent / "canteen")  # the venv's command
ALARMS = ("[warning", "[error", "[critical")
DEV_SECRET = "reliability-dev-signing-secret-" + "r" * 16
CURSOR_SECRET = "reliability-cursor-secret-" + "c" * 16


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out as a connection's source port."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _free_block(start: int, width: int, stop: int = 60_000, step: int = 211) -> int:
    """A port p with p..p+width-1 all free (the engines take neighbouring ports)."""
    for base in range(start, stop, step):
        if all(_free(base + i) for i in range(width)):
            return base
    raise RuntimeError(f"no {width} free neighbouring ports from {start}")


@dataclass
class PrivateEngines:
    """Kafka, FerretDB and OpenSearch of this test only, on ports nobody else uses."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A random start: a port is free again while its engine is stopped on purpose, and
        # a second rig on the machine picking from the same start could take it meanwhile.
        # Below the kernel's ephemeral range: while an engine is stopped, the services'
        # reconnects use ephemeral source ports, and one landing on the engine's own port
        # (a TCP self-connect) keeps the engine from binding it again (seen once: Kafka's).
        floor = _ephemeral_floor() - 400  # OpenSearch's transport takes up to base + 202
        base = random.randrange(10_000, floor)
        kafka = _free_block(base, 2, stop=floor)
        ferretdb = _free_block(base + 2, 1, stop=floor)
        opensearch = _free_block(base + 3, 2, stop=floor)  # http; transport: +100..+199
        self.env = {
            "CANTEEN_ENGINES_VAR": str(self.folder),
            "CANTEEN_ENGINES_KAFKA_PORT": str(kafka),
            "CANTEEN_ENGINES_FERRETDB_PORT": str(ferretdb),
            "CANTEEN_ENGINES_OPENSEARCH_PORT": str(opensearch),
            "CANTEEN_ENGINES_OPENSEARCH_CLUSTER": f"canteen-faults-{opensearch}",
            "CANTEEN_ENGINES_KAFKA_KEEP_LOG": "1",
        }
        self.addresses = {
            "kafka": f"127.0.0.1:{kafka}",
            "mongodb": f"mongodb://127.0.0.1:{ferretdb}/",
            "opensearch": f"http://127.0.0.1:{opensearch}",
        }

    def _run(self, command: str, *engines: str) -> None:
        env = {**os.environ, **self.env}
        result = subprocess.run(
            ["bash", str(ENGINES_SCRIPT), command, *engines],
            env=env,
            capture_output=True,
            text=True,
            timeout=ENGINE_DEADLINE_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"engines.sh {command} {' '.join(engines)} failed ({result.returncode}):\n"
                + result.stderr[-4000:]
            )

    def up(self, *engines: str) -> None:
        self._run("up", *(engines or ENGINES))

    def down(self, *engines: str) -> None:
        self._run("down", *(engines or ENGINES))


@dataclass
class Fleet:
    """The four services as `canteen serve` processes on the private engines."""

    folder: Path
    engines: PrivateEngines
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = {service: free_port() for service in SERVICES}
        self.urls = {s: f"http://127.0.0.1:{p}" for s, p in self.ports.items()}
        self.routes = gateway_routes()
        self.logs = {s: self.folder / f"{s}.log" for s in SERVICES}
        addresses = self.engines.addresses
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CANTEEN_")}
        self.env.update(
            PYTHONUNBUFFERED="1",
            CANTEEN_ENV="dev",
            CANTEEN_BACKEND="external",
            CANTEEN_DATA_DIR=str(self.folder / "var"),
            CANTEEN_DEV_SIGNING_SECRET=DEV_SECRET,
            CANTEEN_CURSOR_SECRET=CURSOR_SECRET,
            CANTEEN_OUTBOX_POLL_SECONDS="0.05",
            CANTEEN_LOG_FORMAT="console",
            # A few people write a lot here: the per-person write limits are not under test.
            CANTEEN_RATE_LIMIT_MULTIPLIER="0",
            # One aggregation bucket for the whole run (buckets are fixed hours otherwise, so
            # a run across an hour would split a post's reactions into two groups).
            CANTEEN_NOTIFY_AGGREGATION_WINDOW_SECONDS=str(1_000_000_000),
            CANTEEN_KAFKA_BOOTSTRAP_SERVERS=addresses["kafka"],
            CANTEEN_MONGODB_URI=addresses["mongodb"],
            CANTEEN_OPENSEARCH_URL=addresses["opensearch"],
            CANTEEN_MONGODB_DATABASE_PREFIX=f"f{uuid.uuid4().hex[:10]}",
            CANTEEN_BUS_NAMESPACE=f"f{uuid.uuid4().hex[:10]}",
        )

    def url(self, path: str) -> str:
        return self.urls[service_for(path, self.routes)] + path

    def start(self, service: str) -> None:
        log = self.logs[service].open("ab")
        self.procs[service] = subprocess.Popen(
            [
                CANTEEN,
                "serve",
                service,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[service]),
            ],
            env=self.env,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)
        self.wait_ready(*SERVICES)

    def wait_ready(self, *services: str) -> None:
        """Until each answers /readyz 200 (polling processes that are starting)."""
        wait_ready(
            self.procs, self.urls, services, tails=self.log_tails, within=START_DEADLINE_SECONDS
        )

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        proc = self.procs[service]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def restart(self, service: str) -> None:
        self.restarts[service] = self.restarts.get(service, 0) + 1
        self.start(service)

    def pause(self, service: str) -> None:
        self.procs[service].send_signal(signal.SIGSTOP)

    def resume(self, service: str) -> None:
        self.procs[service].send_signal(signal.SIGCONT)

    def stop_all(self) -> dict[str, int | None]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for service, proc in self.procs.items():
            try:
                codes[service] = proc.wait(STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[service] = proc.wait()
        return codes

    def rss_kib(self) -> dict[str, int]:
        return {service: vm_rss_kib(proc.pid) for service, proc in self.procs.items()}

    def log_tails(self) -> str:
        """Each service's last warnings and errors (request lines drown them in a plain
        tail), then its last lines, and the pending dead letters."""
        out = []
        for service, path in self.logs.items():
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            alarms = [line for line in lines if any(level in line for level in ALARMS)]
            out.append(f"----- {service}, last {LOG_TAIL_LINES} warnings and errors -----")
            out.extend(alarms[-LOG_TAIL_LINES:])
            out.append(f"----- {service}, last {LOG_TAIL_LINES} lines -----")
            out.extend(lines[-LOG_TAIL_LINES:])
        out.append("----- dead letters -----")
        out.append(self.dead_letters())
        return "\n".join(out)

    def dead_letters(self) -> str:
        """`canteen admin dlq list` against the private engines: pending counts per topic."""
        try:
            done = subprocess.run(
                [CANTEEN, "admin", "dlq", "list"],
                env=self.env,
                cwd=self.folder,
                capture_output=True,
                text=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            return "dlq list timed out"
        return (done.stdout + done.stderr).strip()
