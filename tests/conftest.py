"""Test-wide set-up: logs as in production (no rich tracebacks with local variables)."""

from __future__ import annotations

from shared.logging import configure_logging

configure_logging(level="info", json=False, service="test")
