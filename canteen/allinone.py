"""All four services in one process (`make run`): their routers on one port, their
consumers and outbox relays as background tasks, each with its own store and bus client.

They still meet only on the event bus: nothing here hands one service another's objects.
"""

from __future__ import annotations

import gc
from importlib import import_module

from fastapi import FastAPI

from shared.composition import ServiceBuilder, compose_app
from shared.settings import CanteenSettings

SERVICES = ("activity", "profiles", "search", "notify")


def service_builder(name: str) -> ServiceBuilder:
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    build: ServiceBuilder = import_module(f"services.{name}.bootstrap").build
    return build


def create_all_in_one(settings: CanteenSettings) -> FastAPI:
    builders = [service_builder(name) for name in SERVICES]
    return compose_app(settings, "canteen", builders, title="Canteen")


def create_single(settings: CanteenSettings, name: str) -> FastAPI:
    return compose_app(settings, name, [service_builder(name)], title=f"Canteen {name}")


def freeze_startup_heap() -> None:
    """Exempt what start-up built (modules, routes, schemas) from garbage collection.

    A full collection walks every object in the process: ~100 ms for a service's
    start-up heap, during which no request is answered (it was the p99 of a feed
    benchmark). Frozen objects are never scanned; what requests allocate still is.
    Once per server process, after the app is built (not in tests: they build many).
    """
    gc.collect()
    gc.freeze()
