"""Markdown bodies rendered once, at write time: sanitized HTML to show, plain text to search.

CommonMark with raw HTML disabled in the parser (markdown-it-py), then an allow-list
sanitizer (nh3, the Rust ammonia library) as a second line of defence: no script, no event
handlers, no style, links only to http/https/mailto (or relative), every link
`rel="nofollow noopener"`. Images are not rendered (no tracking pixels in an intranet
feed): `![alt](url)` shows as a plain link.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_REL = "nofollow noopener"
_BLOCK_END = {"paragraph_close", "heading_close", "fence", "code_block", "hr", "tr_close"}


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    return md


def render_markdown(body_md: str) -> Rendered:
    """Sanitized HTML and plain text of a Markdown body."""
    tokens = _parser().parse(body_md)
    raw_html = _parser().renderer.render(tokens, _parser().options, {})
    html = nh3.clean(
        raw_html,
        tags=set(_TAGS),
        attributes={tag: set(attrs) for tag, attrs in _ATTRIBUTES.items()},
        url_schemes=set(_URL_SCHEMES),
        link_rel=_LINK_REL,
        strip_comments=True,
    )
    return Rendered(html=html.strip(), text=_plain_text(tokens))


def _plain_text(tokens: list[Token]) -> str:
    blocks: list[str] = []
    current: list[str] = []
    for token in tokens:
        if token.type == "inline":
            current.append(_inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            current.append(token.content.rstrip("\n"))
        if token.type in _BLOCK_END or token.type in ("th_close", "td_close"):
            if token.type in ("th_close", "td_close"):
                current.append("\t")
                continue
            block = "".join(current).strip()
            if block:
                blocks.append(block)
            current = []
    tail = "".join(current).strip()
    if tail:
        blocks.append(tail)
    return "\n\n".join(blocks)


def _inline_text(children: list[Token]) -> str:
    out: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
    return "".join(out)
