"""DocumentStore port, its errors and types; adapters live in shared.store.sqlite / .mongo."""

from shared.store.errors import (
    DuplicateKeyError,
    StoreError,
    StoreUnavailable,
    UnsupportedOperation,
)
from shared.store.port import (
    Collection,
    Document,
    DocumentStore,
    Filter,
    IndexKeys,
    Sort,
    Update,
    UpdateResult,
)

__all__ = [
    "Collection",
    "Document",
    "DocumentStore",
    "DuplicateKeyError",
    "Filter",
    "IndexKeys",
    "Sort",
    "StoreError",
    "StoreUnavailable",
    "UnsupportedOperation",
    "Update",
    "UpdateResult",
]
