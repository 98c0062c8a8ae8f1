"""What a notification may say outside the app (pure): private content never leaves.

Email and push both render from here. A notification that came from a private group is
shown by its type alone ("New mention in a private group"), whatever its title or summary
say, so nothing confidential reaches an inbox or a lock screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRIVATE_TEXT = {
    "answer.created": "New answer in a private group",
    "answer.accepted": "Your answer was accepted in a private group",
    "comment.created": "New comment in a private group",
    "comment.replied": "New reply in a private group",
    "mention": "New mention in a private group",
    "reaction": "New reaction in a private group",
    "group.invited": "New invitation to a private group",
    "group.join_requested": "New request to join a private group",
    "group.approved": "You were approved in a private group",
    "question.expert_needed": "Someone may need your help in a private group",
    "announcement": "New announcement in a private group",
}
PRIVATE_FALLBACK = "New activity in a private group"


@dataclass(frozen=True)
class SafeText:
    title: str
    body: str
    link: str


def safe_text(notification: Mapping[str, Any], base_url: str) -> SafeText:
    """Title, body and link fit for an email subject or a lock screen."""
    inbox = f"{base_url.rstrip('/')}/notifications"
    if notification.get("private"):
        text = PRIVATE_TEXT.get(str(notification.get("type")), PRIVATE_FALLBACK)
        return SafeText(title=text, body=text, link=inbox)
    title = str(notification.get("title") or notification.get("summary") or "New notification")
    body = str(notification.get("summary") or title)
    link = str(notification.get("link") or inbox)
    if link.startswith("/"):
        link = base_url.rstrip("/") + link
    return SafeText(title=title, body=body, link=link)
