"""docs/api.md lists every public route the services serve (no route goes undocumented)."""

from __future__ import annotations

import re
from pathlib import Path

from canteen.allinone import create_all_in_one
from shared.settings import CanteenSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = {"get", "post", "put", "patch", "delete"}


def test_every_api_route_is_in_the_api_guide(tmp_path: Path) -> None:
    settings = CanteenSettings(env="dev", backend="embedded", data_dir=tmp_path / "var")
    spec = create_all_in_one(settings).openapi()
    served = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        if path.startswith(("/api/", "/scim/"))
        for method in item
        if method in METHODS
    }
    listed = set(re.findall(r"`((?:GET|POST|PUT|PATCH|DELETE) /[^`]+)`", DOC.read_text()))
    assert not served - listed, f"add to docs/api.md: {sorted(served - listed)}"
    assert not listed - served, f"docs/api.md names routes that do not exist: {listed - served}"
