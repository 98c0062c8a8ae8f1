"""The gateway's routing table, read from `deploy/gateway/nginx.conf` in a checkout.

Tools that run the four services as separate processes without nginx (the journey tests,
the end-to-end benchmarks) send each request where the gateway would: the service of the
longest matching `location /prefix { proxy_pass http://<service>; }`.
"""

from __future__ import annotations

import re
from pathlib import Path

from canteen.allinone import SERVICES

NGINX_CONF = Path(__file__).resolve().parents[1] / "deploy" / "gateway" / "nginx.conf"


def gateway_routes(conf_path: Path = NGINX_CONF) -> dict[str, str]:
    """Prefix -> service."""
    conf = re.sub(r"#[^\n]*", "", conf_path.read_text())
    conf = re.sub(r"'[^']*'", "''", conf)  # JSON bodies in strings hold braces
    routes = {}
    for m in re.finditer(r"location\s+(/\S*)\s*\{([^{}]*)\}", conf):
        upstream = re.search(r"proxy_pass\s+http://(\w+)\s*;", m[2])
        if upstream and upstream[1] in SERVICES:
            routes[m[1]] = upstream[1]
    if routes.get("/api/v1/") != "activity":
        raise RuntimeError(f"{conf_path}: the catch-all /api/v1/ no longer goes to activity")
    return routes


def service_for(path: str, routes: dict[str, str]) -> str:
    """The service the gateway sends `path` (query string allowed) to."""
    bare = path.split("?", 1)[0]
    return routes[max((p for p in routes if bare.startswith(p)), key=len)]
