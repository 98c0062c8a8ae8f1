"""The `canteen` command line refuses bad configuration clearly and keeps the docs current."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from canteen.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_unsafe_configuration_stops_with_the_variable_named(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANTEEN_ENV", "prod")
    monkeypatch.delenv("CANTEEN_JWKS_URL", raising=False)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "CANTEEN_JWKS_URL" in result.output


def test_unknown_service_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["serve", "billing"])
    assert result.exit_code == 2
    assert "unknown service" in result.output


def test_asyncapi_check_passes_on_the_committed_document(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["asyncapi", "--output", str(ROOT / "docs/asyncapi.yaml"), "--check"]
    )
    assert result.exit_code == 0, result.output


def test_asyncapi_check_fails_on_a_stale_document(runner: CliRunner, tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text("asyncapi: 3.0.0\n")
    result = runner.invoke(app, ["asyncapi", "--output", str(stale), "--check"])
    assert result.exit_code == 1
