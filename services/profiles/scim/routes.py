"""SCIM 2.0 HTTP routes under /scim/v2 (RFC 7644): Users and the discovery endpoints.

Every answer, errors included, is `application/scim+json` (see `errors.ScimRoute`). Only
provisioning tokens are accepted here; a user's JWT gets a SCIM 401.
"""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from starlette.routing import Match

from services.profiles.scim import examples
from services.profiles.scim.credentials import Credentials
from services.profiles.scim.discovery import (
    LIST_SCHEMA,
    MAX_RESULTS,
    list_response,
    resource_types,
    schemas,
    service_provider_config,
)
from services.profiles.scim.errors import (
    ScimError,
    ScimResponse,
    ScimRoute,
    error_docs,
    scim_json,
)
from services.profiles.scim.filters import parse_filter
from services.profiles.scim.mapping import to_scim
from services.profiles.scim.projection import project
from services.profiles.scim.service import ScimUsers
from shared.http.auth.principal import ADMIN_ROLE, Principal

PREFIX = "/scim/v2"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scim"'}

Paths = Annotated[str | None, Query(max_length=2000)]


def _page_bounds(start_index: Any, count: Any) -> tuple[int, int]:
    try:
        start = 1 if start_index is None else int(start_index)
        size = MAX_RESULTS if count is None else int(count)
    except (TypeError, ValueError):
        raise ScimError(400, "startIndex and count are integers", "invalidValue") from None
    return max(start, 1), min(max(size, 0), MAX_RESULTS)


