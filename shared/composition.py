"""Compose one FastAPI app from one or more services (the single-service and all-in-one roots).

Each service contributes `ServiceParts`: its runtime (store, bus, relay, consumers) and its
routers. The app's lifespan starts every runtime before serving and stops them in reverse
order after, so Ctrl-C finishes in-flight work and commits offsets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI

from shared.bus.metrics import BusMetrics
from shared.collector import tuned_collector
from shared.http import AuthConfig, HttpConfig, ReadinessCheck, create_app
from shared.http.auth.deps import PrincipalGate
from shared.http.auth.principal import Principal
from shared.http.front import FrontRoute
from shared.http.metrics import new_registry
from shared.http.openapi import install_problem_docs
from shared.service import ServiceRuntime
from shared.settings import CanteenSettings, dev_secret

VERSION = "0.1.0"


@dataclass
class ServiceParts:
    runtime: ServiceRuntime
    routers: list[APIRouter] = field(default_factory=list)
    # Answers the service keeps, given before routing (shared/http/front.py).
    fronts: list[FrontRoute] = field(default_factory=list)
    # Refuses principals the service knows to be gone (shared/deactivation.py).
    principal_gate: PrincipalGate | None = None


@dataclass(frozen=True)
class AllGates:
    """Every service's gate must allow: in one process, any of them may know first."""

    gates: Sequence[PrincipalGate]

    async def allows(self, principal: Principal) -> bool:
        for gate in self.gates:
            if not await gate.allows(principal):
                return False
        return True


def http_config(settings: CanteenSettings, service: str) -> HttpConfig:
    """Map settings to the HTTP kit's plain config; dev mode gets per-machine dev secrets."""
    signing = settings.dev_signing_secret
    cursor = settings.cursor_secret
    dev_signing = None
    if settings.dev_mode:
        dev_signing = signing.get_secret_value() if signing else None
        if dev_signing is None and settings.jwks_url is None:
            dev_signing = dev_secret(settings, "dev-signing")
    cursor_value = cursor.get_secret_value() if cursor else dev_secret(settings, "cursor")
    return HttpConfig(
        service=service,
        dev_mode=settings.dev_mode,
        auth=AuthConfig(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=settings.jwks_url,
            dev_signing_secret=dev_signing,
        ),
        cursor_secret=cursor_value,
        cors_origins=settings.cors_origins,
        max_body_bytes=settings.max_body_bytes,
        rate_limit_multiplier=settings.rate_limit_multiplier,
    )


ServiceBuilder = Callable[[CanteenSettings, BusMetrics], ServiceParts]


def compose_app(
    settings: CanteenSettings, name: str, builders: Sequence[ServiceBuilder], *, title: str
) -> FastAPI:
    """One app serving the built services' routers and running their runtimes in its lifespan.

    The process has one metrics registry: HTTP and bus metrics of every service in it are
    served together on /metrics (bus series are labelled by group and topic).
    """
    registry = new_registry()
    bus_metrics = BusMetrics(registry)
    parts = [build(settings, bus_metrics) for build in builders]
    runtimes = [p.runtime for p in parts]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[ServiceRuntime] = []
        if settings.backend == "embedded":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for runtime in runtimes:
                await runtime.start()
                started.append(runtime)
            with tuned_collector(settings.gc_young_threshold):
                yield
        finally:
            for runtime in reversed(started):
                await runtime.stop()

    readiness = [
        check
        for r in runtimes
        for check in (
            ReadinessCheck(f"{r.name}.store", r.check_store),
            ReadinessCheck(f"{r.name}.bus", r.check_bus),
        )
    ]
    app = create_app(
        http_config(settings, name),
        title=title,
        version=VERSION,
        routers=[router for p in parts for router in p.routers],
        lifespan=lifespan,
        readiness=readiness,
        metrics_registry=registry,
        fronts=[front for p in parts for front in p.fronts],
    )
    install_problem_docs(app)
    gates = [p.principal_gate for p in parts if p.principal_gate is not None]
    if gates:
        app.state.principal_gate = gates[0] if len(gates) == 1 else AllGates(gates)
    return app
