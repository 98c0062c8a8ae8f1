"""`canteen admin check`: a readiness table, and a non-zero exit when a backend is down."""

from __future__ import annotations

import pytest

from bench.stack import free_port
from shared.settings import CanteenSettings
from tests.cli.conftest import Invoke

COMPONENTS = ("activity store", "profiles store", "search store", "notify store", "event bus")


def test_every_backend_answers(settings: CanteenSettings, invoke: Invoke) -> None:
    result = invoke("admin", "check")
    assert result.exit_code == 0, result.output
    for component in (*COMPONENTS, "search index"):
        row = next(line for line in result.stderr.splitlines() if component in line)
        assert " up " in row, row
    assert "all 6 backends answer" in result.stderr


@pytest.mark.parametrize(
    "settings", [pytest.param("external", marks=pytest.mark.engines)], indirect=True
)
def test_a_down_engine_fails_the_check(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANTEEN_MONGODB_URI", f"mongodb://127.0.0.1:{free_port()}/")
    result = invoke("admin", "check", "--timeout", "2")
    assert result.exit_code == 1
    rows = {c: next(x for x in result.stderr.splitlines() if c in x) for c in COMPONENTS}
    for store in ("activity store", "profiles store", "search store", "notify store"):
        assert "DOWN" in rows[store], rows[store]
    assert " up " in rows["event bus"]  # Kafka itself is fine
    assert "4 down" in result.stderr


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_a_missing_data_dir_fails_the_check(
    settings: CanteenSettings, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANTEEN_DATA_DIR", str(settings.data_dir / "nowhere"))
    result = invoke("admin", "check")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert not (settings.data_dir / "nowhere").exists()  # checking created nothing
