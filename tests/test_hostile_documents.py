"""The documents ``bench`` and ``hostile`` time are the largest the limits let through.

The bench's "worst validation time" bounds what a client can make validation cost only if every
shape is grown until one more repetition would be refused: these tests hold the generator to it.
"""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from example_project.benchmarks.management.commands._validation import hostile_documents, tokens
from user_messages.graphql_limits import DocumentLimits, limit_errors, parse_document


def refused_by_the_limits(document: str) -> bool:
    try:
        return bool(limit_errors(parse_document(document), DocumentLimits.from_settings()))
    except GraphQLError:
        return True


def test_each_document_passes_the_limits_unless_it_says_it_is_refused():
    documents = dict(hostile_documents())

    assert len(documents) > 15
    for what, document in documents.items():
        assert refused_by_the_limits(document) == ("refused" in what), what


def test_the_issues_document_is_refused_by_the_token_limit_by_default():
    document = dict(hostile_documents())["the issue's 1,990 copies of one unknown field (refused)"]

    with pytest.raises(GraphQLError, match="more than 500 tokens"):
        parse_document(document)


def test_a_raised_token_limit_grows_the_documents_with_it(settings):
    at_default = {what.split(" ", 1)[1]: tokens(doc) for what, doc in hostile_documents()}
    settings.USER_MESSAGES = {"MAX_QUERY_TOKENS": 1000}
    raised = {what.split(" ", 1)[1]: tokens(doc) for what, doc in hostile_documents()}

    grown = [what for what in at_default if raised.get(what, 0) > 1.8 * at_default[what]]
    # Most shapes are bound by tokens; the others by fields, depth or comparisons.
    assert len(grown) >= 8, grown
