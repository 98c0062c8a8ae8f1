"""The compose stack: what `docker compose up` would run, checked without a Docker engine.

The YAML and nginx checks read the files; `docker compose config` runs through
`deploy/compose-cli.sh`: the installed compose plugin, or else Compose v2 built once from the
Go module proxy (no Docker engine is needed for `config`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "gateway" / "nginx.conf"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE_CLI = ROOT / "deploy" / "compose-cli.sh"
ENV_EXAMPLE = ROOT / ".env.example"

ENGINES = ("kafka", "mongo", "opensearch")
APP_SERVICES = ("activity", "profiles", "search", "notify")
REQUIRED_VARIABLES = {
    "CANTEEN_JWKS_URL": "https://idp.example.test/.well-known/jwks.json",
    "CANTEEN_JWT_ISSUER": "https://idp.example.test/",
    "CANTEEN_CURSOR_SECRET": "x" * 48,
}
SECRET_KEY = re.compile(r"SECRET|PASSWORD|TOKEN", re.IGNORECASE)
REQUIRED_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")
# An optional secret passes through from the environment, with no value of its own.
SECRET_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:\?[^}]+|:-)\}$")

ROUTES = {
    "/api/v1/people": "profiles",
    "/api/v1/experts": "profiles",
    "/api/v1/skills": "profiles",
    "/api/v1/endorsements": "profiles",
    "/scim/v2/": "profiles",
    "/api/v1/search": "search",
    "/api/v1/suggest": "search",
    "/api/v1/admin/search": "search",
    "/api/v1/notifications": "notify",
    "/api/v1/notifications/stream": "notify",
    "/api/v1/preferences": "notify",
    "/api/v1/push": "notify",
    "/api/v1/": "activity",
}
SSE_PREFIX = "/api/v1/notifications/stream"


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _services() -> dict[str, Any]:
    return _compose()["services"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def _docker_compose_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANTEEN_")}
    env.update(REQUIRED_VARIABLES)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _run_compose_config(
    env: dict[str, str], *args: str, env_file: str = "/dev/null"
) -> subprocess.CompletedProcess[str]:
    # --env-file /dev/null: a developer's local .env must not fill in what the test leaves unset.
    command = ["bash", str(COMPOSE_CLI), "--env-file", env_file, "-f", str(COMPOSE_FILE)]
    result = subprocess.run(
        [*command, "config", *(args or ("--quiet",))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode == 127:
        pytest.fail(f"compose CLI unavailable: {result.stderr}")
    return result


# docker compose itself


def test_docker_compose_accepts_the_file_when_the_required_variables_are_set() -> None:
    result = _run_compose_config(_docker_compose_env())
    assert result.returncode == 0, result.stderr


def test_the_readme_way_env_example_plus_secrets_resolves_every_service() -> None:
    """`cp .env.example .env`, fill in the required values, `docker compose up -d`."""
    result = _run_compose_config(
        _docker_compose_env(), "--format", "json", env_file=str(ENV_EXAMPLE)
    )
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["services"]
    for name in APP_SERVICES:
        env = resolved[name]["environment"]
        assert env["CANTEEN_BACKEND"] == "external", name
        assert env["CANTEEN_JWKS_URL"] == REQUIRED_VARIABLES["CANTEEN_JWKS_URL"], name
        assert all(env[v] == REQUIRED_VARIABLES[v] for v in REQUIRED_VARIABLES), name
        assert env["CANTEEN_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["CANTEEN_SMTP_HOST"] == "mailpit", name
    assert "mailpit" in resolved and "gateway" in resolved


@pytest.mark.parametrize("variable", sorted(REQUIRED_VARIABLES))
def test_docker_compose_refuses_to_start_without_a_required_variable(variable: str) -> None:
    result = _run_compose_config(_docker_compose_env(**{variable: None}))
    assert result.returncode != 0
    assert variable in result.stderr


# services


def test_the_stack_has_the_engines_the_services_and_the_gateway() -> None:
    assert set(_services()) == {*ENGINES, *APP_SERVICES, "gateway", "mailpit"}


def test_mailpit_publishes_its_web_ui_on_loopback_only() -> None:
    ports = _services()["mailpit"]["ports"]
    assert ports == ["127.0.0.1:${CANTEEN_MAILPIT_UI_PORT:-8025}:8025"]
    assert _services()["notify"]["depends_on"]["mailpit"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", [*ENGINES, *APP_SERVICES])
def test_only_the_gateway_publishes_a_port(name: str) -> None:
    assert "ports" not in _services()[name]


def test_the_gateway_publishes_its_port_on_a_configurable_host_port() -> None:
    assert _services()["gateway"]["ports"] == ["${CANTEEN_HTTP_PORT:-8080}:8080"]


@pytest.mark.parametrize("name", [*ENGINES, *APP_SERVICES, "gateway"])
def test_every_service_has_a_healthcheck(name: str) -> None:
    healthcheck = _services()[name].get("healthcheck") or {}
    assert healthcheck.get("test"), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)


def test_every_built_service_uses_the_one_dockerfile_and_image() -> None:
    built = {name: s for name, s in _services().items() if "build" in s}
    assert set(built) == set(APP_SERVICES)
    for name, service in built.items():
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}, name
        assert service["image"] == "canteen:${CANTEEN_VERSION:-dev}", name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_serves_itself_and_waits_for_healthy_engines(name: str) -> None:
    service = _services()[name]
    assert service["command"] == ["canteen", "serve", name, "--host", "0.0.0.0", "--port", "8000"]
    healthy = {"condition": "service_healthy"}
    assert {e: service["depends_on"][e] for e in ENGINES} == {e: healthy for e in ENGINES}
    assert set(service["depends_on"]) <= {*ENGINES, "mailpit"}
    assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert service["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_runs_in_prod_against_the_external_engines(name: str) -> None:
    env = _environment(_services()[name])
    assert env["CANTEEN_ENV"] == "prod"
    assert env["CANTEEN_BACKEND"] == "external"
    # The stack's own engines unless the admin points a variable at managed ones.
    assert env["CANTEEN_KAFKA_BOOTSTRAP_SERVERS"].endswith(":-kafka:9092}")
    assert env["CANTEEN_MONGODB_URI"].endswith(":-mongodb://mongo:27017/?replicaSet=rs0}")
    assert env["CANTEEN_OPENSEARCH_URL"].endswith(":-http://opensearch:9200}")
    for variable in REQUIRED_VARIABLES:
        assert REQUIRED_REFERENCE.match(env[variable]), f"{variable} must be ${{{variable}:?...}}"


def test_the_gateway_waits_for_every_app_service_to_be_healthy() -> None:
    depends_on = _services()["gateway"]["depends_on"]
    assert depends_on == {s: {"condition": "service_healthy"} for s in APP_SERVICES}


@pytest.mark.parametrize("name", [*ENGINES, *APP_SERVICES, "gateway"])
def test_no_environment_value_holds_a_literal_secret(name: str) -> None:
    for key, value in _environment(_services()[name]).items():
        if SECRET_KEY.search(key):
            assert SECRET_REFERENCE.match(value), f"{name}: {key} must be a ${{VAR}} reference"


@pytest.mark.parametrize("name", ENGINES)
def test_each_engine_keeps_its_data_in_a_named_volume(name: str) -> None:
    named = set(_compose()["volumes"])
    sources = {str(v).split(":", 1)[0] for v in _services()[name]["volumes"]}
    assert sources & named, f"{name} has no named volume"


def test_mongo_runs_the_replica_set_its_healthcheck_initiates() -> None:
    mongo = _services()["mongo"]
    assert mongo["command"] == ["--replSet", "rs0", "--bind_ip_all"]
    probe = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate({_id:'rs0',members:[{_id:0,host:'mongo:27017'}]})" in probe


def test_the_gateway_mounts_the_nginx_config_read_only() -> None:
    volumes = _services()["gateway"]["volumes"]
    assert "./deploy/gateway/nginx.conf:/etc/nginx/nginx.conf:ro" in volumes


# image


def test_the_image_installs_the_project_and_runs_as_a_non_root_user() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS runtime$", dockerfile, re.M)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert "pip install --no-cache-dir ." in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert re.search(r"^EXPOSE 8000$", dockerfile, re.M)


# gateway


def _nginx() -> str:
    return re.sub(r"#[^\n]*", "", NGINX_CONF.read_text())


def _locations() -> dict[str, str]:
    """Prefix locations (no modifier) of the server block: prefix -> body."""
    return {
        m["prefix"]: m["body"]
        for m in re.finditer(
            r"location\s+(?P<prefix>/\S*)\s*\{(?P<body>[^{}]*)\}", _without_strings(_nginx())
        )
    }


def _without_strings(conf: str) -> str:
    """Quoted strings (JSON bodies hold braces) blanked out, so blocks parse by braces."""
    return re.sub(r"'[^']*'", "''", conf)


def _upstream_hosts() -> dict[str, str]:
    blocks = re.finditer(r"upstream\s+(\w+)\s*\{([^{}]*)\}", _nginx())
    return {m[1]: re.search(r"server\s+([\w.-]+):8000\b", m[2])[1] for m in blocks}  # type: ignore[index]


def _route(path: str) -> str:
    """The service nginx sends `path` to: the longest matching prefix location wins."""
    locations = _locations()
    prefix = max((p for p in locations if path.startswith(p)), key=len)
    upstream = re.search(r"proxy_pass\s+http://(\w+)\s*;", locations[prefix])
    assert upstream, f"location {prefix} proxies nowhere"
    return _upstream_hosts()[upstream[1]]


def test_the_services_keep_idle_connections_longer_than_the_gateway_reuses_them() -> None:
    # nginx may send on a kept upstream connection until its keepalive_timeout; a service
    # closing it earlier turns that request into a 502.
    from shared.settings import CanteenSettings

    blocks = re.finditer(r"upstream\s+(\w+)\s*\{([^{}]*)\}", _nginx())
    timeouts = {m[1]: re.search(r"keepalive_timeout\s+(\d+)s\s*;", m[2]) for m in blocks}
    assert set(timeouts) == set(APP_SERVICES)
    default = CanteenSettings.model_fields["http_keepalive_seconds"].default
    for name, found in timeouts.items():
        assert found, f"upstream {name} relies on nginx's implicit keepalive_timeout"
        assert int(found[1]) < default, name


def test_each_upstream_is_the_service_of_the_same_name() -> None:
    assert _upstream_hosts() == {s: s for s in APP_SERVICES}


@pytest.mark.parametrize(("prefix", "service"), ROUTES.items())
def test_each_prefix_is_routed_to_the_service_that_owns_it(prefix: str, service: str) -> None:
    assert prefix in _locations()
    assert _route(prefix) == service


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/people/p-1/skills", "profiles"),
        ("/scim/v2/Users", "profiles"),
        ("/api/v1/admin/search/reindex", "search"),
        ("/api/v1/notifications/stream", "notify"),
        ("/api/v1/posts/p-1/comments", "activity"),
        ("/api/v1/questions", "activity"),
        ("/api/v1/groups/g-1/feed", "activity"),
        ("/api/v1/dev/token", "activity"),
        ("/api/v1/admin/outbox", "activity"),
    ],
)
def test_a_request_path_reaches_its_owner(path: str, service: str) -> None:
    assert _route(path) == service


def test_the_event_stream_is_neither_buffered_nor_cut_short() -> None:
    body = _locations()[SSE_PREFIX]
    assert re.search(r"proxy_buffering\s+off;", body)
    assert re.search(r"proxy_cache\s+off;", body)
    assert re.search(r"proxy_read_timeout\s+1h;", body)
    assert re.search(r"proxy_http_version\s+1\.1;", body)


def test_proxy_headers_are_set_once_for_every_location() -> None:
    # A proxy_set_header inside a location would drop every inherited one (Connection "" too).
    assert all("proxy_set_header" not in body for body in _locations().values())
    conf = _nginx()
    assert re.search(r'proxy_set_header\s+Connection\s+"";', conf)
    assert re.search(r"proxy_set_header\s+X-Request-ID\s+\$canteen_request_id;", conf)
    assert re.search(r'""\s+\$request_id;', conf), "X-Request-ID must fall back to $request_id"
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for;", conf)
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\S+;", conf)
    assert re.search(r"proxy_set_header\s+traceparent\s+\$http_traceparent;", conf)


def test_the_gateway_answers_healthz_hides_its_version_and_logs_json() -> None:
    conf = _nginx()
    assert re.search(r"location\s+=\s+/healthz\s*\{[^}]*return\s+200", conf)
    assert re.search(r"listen\s+8080;", conf)
    assert re.search(r"server_tokens\s+off;", conf)
    assert re.search(r"client_max_body_size\s+2m;", conf)
    log_format = re.search(r"log_format\s+(\w+)\s+escape=json", conf)
    assert log_format
    assert re.search(rf"access_log\s+\S+\s+{log_format[1]};", conf)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_gateway_routes_every_route_of_every_service_to_it(
    service: str, tmp_path: Path
) -> None:
    """Generated from the services' own route tables: a new route cannot be forgotten."""
    from canteen.allinone import create_single
    from shared.settings import CanteenSettings

    settings = CanteenSettings(env="dev", backend="embedded", data_dir=tmp_path / "var")
    app = create_single(settings, service)
    paths = [
        path
        for path in app.openapi()["paths"]
        if path.startswith(("/api/", "/scim/")) and not path.startswith("/api/v1/dev/")
    ]
    assert paths
    # A path parameter becomes a concrete segment, as a client would send it.
    wrong = {
        p: _route(concrete)
        for p in paths
        if _route(concrete := re.sub(r"\{[^}]+\}", "x1", p)) != service
    }
    assert not wrong, f"routed elsewhere: {wrong}"


