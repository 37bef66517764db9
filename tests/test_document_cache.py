"""The package's GraphQLView parses and validates a repeated document once per process.

Every test drives the real view at /graphql and counts the real calls of ``parse`` and
``validate`` as the view module imported them, through wrappers that delegate to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client

from tests.operations import operation
from user_messages import api, graphql_http
from user_messages.graphql_http import DOCUMENT_CACHE_SIZE, MAX_CACHED_QUERY_LENGTH
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stack")]


@dataclass
class Calls:
    parse: int = 0
    validate: int = 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Counts of the view's parse and validate calls, starting from an empty cache."""
    counted = Calls()
    real_parse, real_validate = graphql_http.parse_document, graphql_http.validate_document

    def parse(*args: Any, **kwargs: Any) -> Any:
        counted.parse += 1
        return real_parse(*args, **kwargs)

    def validate(*args: Any, **kwargs: Any) -> Any:
        counted.validate += 1
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(graphql_http, "parse_document", parse)
    monkeypatch.setattr(graphql_http, "validate_document", validate)
    # Documents cached by earlier tests would hide the calls this test counts.
    graphql_http._cached_check.cache_clear()
    yield counted
    graphql_http._cached_check.cache_clear()


def post(client: Client, query: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/graphql", json.dumps({"query": query, **extra}), content_type="application/json"
    )
    return response.status_code, response.json()


def test_a_repeated_document_is_parsed_and_validated_once(alice: Client, calls: Calls) -> None:
    for _ in range(3):
        status, body = post(alice, operation("MyMessages"), operationName="MyMessages")
        assert (status, body) == (200, {"data": {"myMessages": []}})

    assert calls == Calls(parse=1, validate=1)


def test_an_invalid_document_gets_the_same_errors_again_without_validation(
    client: Client, calls: Calls
) -> None:
    expected = {
        "errors": [
            {
                "message": "Cannot query field 'noSuchField' on type 'Query'.",
                "locations": [{"line": 1, "column": 3}],
            }
        ]
    }

    assert post(client, "{ noSuchField }") == (400, expected)
    assert post(client, "{ noSuchField }") == (400, expected)
    assert calls == Calls(parse=1, validate=1)


def test_a_syntax_error_is_parsed_again_each_time(client: Client, calls: Calls) -> None:
    for _ in range(2):
        status, body = post(client, "{ myMessageCount")
        assert status == 400
        assert body["errors"][0]["message"] == "Syntax Error: Expected Name, found <EOF>."

    assert calls == Calls(parse=2, validate=0)


def test_a_changed_depth_limit_applies_to_an_already_cached_document(
    alice: Client, calls: Calls, settings: Any
) -> None:
    query = "{ myMessages { message } }"
    assert post(alice, query) == (200, {"data": {"myMessages": []}})

    settings.USER_MESSAGES = {"MAX_QUERY_DEPTH": 1}

    assert post(alice, query) == (
        400,
        {
            "errors": [
                {
                    "message": "The operation nests fields 2 deep, more than the limit of 1.",
                    "locations": [{"line": 1, "column": 1}],
                }
            ]
        },
    )
    assert calls == Calls(parse=2, validate=2)


def test_a_changed_token_limit_applies_to_an_already_cached_document(
    client: Client, calls: Calls, settings: Any
) -> None:
    query = "{ myMessageCount }"
    assert post(client, query) == (200, {"data": {"myMessageCount": 0}})

    settings.USER_MESSAGES = {"MAX_QUERY_TOKENS": 2}

    status, body = post(client, query)
    assert status == 400
    assert body["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 2 tokens. Parsing aborted."
    )


