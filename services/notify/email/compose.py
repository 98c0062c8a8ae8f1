"""MIME messages from Jinja2 templates: HTML and plain-text parts, RFC 8058 headers.

HTML templates autoescape (titles and summaries are user text); plain-text templates do
not, since escaping would corrupt them. Every message carries a one-click unsubscribe
link signed for its recipient and kind, except critical ones (announcements): preferences
cannot turn those off, so a link that claims to would lie.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notify.email import tokens
from services.notify.email.content import SafeText, safe_text
from services.notify.preferences.domain import is_critical

TEMPLATES = Path(__file__).parent / "templates"
UNSUBSCRIBE_PATH = "/api/v1/notifications/unsubscribe"


@dataclass(frozen=True)
class DigestContent:
    frequency: str  # daily | weekly
    notifications: Sequence[SafeText]
    unread_total: int
    posts: Sequence[Mapping[str, Any]]
    questions: Sequence[Mapping[str, Any]]

    @property
    def empty(self) -> bool:
        return not (self.notifications or self.posts or self.questions)


class Composer:
    def __init__(self, *, base_url: str, sender: str, secret: str) -> None:
        self._base = base_url.rstrip("/")
        self._sender = sender
        self._secret = secret
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(
                enabled_extensions=("html",), disabled_extensions=("txt",)
            ),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def unsubscribe_url(self, user_id: str, kind: str) -> str:
        token = tokens.sign(self._secret, user_id, kind)
        return f"{self._base}{UNSUBSCRIBE_PATH}?token={quote(token)}"

    def immediate(
        self, notification: Mapping[str, Any], *, to: str, message_id: str
    ) -> EmailMessage:
        text = safe_text(notification, self._base)
        kind = str(notification.get("type") or "notification")
        unsubscribe = (
            None
            if is_critical(notification)
            else self.unsubscribe_url(str(notification["recipient_id"]), kind)
        )
        values = {"text": text, "unsubscribe_url": unsubscribe}
        return self._message(
            "immediate",
            values,
            subject=text.title,
            to=to,
            unsubscribe=unsubscribe,
            msgid=message_id,
        )

    def digest(
        self, user_id: str, content: DigestContent, *, to: str, message_id: str
    ) -> EmailMessage:
        subject = f"Your {content.frequency} Canteen digest"
        unsubscribe = self.unsubscribe_url(user_id, tokens.DIGEST)
        values = {
            "subject": subject,
            "frequency": content.frequency,
            "notifications": content.notifications,
            "unread_total": content.unread_total,
            "posts": [self._linked(p) for p in content.posts],
            "questions": [self._linked(q) for q in content.questions],
            "inbox_url": f"{self._base}/notifications",
            "unsubscribe_url": unsubscribe,
        }
        return self._message(
            "digest", values, subject=subject, to=to, unsubscribe=unsubscribe, msgid=message_id
        )

    def page(self, *, what: str, action: str, done: bool) -> str:
        return self._env.get_template("unsubscribe.html").render(
            what=what, action=action, done=done
        )

    def _linked(self, post: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "title": post.get("title") or "Untitled",
            "topics": post.get("topics") or [],
            "link": f"{self._base}/posts/{post['_id']}",
        }

    def _message(
        self,
        template: str,
        values: Mapping[str, Any],
        *,
        subject: str,
        to: str,
        unsubscribe: str | None,
        msgid: str,
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = msgid
        msg["Date"] = format_datetime(datetime.now(UTC))
        if unsubscribe is not None:
            # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to the https link.
            msg["List-Unsubscribe"] = f"<{unsubscribe}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(self._env.get_template(f"{template}.txt").render(**values))
        msg.add_alternative(
            self._env.get_template(f"{template}.html").render(**values), subtype="html"
        )
        return msg


def message_id(key: str, domain: str = "canteen.local") -> str:
    """A stable Message-ID: a resend after a crash is recognisable as the same mail."""
    safe = "".join(c if c.isalnum() else "-" for c in key)
    return f"<{safe}@{domain}>"
