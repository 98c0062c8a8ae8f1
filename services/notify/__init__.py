"""Notify: in-app notifications with a realtime stream, preferences, email digests, Web Push.

Read top-down: `routes.py` (HTTP, thin) -> `domain/` (rules, no I/O) -> persistence through
the DocumentStore port -> `handlers.py` (events it consumes) -> `bootstrap.py` (composition root).
"""