def build_scim_router(users: ScimUsers, credentials: Credentials) -> APIRouter:
    router = APIRouter(
        prefix=PREFIX,
        tags=["scim"],
        route_class=ScimRoute,
        default_response_class=ScimResponse,
        responses=error_docs(),
    )

    async def scim_caller(authorization: Annotated[str | None, Header()] = None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ScimError(401, "a provisioning bearer token is required", headers=_CHALLENGE)
        credential = await credentials.verify(token.strip())
        if credential is None:
            raise ScimError(401, "invalid or revoked provisioning token", headers=_CHALLENGE)
        structlog.contextvars.bind_contextvars(scim_credential=credential["_id"])
        return Principal(user_id=f"scim:{credential['_id']}", roles=frozenset({ADMIN_ROLE}))

    Caller = Annotated[Principal, Depends(scim_caller)]

    def users_url(request: Request) -> str:
        return str(request.url_for("scim_users"))

    def base_url(request: Request) -> str:
        return users_url(request).removesuffix("/Users")

    def user_response(request: Request, doc: dict[str, Any], status: int = 200) -> Response:
        user = to_scim(doc, users_url=users_url(request))
        headers = {"Location": user["meta"]["location"]} if status == 201 else None
        return scim_json(user, status, headers)

    async def listing(
        request: Request,
        filter: str | None,
        start_index: Any,
        count: Any,
        attributes: Any,
        excluded: Any,
    ) -> Response:
        start, size = _page_bounds(start_index, count)
        query = parse_filter(filter) if filter is not None else None
        total, docs = await users.search(query, start_index=start, count=size)
        url = users_url(request)
        resources = [project(to_scim(d, users_url=url), attributes, excluded) for d in docs]
        return scim_json(
            {
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(resources),
                "Resources": resources,
            }
        )

    @router.get("/ServiceProviderConfig", responses={200: examples.answer(examples.CONFIG)})
    async def config(request: Request, caller: Caller) -> Response:
        """What this SCIM service supports."""
        return scim_json(service_provider_config(base_url(request)))

    @router.get("/Schemas", responses={200: examples.answer(examples.SCHEMAS)})
    async def all_schemas(request: Request, caller: Caller) -> Response:
        """The schemas this SCIM service serves."""
        found = schemas(base_url(request))
        return scim_json(list_response(found))

    @router.get(
        "/Schemas/{schema_id}", responses={200: examples.answer(examples.ENTERPRISE_SCHEMA)}
    )
    async def one_schema(schema_id: str, request: Request, caller: Caller) -> Response:
        """One schema by its URN."""
        for schema in schemas(base_url(request)):
            if schema["id"] == schema_id:
                return scim_json(schema)
        raise ScimError(404, f"schema {schema_id} not found")

    @router.get("/ResourceTypes", responses={200: examples.answer(examples.RESOURCE_TYPES)})
    async def all_resource_types(request: Request, caller: Caller) -> Response:
        """The resource types this SCIM service serves (User)."""
        return scim_json(list_response(resource_types(base_url(request))))

    @router.get("/ResourceTypes/{type_id}", responses={200: examples.answer(examples.USER_TYPE)})
    async def one_resource_type(type_id: str, request: Request, caller: Caller) -> Response:
        """One resource type."""
        for resource_type in resource_types(base_url(request)):
            if resource_type["id"] == type_id:
                return scim_json(resource_type)
        raise ScimError(404, f"resource type {type_id} not found")

    @router.get("/Users", name="scim_users", responses={200: examples.answer(examples.USERS)})
    async def list_users(
        request: Request,
        caller: Caller,
        filter: Annotated[str | None, Query(max_length=1000)] = None,
        startIndex: Annotated[str | None, Query(max_length=20)] = None,
        count: Annotated[str | None, Query(max_length=20)] = None,
        attributes: Paths = None,
        excludedAttributes: Paths = None,
    ) -> Response:
        """Provisioned users: `filter` (eq on userName, externalId, id, active), pages."""
        return await listing(request, filter, startIndex, count, attributes, excludedAttributes)

    @router.post("/Users/.search", responses={200: examples.answer(examples.USERS)})
    async def search_users(
        request: Request,
        caller: Caller,
        body: Annotated[
            Any, Body(openapi_examples=examples.body("Find a user by userName", examples.SEARCH))
        ] = None,
    ) -> Response:
        """The same query as GET /Users, in a SearchRequest body."""
        if not isinstance(body, dict) or SEARCH_SCHEMA not in (body.get("schemas") or []):
            raise ScimError(400, "a SearchRequest is expected", "invalidSyntax")
        filter = body.get("filter")
        if filter is not None and not isinstance(filter, str):
            raise ScimError(400, "filter is a string", "invalidFilter")
        return await listing(
            request,
            filter,
            body.get("startIndex"),
            body.get("count"),
            body.get("attributes"),
            body.get("excludedAttributes"),
        )

    @router.post(
        "/Users", status_code=201, responses={201: examples.answer(examples.USER, "Created")}
    )
    async def create_user(
        request: Request,
        caller: Caller,
        body: Annotated[
            Any, Body(openapi_examples=examples.body("A user as Okta sends it", examples.NEW_USER))
        ] = None,
    ) -> Response:
        """Provision a user (the people use cases create or adopt the person)."""
        return user_response(request, await users.create(caller, body), 201)

    @router.get("/Users/{user_id}", responses={200: examples.answer(examples.USER)})
    async def read_user(
        user_id: str,
        request: Request,
        caller: Caller,
        attributes: Paths = None,
        excludedAttributes: Paths = None,
    ) -> Response:
        """One provisioned user."""
        user = to_scim(await users.get(user_id), users_url=users_url(request))
        return scim_json(project(user, attributes, excludedAttributes))

    @router.put("/Users/{user_id}", responses={200: examples.answer(examples.USER)})
    async def replace_user(
        user_id: str,
        request: Request,
        caller: Caller,
        body: Annotated[
            Any,
            Body(
                openapi_examples=examples.body(
                    "The user's provisioned attributes", examples.NEW_USER
                )
            ),
        ] = None,
    ) -> Response:
        """Replace a user's provisioned attributes."""
        return user_response(request, await users.replace(caller, user_id, body))

    @router.patch("/Users/{user_id}", responses={200: examples.answer(examples.USER)})
    async def patch_user(
        user_id: str,
        request: Request,
        caller: Caller,
        body: Annotated[
            Any,
            Body(openapi_examples=examples.body("Change the title, deactivate", examples.PATCH)),
        ] = None,
    ) -> Response:
        """Change a user with PatchOp operations (add, replace, remove)."""
        url = users_url(request)
        patched = await users.patch(caller, user_id, body, lambda p: to_scim(p, users_url=url))
        return user_response(request, patched)

    @router.delete("/Users/{user_id}", status_code=204)
    async def delete_user(user_id: str, caller: Caller) -> Response:
        """Deprovision a user: deactivated, and no longer a SCIM resource."""
        await users.delete(caller, user_id)
        return Response(status_code=204)

    @router.post(
        "/.search",
        status_code=501,
        responses=error_docs(501, d501="Not supported (RFC 7644 §3.4.3)."),
    )
    async def search_everything(caller: Caller) -> Response:
        """Searching every resource type at once is not supported."""
        raise ScimError(501, "search /Users/.search instead")

    known = list(router.routes)

    # A fallback that only shapes errors: not an operation clients should see in OpenAPI.
    @router.api_route(
        "/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def elsewhere(request: Request, caller: Caller) -> Response:
        """Unknown SCIM paths (404) and methods (405), as SCIM errors."""
        for route in known:
            match, _ = route.matches(request.scope)
            if match is Match.PARTIAL:
                raise ScimError(405, f"{request.method} is not allowed here")
        raise ScimError(404, f"{request.url.path} not found")

    return router
