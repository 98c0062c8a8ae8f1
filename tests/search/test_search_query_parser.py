"""The query language (pure): words, phrases, exclusions, filters, decisions on bad input."""

from __future__ import annotations

import pytest

from services.search.domain.query import QuerySyntaxError, parse_query
from shared.search import Query


def test_words_phrases_exclusions_and_filters() -> None:
    parsed = parse_query(
        'kubernetes "error budget" -draft author:ana topic:#Cloud-Native type:question'
    )
    assert parsed.query == Query(
        terms=("kubernetes",), phrases=("error budget",), excluded=("draft",)
    )
    assert parsed.filters == {"author": ["ana"], "topic": ["cloud-native"], "type": ["question"]}


def test_an_unbalanced_quote_is_a_phrase_to_the_end() -> None:
    assert parse_query('alerts "burn rate windows').query.phrases == ("burn rate windows",)


def test_quoted_filter_values_and_excluded_phrases() -> None:
    parsed = parse_query('department:"Site Reliability" -"legacy stack"')
    assert parsed.filters == {"department": ["Site Reliability"]}
    assert parsed.query.excluded == ("legacy stack",)


def test_things_that_only_look_like_filters_are_words() -> None:
    assert parse_query("meet at 10:30").query.terms == ("meet", "at", "10", "30")
    assert parse_query("see https://example.org").filters == {}


def test_empty_query_is_empty() -> None:
    assert parse_query("   ").query.is_empty


@pytest.mark.parametrize(
    "text",
    ["autor:ana", "type:poem", "state:closed", "topic:", "-author:ana", "x" * 501, "a " * 40],
)
def test_bad_queries_are_refused(text: str) -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query(text)
