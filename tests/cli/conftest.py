"""The admin commands read CANTEEN_* variables: export a test's settings before invoking them.

Commands run in-process through Typer's CliRunner (each one `asyncio.run`s its own loop, so
tests that invoke them are plain functions), on the `settings` of tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from canteen.cli import app
from shared.settings import CanteenSettings

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def keep_the_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands configure logging for a terminal; in-process that would replace the
    suite's configuration (and the processor list loggers cached on first use), and every
    later test that captures logs would see nothing."""
    import shared.logging

    monkeypatch.setattr(shared.logging, "configure_logging", lambda **_: None)


def settings_env(settings: CanteenSettings) -> dict[str, str]:
    """The environment that makes `load_settings()` return these settings."""
    env = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"CANTEEN_{name.upper()}"] = str(value)
    return env


@pytest.fixture
def cli_env(settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = settings_env(settings)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables: room for whole ids
    if settings.backend == "embedded":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return env


@pytest.fixture
def invoke(cli_env: dict[str, str]) -> Invoke:
    """`invoke("admin", "check")` -> the Result (stdout and stderr kept apart)."""
    runner = CliRunner()

    def _invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return _invoke
