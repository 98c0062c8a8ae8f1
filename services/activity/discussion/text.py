"""The body of an answer or a comment, rendered like a post's: Markdown, safe HTML, text.

Rendering and @handle extraction are the posts feature's (one renderer for every body);
handles are resolved to user ids by the service (that needs the directory, an I/O).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.activity.posts.domain import extract_handles
from services.activity.posts.render import render_markdown


@dataclass(frozen=True)
class Body:
    md: str
    html: str
    text: str
    handles: list[str]


def render(source: str) -> Body:
    """`source` (already stripped and checked) as stored and served."""
    rendered = render_markdown(source)
    return Body(
        md=source, html=rendered.html, text=rendered.text, handles=extract_handles(rendered.text)
    )
