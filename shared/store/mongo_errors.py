"""PyMongo errors as the port's errors, for the Mongo adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import errors as mongo_errors

from shared.store.errors import (
    DuplicateKeyError,
    StoreError,
    StoreUnavailable,
    UnsupportedOperation,
)

NOT_IMPLEMENTED = {115, 238}  # CommandNotSupported, NotImplemented
# The server is stopping or stepping down: the operation did not run, retry elsewhere/later.
# ShutdownInProgress, InterruptedAtShutdown, InterruptedDueToReplStateChange,
# PrimarySteppedDown, NotWritablePrimary, NotPrimaryNoSecondaryOk.
GOING_AWAY = {91, 11600, 11602, 189, 10107, 13435}
# FerretDB cancels the transactions in flight when it stops (rolled back) and reports them
# as an InternalError whose message says so: `context canceled`, or, when the cancel rolled
# the transaction back just before its commit, Go's `sql.ErrTxDone` (the commit found it
# gone: nothing was written).
FERRETDB_CANCELED = ("context canceled", "transaction has already been committed or rolled back")


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except mongo_errors.DuplicateKeyError as exc:
        raise DuplicateKeyError(str(exc)) from exc
    except mongo_errors.BulkWriteError as exc:
        if any(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])):
            raise DuplicateKeyError(str(exc.details["writeErrors"][0].get("errmsg"))) from exc
        raise StoreError(str(exc)) from exc
    except mongo_errors.ConnectionFailure as exc:
        raise StoreUnavailable(str(exc)) from exc
    except mongo_errors.OperationFailure as exc:
        if exc.code == 1 and "UNIQUE constraint failed" in str(exc):
            # FerretDB reports a unique clash on update as InternalError from SQLite.
            raise DuplicateKeyError(str(exc)) from exc
        if exc.code in NOT_IMPLEMENTED:
            raise UnsupportedOperation(str(exc)) from exc
        if exc.code in GOING_AWAY or any(m in str(exc) for m in FERRETDB_CANCELED):
            raise StoreUnavailable(str(exc)) from exc
        raise StoreError(str(exc)) from exc
    except mongo_errors.PyMongoError as exc:
        raise StoreError(str(exc)) from exc
