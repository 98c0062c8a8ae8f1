"""The OpenAPI documents the services serve are valid OpenAPI (openapi-spec-validator).

Every service alone and the all-in-one app: what a client generator or a gateway reads
from `/openapi.json` must load without errors, and every route documents its problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from canteen.allinone import SERVICES, create_all_in_one, create_single
from shared.settings import CanteenSettings
from tests.conftest import login_with, serve

PROBLEM = "application/problem+json"
SCIM = "application/scim+json"


def dev_settings(tmp_path: Path) -> CanteenSettings:
    return CanteenSettings(env="dev", backend="embedded", data_dir=tmp_path / "var")


@pytest.mark.parametrize("service", [*SERVICES, "all-in-one"])
def test_the_served_openapi_document_is_valid(service: str, tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    app = (
        create_all_in_one(settings) if service == "all-in-one" else create_single(settings, service)
    )
    spec: dict[str, Any] = app.openapi()
    validate(spec)  # raises with the JSON path of the first error
    api_paths = [p for p in spec["paths"] if p.startswith("/api/v1/")]
    assert api_paths, "the service documents no API route"


def test_every_error_is_documented_as_problem_json(tmp_path: Path) -> None:
    spec = create_all_in_one(dev_settings(tmp_path)).openapi()
    assert "HTTPValidationError" not in str(spec), "FastAPI's 422 shape is never sent"
    wrong: list[str] = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            if not operation.get("description"):
                wrong.append(f"{method.upper()} {path}: no description")
            for code, response in operation["responses"].items():
                # SCIM answers RFC 7644 errors (application/scim+json), and documents them.
                expected = SCIM if path.startswith("/scim/") and code != "413" else PROBLEM
                if code.startswith("4") and expected not in response.get("content", {}):
                    wrong.append(f"{method.upper()} {path}: {code} is not {expected}")
    assert not wrong, "\n".join(wrong)


async def test_a_real_validation_error_matches_the_documented_problem_schema(
    tmp_path: Path,
) -> None:
    app = create_all_in_one(dev_settings(tmp_path))
    schema = app.openapi()["components"]["schemas"]["Problem"]
    async for client in serve(app):
        login = login_with(client)
        response = await client.post(
            "/api/v1/posts", json={"kind": "note"}, headers=await login("ana")
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith(PROBLEM)
        jsonschema.validate(response.json(), schema)
