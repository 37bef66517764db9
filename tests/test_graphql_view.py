"""user_messages.views.GraphQLView: malformed bodies are 400s, documents have bounded size."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.schema import OPERATIONS_DIR
from user_messages.models import Message


@pytest.fixture
def alice(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def post_raw(client: Client, body: str) -> tuple[int, Any]:
    response = client.post("/graphql", body, content_type="application/json")
    return response.status_code, response.json()


def query_body(query: str) -> str:
    return json.dumps({"query": query})


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: myMessageCount" for i in range(count)) + " }"


TOO_DEEP = {"errors": [{"message": "The request body is nested too deeply."}]}


def test_a_body_nested_deeper_than_pythons_parser_goes_is_a_400(alice: Client) -> None:
    status, body = post_raw(alice, "[" * 100_000 + "]" * 100_000)

    assert (status, body) == (
        400,
        {"errors": [{"message": "The request body is nested too deeply."}]},
    )


def test_deeply_nested_variables_are_a_400(alice: Client) -> None:
    status, body = post_raw(
        alice,
        '{"query": "{ myMessageCount }", "variables": {"x": ' + "[" * 5000 + "]" * 5000 + "}}",
    )

    assert (status, body) == (
        400,
        {"errors": [{"message": "The request body is nested too deeply."}]},
    )


def test_a_document_nested_too_deeply_to_parse_is_a_400(alice: Client) -> None:
    status, body = post_raw(alice, query_body("{a" * 3000 + "}" * 3000))

    assert status == 400
    assert (
        body["errors"][0]["message"]
        == "Syntax Error: Document is nested too deeply. Parsing aborted."
    )


def test_a_fragment_cycle_is_a_validation_error_not_a_crash(alice: Client) -> None:
    query = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"

    status, body = post_raw(alice, query_body(query))

    assert status == 400
    assert [e["message"] for e in body["errors"]] == [
        "Cannot spread fragment 'A' within itself via 'B'."
    ]


def test_a_document_of_more_tokens_than_allowed_is_refused_before_it_runs(
    alice: Client, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.USER_MESSAGES = {"MAX_QUERY_TOKENS": 20, "MAX_QUERY_FIELDS": 10_000}
    # "{", then "aN", ":", "myMessageCount" per alias, then "}": 5 aliases are 17 tokens.
    assert post_raw(alice, query_body(aliases(5)))[0] == 200

    with django_assert_num_queries(0):
        status, body = post_raw(alice, query_body(aliases(7)))

    assert status == 400
    assert body["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 20 tokens. Parsing aborted."
    )


def test_a_hundred_thousand_aliases_are_refused_with_the_defaults(alice: Client) -> None:
    status, body = post_raw(alice, query_body(aliases(100_000)))

    assert status == 400
    assert body["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 5000 tokens. Parsing aborted."
    )


def test_more_fields_than_allowed_are_refused(alice: Client, settings: Any) -> None:
    settings.USER_MESSAGES = {"MAX_QUERY_FIELDS": 3}
    assert post_raw(alice, query_body(aliases(3))) == (
        200,
        {"data": {"a0": 0, "a1": 0, "a2": 0}},
    )

    status, body = post_raw(alice, query_body(aliases(4)))

    assert status == 400
    assert [e["message"] for e in body["errors"]] == ["The query selects more than 3 fields."]


def test_fields_nested_deeper_than_allowed_are_refused(alice: Client, settings: Any) -> None:
    settings.USER_MESSAGES = {"MAX_QUERY_DEPTH": 4}
    allowed = '{ __type(name: "UserMessage") { fields { type { name } } } }'
    too_deep = '{ __type(name: "UserMessage") { fields { type { ofType { name } } } } }'

    assert post_raw(alice, query_body(allowed))[0] == 200
    status, body = post_raw(alice, query_body(too_deep))

    assert status == 400
    assert [e["message"] for e in body["errors"]] == [
        "The query nests fields more than 4 levels deep."
    ]


def test_depth_counts_fields_where_fragments_are_spread(alice: Client, settings: Any) -> None:
    settings.USER_MESSAGES = {"MAX_QUERY_DEPTH": 3}
    query = (
        '{ __type(name: "UserMessage") { ...F } } fragment F on __Type { fields { type { name } } }'
    )

    status, body = post_raw(alice, query_body(query))

    assert status == 400
    assert [e["message"] for e in body["errors"]] == [
        "The query nests fields more than 3 levels deep."
    ]


def test_many_repeated_fragment_spreads_are_walked_once(alice: Client) -> None:
    # Each fragment spreads the next twice: naive expansion would walk 2**30 selections.
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    query = f"query {{ ...F0 }} {fragments} fragment F30 on Query {{ myMessageCount }}"

    assert post_raw(alice, query_body(query)) == (200, {"data": {"myMessageCount": 0}})


def test_graphiqls_introspection_and_every_published_operation_fit_the_defaults(
    alice: Client,
) -> None:
    from graphql import get_introspection_query

    status, body = post_raw(alice, query_body(get_introspection_query(descriptions=True)))
    assert status == 200, body
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        status, body = post_raw(alice, query_body(path.read_text()))
        assert status == 200 or "Variable" in json.dumps(body), (path.name, body)


def test_an_oversized_body_is_a_400(alice: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    status, body = post_raw(alice, json.dumps({"query": "{ myMessageCount }", "pad": "x" * 2000}))

    assert status == 400
    assert "exceeded" in body["errors"][0]["message"]
    assert not Message.objects.exists()


def test_the_view_keeps_csrf_protection(user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(
        "/graphql", query_body("{ myMessages { message } }"), content_type="application/json"
    )

    assert response.status_code == 403
