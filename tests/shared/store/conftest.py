"""Fixtures for the DocumentStore contract: one `store` per adapter, each in a fresh database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from shared.store.mongo import MongoDocumentStore
from shared.store.port import DocumentStore
from shared.store.sqlite import SqliteDocumentStore

MONGO_URI_VARIABLE = "CANTEEN_TEST_MONGODB_URI"


def mongo_uri() -> str:
    """The engine URI; a missing one fails the test, since skipping would hide the gap."""
    uri = os.environ.get(MONGO_URI_VARIABLE)
    if not uri:
        pytest.fail(
            f"{MONGO_URI_VARIABLE} not set: run `make engines-up` or `make test`", pytrace=False
        )
    return uri


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.engines)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    if request.param == "sqlite":
        sqlite_store = SqliteDocumentStore(tmp_path / "store.db")
        yield sqlite_store
        await sqlite_store.close()
        return
    uri = mongo_uri()
    database = f"canteen_test_{uuid.uuid4().hex}"
    mongo_store = MongoDocumentStore(uri, database)
    try:
        yield mongo_store
    finally:
        await mongo_store.close()
        admin: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
        await admin.drop_database(database)
        await admin.close()
