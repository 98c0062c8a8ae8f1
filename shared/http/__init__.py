"""The HTTP kit every Canteen service builds its app with."""

from shared.http.app import Lifespan, combine_lifespans, create_app
from shared.http.auth import ADMIN_ROLE, AdminDep, Principal, PrincipalDep
from shared.http.config import AuthConfig, HttpConfig
from shared.http.context import request_id_of
from shared.http.health import Readiness, ReadinessCheck, get_readiness
from shared.http.metrics import get_metrics_registry
from shared.http.pagination import (
    CursorCodec,
    InvalidCursor,
    Page,
    PageDep,
    PageParams,
    page_params,
)
from shared.http.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Problem,
    Unauthorized,
    Unprocessable,
    problem_type,
)

__all__ = [
    "ADMIN_ROLE",
    "AdminDep",
    "AuthConfig",
    "BadRequest",
    "Conflict",
    "CursorCodec",
    "Forbidden",
    "HttpConfig",
    "InvalidCursor",
    "Lifespan",
    "NotFound",
    "Page",
    "PageDep",
    "PageParams",
    "PreconditionFailed",
    "Principal",
    "PrincipalDep",
    "Problem",
    "Readiness",
    "ReadinessCheck",
    "Unauthorized",
    "Unprocessable",
    "combine_lifespans",
    "create_app",
    "get_metrics_registry",
    "get_readiness",
    "page_params",
    "problem_type",
    "request_id_of",
]