def test_a_document_over_the_size_limit_is_answered_but_never_cached(
    client: Client, calls: Calls, settings: Any
) -> None:
    # A project that accepts longer documents than the cache keeps.
    settings.USER_MESSAGES = {"MAX_QUERY_LENGTH": 2 * MAX_CACHED_QUERY_LENGTH}
    # Whitespace is no token, so the padding changes the size and nothing else.
    at_limit = "{ myMessageCount }".ljust(MAX_CACHED_QUERY_LENGTH)
    over_limit = at_limit + " "

    for _ in range(2):
        assert post(client, over_limit) == (200, {"data": {"myMessageCount": 0}})
    assert calls == Calls(parse=2, validate=2)
    assert graphql_http._cached_check.cache_info().currsize == 0

    for _ in range(2):
        assert post(client, at_limit) == (200, {"data": {"myMessageCount": 0}})
    assert calls == Calls(parse=3, validate=3)


def test_the_cache_never_holds_more_than_its_bound_and_drops_the_oldest(
    client: Client, calls: Calls
) -> None:
    documents = [f"query Q{n} {{ myMessageCount }}" for n in range(DOCUMENT_CACHE_SIZE + 10)]
    for document in documents:
        assert post(client, document) == (200, {"data": {"myMessageCount": 0}})
        assert graphql_http._cached_check.cache_info().currsize <= DOCUMENT_CACHE_SIZE
    assert calls.parse == len(documents)

    for document in documents[-DOCUMENT_CACHE_SIZE:]:
        post(client, document)
    assert calls.parse == len(documents)

    post(client, documents[0])
    assert calls.parse == len(documents) + 1


def test_a_get_of_a_mutation_cached_from_a_post_is_still_refused(
    alice: Client, user: AbstractBaseUser, calls: Calls
) -> None:
    message = api.info(user, "Keep me.", deliver_once=False)
    query = operation("AcknowledgeMessages")
    status, _body = post(alice, query, variables={"ids": []})
    assert status == 200

    response = alice.get(
        "/graphql", {"query": query, "variables": json.dumps({"ids": [message.pk]})}
    )

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {
        "errors": [{"message": "Can only perform a mutation operation from a POST request."}]
    }
    assert Message.objects.pending().count() == 1
    assert calls.parse == 1


def flag_mutation_errors(next_: Any, root: Any, info: Any, **arguments: Any) -> Any:
    """Graphene middleware marking the request as graphene-django's form mutations do."""
    from graphene_django.constants import MUTATION_ERRORS_FLAG

    setattr(info.context, MUTATION_ERRORS_FLAG, True)
    return next_(root, info, **arguments)


# ATOMIC_MUTATIONS and MUTATION_ERRORS_FLAG are graphene-django's: graphene only.
@pytest.mark.parametrize("stack", ["graphene"], indirect=True)
@pytest.mark.parametrize("atomic_mutations", [None, "GRAPHENE", "DATABASES"])
def test_atomic_mutations_roll_back_a_mutation_that_flags_errors(
    alice: Client,
    user: AbstractBaseUser,
    calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
    atomic_mutations: str | None,
) -> None:
    import graphene_django.views

    from user_messages.views import GraphQLView

    # graphene-django's two switches: its setting (as its view reads it) or the database's.
    if atomic_mutations == "GRAPHENE":
        monkeypatch.setattr(graphene_django.views.graphene_settings, "ATOMIC_MUTATIONS", True)
    elif atomic_mutations == "DATABASES":
        monkeypatch.setitem(connection.settings_dict, "ATOMIC_MUTATIONS", True)
    monkeypatch.setattr(GraphQLView, "get_middleware", lambda self, request: [flag_mutation_errors])
    message = api.info(user, "Confirm your email.", deliver_once=False)

    for _ in range(2):  # The second run executes the cached document.
        status, body = post(
            alice, operation("AcknowledgeMessages"), variables={"ids": [message.pk]}
        )
        assert status == 200
        assert body["data"]["acknowledgeMessages"]["acknowledgedIds"] == [str(message.pk)]
        rolled_back = Message.objects.pending().count() == 1
        assert rolled_back is (atomic_mutations is not None)
        Message.objects.update(delivered_at=None)
    assert calls.parse == 1
