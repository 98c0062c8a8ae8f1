"""What every `canteen` command shares: the stderr console, settings, running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from shared.settings import CanteenSettings

T = TypeVar("T")

# Messages and tables go to stderr; stdout carries only what a script captures (a token).
console = Console(stderr=True)


def load_cli_settings(service: str = "canteen") -> CanteenSettings:
    """Settings from the environment, or exit 2 with each invalid variable named."""
    from pydantic import ValidationError

    from shared.logging import configure_logging
    from shared.settings import load_settings

    try:
        settings = load_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            console.print(f"[red]invalid configuration[/red] {field}: {error['msg']}")
        raise typer.Exit(2) from None
    configure_logging(level=settings.log_level, json=settings.json_logs, service=service)
    return settings


def quiet_settings() -> CanteenSettings:
    """Settings for an admin command: its own logs only at warning and above.

    An operator reads the command's table; info lines from the adapters it opens would
    bury it.
    """
    from shared.logging import configure_logging

    settings = load_cli_settings()
    level = "warning" if settings.log_level in ("debug", "info") else settings.log_level
    configure_logging(level=level, json=settings.json_logs, service="canteen-admin")
    return settings


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run an admin command's work; an unreachable backend is a message and exit 1, not
    a traceback (the operator's next step is to start it or fix its address)."""
    from aiokafka.errors import KafkaConnectionError

    from shared.unavailable import DependencyUnavailable

    try:
        return asyncio.run(coro)
    except (KafkaConnectionError, DependencyUnavailable) as exc:
        raise fail(f"a backend is unreachable: {exc}", code=1) from None


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` and return the Exit to raise (`raise fail(...)`)."""
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)
