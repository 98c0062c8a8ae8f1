"""Who is calling: the verified identity a route receives."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    roles: frozenset[str] = frozenset()
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles
