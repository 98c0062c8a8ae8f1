"""Helpers of the HTTP kit tests: keys, a real JWKS server, tokens and a demo app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import structlog
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter, FastAPI, Response
from pydantic import BaseModel, Field

from shared.http import (
    AdminDep,
    AuthConfig,
    Conflict,
    HttpConfig,
    Lifespan,
    Page,
    PageDep,
    PrincipalDep,
    ReadinessCheck,
    create_app,
    problem_type,
)

ISSUER = "https://id.canteen.test"
AUDIENCE = "canteen-api"
CURSOR_SECRET = "cursor-secret-for-tests-0123456789abcdef"
DEV_SECRET = "dev-secret-for-tests-0123456789abcdef-xyz"
MAX_BODY = 1024
ALLOWED_ORIGIN = "https://intranet.canteen.test"


# --- keys and the JWKS server -------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Any
    algorithm: str

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algo = (
            jwt.algorithms.RSAAlgorithm if self.algorithm == "RS256" else jwt.algorithms.ECAlgorithm
        )
        data: dict[str, Any] = algo.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.algorithm}


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS that tests can rotate."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.fetches = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.fetches += 1
                    status, body = owner.status, json.dumps(owner.document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown() (and so each test teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/.well-known/jwks.json"

    def serve(self, *keys: SigningKey, extra: Sequence[dict[str, Any]] = ()) -> None:
        with self._lock:
            self.document = {"keys": [k.jwk() for k in keys] + list(extra)}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- tokens ---------------------------------------------------------------------------


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "roles": [],
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: SigningKey, kid: str | None = None, **overrides: Any) -> str:
    return jwt.encode(
        claims(**overrides), key.private, algorithm=key.algorithm, headers={"kid": kid or key.kid}
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """Tokens PyJWT refuses to make: alg=none, HMAC keyed with a public key."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the demo service -----------------------------------------------------------------


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    priority: int


class Note(BaseModel):
    title: str
    priority: int
    author: str


class Item(BaseModel):
    id: str
    created_at: datetime


ITEM_EPOCH = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ITEMS = [Item(id=f"item-{i}", created_at=ITEM_EPOCH + timedelta(minutes=i)) for i in range(25)]


def _item_cursor(item: Item) -> dict[str, Any]:
    return {"created_at": item.created_at, "id": item.id}


@dataclass
class Demo:
    written: list[Note] = field(default_factory=list)


def demo_router(demo: Demo) -> APIRouter:
    router = APIRouter(prefix="/api/v1/demo")

    @router.post("/notes", status_code=201)
    async def create_note(body: NoteIn, principal: PrincipalDep) -> Note:
        if any(n.title == body.title for n in demo.written):
            raise Conflict(
                f"a note titled {body.title!r} exists",
                type=problem_type("duplicate-note"),
                extensions={"existing_title": body.title},
            )
        note = Note(title=body.title, priority=body.priority, author=principal.user_id)
        demo.written.append(note)
        return note

    @router.get("/items")
    async def list_items(page: PageDep) -> Page[Item]:
        after = page.after
        rows = ITEMS
        if after is not None:
            key = (after["created_at"], after["id"])
            rows = [i for i in ITEMS if (i.created_at, i.id) > key]
        return page.page(
            rows[: page.fetch_limit], lambda i: {"created_at": i.created_at, "id": i.id}
        )

    @router.get("/admin")
    async def admin_only(admin: AdminDep) -> dict[str, str]:
        return {"admin": admin.user_id}

    @router.get("/me")
    async def me(principal: PrincipalDep) -> dict[str, Any]:
        return {"user_id": principal.user_id, "roles": sorted(principal.roles)}

    @router.get("/context")
    async def context() -> dict[str, Any]:
        return dict(structlog.contextvars.get_contextvars())

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("db at mongodb://admin:hunter2@10.0.0.5 exploded")

    @router.get("/cached")
    async def cached() -> Response:
        return Response(
            b"{}", media_type="application/json", headers={"Cache-Control": "private, max-age=0"}
        )

    @router.get("/big")
    async def big() -> dict[str, list[str]]:
        return {"words": ["canteen"] * 2000}

    return router


def make_config(jwks_url: str | None = None, **overrides: Any) -> HttpConfig:
    """A test config; `auth_<field>=` overrides reach AuthConfig, the rest HttpConfig."""
    auth_fields: dict[str, Any] = {"jwks_min_refresh_seconds": 0}
    auth_fields.update({k[5:]: overrides.pop(k) for k in list(overrides) if k.startswith("auth_")})
    fields: dict[str, Any] = {
        "service": "demo",
        "cursor_secret": CURSOR_SECRET,
        "cors_origins": [ALLOWED_ORIGIN],
        "max_body_bytes": MAX_BODY,
    }
    fields.update(overrides)
    auth = AuthConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url, **auth_fields)
    return HttpConfig(auth=auth, **fields)


def make_app(
    config: HttpConfig,
    demo: Demo | None = None,
    *,
    lifespan: Lifespan | None = None,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    return create_app(
        config,
        title="demo",
        version="0.0.1",
        routers=[demo_router(demo or Demo())],
        lifespan=lifespan,
        readiness=readiness,
    )


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as client,
    ):
        yield client
