"""The `PushProvider` port: hand one encrypted message to a device's push service.

Web Push is the only adapter today (`WebPushProvider`); FCM or APNs adapters would take a
device's token instead of an endpoint and keys, behind the same `send`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Outcome(Enum):
    DELIVERED = "delivered"
    GONE = "gone"  # 404/410: the subscription is dead, prune the device
    RETRY = "retry"  # 429, 5xx, network: try again later
    # 413: this message is too large for the push service. The subscription is fine: keep
    # the device, and do not send the same payload again.
    REFUSED = "refused"


@dataclass(frozen=True)
class PushResult:
    outcome: Outcome
    status: int | None = None
    detail: str = ""


class PushProvider(ABC):
    @property
    @abstractmethod
    def public_key(self) -> str:
        """The application server key clients subscribe with (base64url)."""

    @abstractmethod
    async def send(self, device: dict[str, Any], payload: bytes, *, ttl: int) -> PushResult:
        """Deliver `payload` to `device` (a `devices` document)."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections."""
