"""Activity events: social (see the package docstring)."""

from __future__ import annotations
