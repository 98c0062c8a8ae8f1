"""OpenAPI examples of the unsubscribe routes (HTML pages for a mail client's browser)."""

TOKEN = "YW5hOmFuc3dlci5jcmVhdGVk.Zk3x9Q2bTqg1XvA8mJc0pN7rYs4"  # noqa: S105 - an example
CONFIRM_PAGE = (
    '<!doctype html><html lang="en"><body><h1>Unsubscribe</h1>'
    "<p>Turn off immediate email about “answer.created” notifications?</p>"
    f'<form method="post" action="?token={TOKEN}"><button>Unsubscribe</button></form>'
    "</body></html>"
)
DONE_PAGE = (
    '<!doctype html><html lang="en"><body><h1>Unsubscribed</h1>'
    "<p>Immediate email about “answer.created” notifications is off.</p></body></html>"
)


def page(html: str) -> dict[str, object]:
    return {"content": {"text/html": {"example": html}}}
