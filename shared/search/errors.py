"""Errors raised by every SearchIndex adapter."""

from shared.unavailable import DependencyUnavailable


class SearchError(Exception):
    """A search index operation failed."""


class SearchQueryError(SearchError):
    """The request cannot run as given (unknown field, malformed value): a 4xx, not a 500."""


class SearchUnavailable(SearchError, DependencyUnavailable):
    """The index cannot be reached or keeps failing after retries."""


class IndexNotFound(SearchError):
    """The alias or physical index does not exist (call ensure first)."""
