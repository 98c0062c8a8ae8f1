"""Build the SearchIndex adapter from settings (embedded SQLite file, or OpenSearch).

Candidate for shared/backends.py (`make_search_index`) next to make_store and make_bus.
"""

from __future__ import annotations

from shared.search import SearchIndex
from shared.settings import CanteenSettings


def index_prefix(settings: CanteenSettings) -> str:
    """`canteen` by default; follows the database prefix so that test runs never collide."""
    return settings.mongodb_database_prefix.replace("_", "-")


def make_search_index(settings: CanteenSettings) -> SearchIndex:
    """No network I/O here: the adapter connects on first use inside the lifespan."""
    if settings.backend == "embedded":
        from shared.search.sqlite import SqliteSearchIndex

        return SqliteSearchIndex(settings.data_dir / "search-index.sqlite3")
    import ssl

    import httpx

    from shared.search.opensearch import OpenSearchIndex

    password = settings.opensearch_password
    auth = None
    if settings.opensearch_username and password is not None:
        auth = httpx.BasicAuth(settings.opensearch_username, password.get_secret_value())
    verify: bool | ssl.SSLContext = settings.opensearch_verify_certs
    if settings.opensearch_ca_file is not None and verify:
        verify = ssl.create_default_context(cafile=str(settings.opensearch_ca_file))
    http = httpx.AsyncClient(
        base_url=settings.opensearch_url.rstrip("/"), auth=auth, verify=verify, timeout=10.0
    )
    # One synonyms index (the adapter's default) holds each deployment's set, by name.
    return OpenSearchIndex(settings.opensearch_url, http=http)
