"""Profiles: people directory, SCIM provisioning, skills, endorsements, inferred expertise.

Read top-down: `routes.py` (HTTP, thin) -> `domain/` (rules, no I/O) -> persistence through
the DocumentStore port -> `handlers.py` (events it consumes) -> `bootstrap.py` (composition root).
"""
