"""All four services in one process (`make run`): their routers on one port, their
consumers and outbox relays as background tasks, each with its own store and bus client.

They still meet only on the event bus: nothing here hands one service another's objects.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from fastapi import FastAPI

from shared.composition import ServiceParts, compose_app
from shared.settings import CanteenSettings

SERVICES = ("activity", "profiles", "search", "notify")


def service_builder(name: str) -> Callable[[CanteenSettings], ServiceParts]:
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    module = import_module(f"services.{name}.bootstrap")
    build: Callable[[CanteenSettings], ServiceParts] = module.build
    return build


def create_all_in_one(settings: CanteenSettings) -> FastAPI:
    parts = [service_builder(name)(settings) for name in SERVICES]
    return compose_app(settings, "canteen", parts, title="Canteen")


def create_single(settings: CanteenSettings, name: str) -> FastAPI:
    return compose_app(settings, name, [service_builder(name)(settings)], title=f"Canteen {name}")
