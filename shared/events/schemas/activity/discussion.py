"""Activity events: discussion (see the package docstring)."""

from __future__ import annotations