# settings wiring

NOT_FOR_COMPOSE = {
    "CANTEEN_DATA_DIR",  # embedded backend only
    "CANTEEN_BUS_RETENTION_HOURS",  # the embedded bus's; Kafka's retention is topic config
    "CANTEEN_BUS_DLQ_RETENTION_HOURS",
    "CANTEEN_HOST",  # each container binds 0.0.0.0:8000 by its command
    "CANTEEN_PORT",
    "CANTEEN_DEV_SIGNING_SECRET",  # dev mode only; the stack runs CANTEEN_ENV=prod
}


def test_every_setting_a_service_reads_is_wired_into_the_stack() -> None:
    from shared.settings import CanteenSettings

    names = {f"CANTEEN_{name.upper()}" for name in CanteenSettings.model_fields}
    env = _compose()["x-canteen-env"]
    assert names - NOT_FOR_COMPOSE <= set(env), sorted(names - NOT_FOR_COMPOSE - set(env))


def test_every_variable_the_stack_reads_is_explained_in_env_example() -> None:
    used = set(re.findall(r"\$\{(CANTEEN_[A-Z_]+)", COMPOSE_FILE.read_text()))
    documented = set(re.findall(r"^#?\s*(CANTEEN_[A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))
    required = {v for v in used if re.search(rf"\$\{{{v}:\?", COMPOSE_FILE.read_text())}
    assert required == set(REQUIRED_VARIABLES)
    assert required <= documented
    # Optional pass-throughs are documented in the README's settings table (a test keeps it).
    assert {"CANTEEN_HTTP_PORT", "CANTEEN_VERSION", "CANTEEN_MAILPIT_UI_PORT"} <= documented


def test_the_gateways_own_errors_are_problem_json() -> None:
    conf = _nginx()
    for name in ("= /_gateway/too-large.json", "= /_gateway/unavailable.json", "/"):
        body = re.search(rf"location {re.escape(name)} \{{(.*?)\n\s*\}}", conf, re.S)
        assert body, name
        assert "default_type application/problem+json;" in body[1], name
        payload = re.search(r"return (\d{3}) '([^']+)'", body[1])
        assert payload, name
        problem = json.loads(payload[2].replace("$canteen_request_id", "r-1"))
        assert problem["status"] == int(payload[1]) and problem["title"], name
