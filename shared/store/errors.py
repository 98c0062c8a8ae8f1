"""Errors raised by every DocumentStore adapter."""

from shared.unavailable import DependencyUnavailable


class StoreError(Exception):
    """A store operation failed."""


class DuplicateKeyError(StoreError):
    """A write would duplicate a unique index key; the message names the index and keys."""


class UnsupportedOperation(StoreError):
    """The filter, update or sort is outside the subset the port guarantees on every adapter."""


class StoreUnavailable(StoreError, DependencyUnavailable):
    """The store cannot be reached."""
