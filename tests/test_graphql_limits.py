"""The package's GraphQLView bounds each request: tokens, depth, fields, body size and nesting.

Every test drives the real view at /graphql (tests/urls.py routes it as the README says) and
compares the exact status and JSON a client gets: just under a limit passes, just over is refused.
"""

from __future__ import annotations

import json
from typing import Any

import graphql
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from graphql import parse, validate

from tests.operations import contract_schema, operation
from user_messages.graphql_limits import validation_rules
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stack"), pytest.mark.async_view]

NESTED_TOO_DEEPLY = {"errors": [{"message": "The request is nested too deeply."}]}


def post_query(client: Client, query: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/graphql", json.dumps({"query": query, **extra}), content_type="application/json"
    )
    assert response["Content-Type"] == "application/graphql-response+json; charset=utf-8"
    return response.status_code, response.json()


def aliases(count: int) -> str:
    return "{" + " ".join(f"a{i}: myMessageCount" for i in range(count)) + "}"


def type_of_type(depth: int) -> str:
    """An introspection query ``depth`` fields deep: __type, then ofType, ..., then name."""
    return '{ __type(name: "Query") { ' + "ofType { " * (depth - 2) + "name" + " }" * depth


def test_a_query_of_max_query_tokens_passes_and_one_more_token_is_refused(client):
    # Comments count as tokens, so a comment-padded document cannot slip past the parser.
    at_limit = "{ myMessageCount " + "#\n" * 497 + "}"

    assert post_query(client, at_limit) == (200, {"data": {"myMessageCount": 0}})
    assert post_query(client, "#\n" + at_limit) == (
        400,
        {
            "errors": [
                {
                    "message": "Syntax Error: Document contains more than 500 tokens."
                    " Parsing aborted.",
                    "locations": [{"line": 499, "column": 1}],
                }
            ]
        },
    )


def test_max_query_tokens_is_read_from_the_setting(client, settings):
    settings.USER_MESSAGES = {"MAX_QUERY_TOKENS": 3}

    assert post_query(client, "{ myMessageCount }")[0] == 200
    status, body = post_query(client, "{ myMessageCount __typename }")
    assert status == 400
    assert body["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 3 tokens. Parsing aborted."
    )


def test_a_hundred_thousand_aliases_are_refused_by_the_parser_without_a_query(
    client, django_assert_num_queries, settings
):
    # MAX_QUERY_LENGTH would refuse the 2 MB before parsing: the token limit is what is tested.
    settings.USER_MESSAGES = {"MAX_QUERY_LENGTH": 10**7}
    query = aliases(100_000)

    with django_assert_num_queries(0):
        status, body = post_query(client, query)

    assert status == 400
    (error,) = body["errors"]
    assert error["message"] == (
        "Syntax Error: Document contains more than 500 tokens. Parsing aborted."
    )
    # The parser stopped at the 501st token (the colon of alias 166), not at the end of 2 MB.
    assert error["locations"] == [{"line": 1, "column": query.index("a166:") + 5}]


def test_max_query_fields_aliases_pass_and_one_more_is_refused(client, settings):
    # 500 aliases take 1,502 tokens: room enough that the fields limit is what refuses.
    settings.USER_MESSAGES = {"MAX_QUERY_TOKENS": 2000}
    status, body = post_query(client, aliases(500))
    assert status == 200
    assert len(body["data"]) == 500

    assert post_query(client, aliases(501)) == (
        400,
        {
            "errors": [
                {
                    "message": "The operation selects more than 500 fields;"
                    " each alias and each fragment spread counts.",
                    "locations": [{"line": 1, "column": 1}],
                }
            ]
        },
    )


def test_fragments_spread_again_and_again_count_every_time(client):
    # Ten fragments, each spreading the one before twice: 1,024 fields in 60 tokens.
    fragments = "fragment F0 on Query { myMessageCount }\n" + "\n".join(
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 11)
    )

    status, body = post_query(client, f"query Bomb {{ ...F10 }}\n{fragments}")

    assert status == 400
    assert body["errors"][0]["message"] == (
        "Operation 'Bomb' selects more than 500 fields; each alias and each fragment spread counts."
    )


def test_max_query_depth_fields_deep_pass_and_one_deeper_is_refused(client):
    status, body = post_query(client, type_of_type(15))
    assert (status, body) == (200, {"data": {"__type": {"ofType": None}}})

    assert post_query(client, type_of_type(16)) == (
        400,
        {
            "errors": [
                {
                    "message": "The operation nests fields 16 deep, more than the limit of 15.",
                    "locations": [{"line": 1, "column": 1}],
                }
            ]
        },
    )


def test_depth_counts_the_fields_inside_fragments(client, settings):
    settings.USER_MESSAGES = {"MAX_QUERY_DEPTH": 2}
    query = "query Deep { myMessages { ...M } } fragment M on UserMessage { message }"

    assert post_query(client, query)[0] == 200
    settings.USER_MESSAGES = {"MAX_QUERY_DEPTH": 1}
    assert post_query(client, query)[1]["errors"][0]["message"] == (
        "Operation 'Deep' nests fields 2 deep, more than the limit of 1."
    )


def test_graphiqls_introspection_query_fits_the_default_limits(client):
    from graphql import get_introspection_query

    query = get_introspection_query(
        descriptions=True, input_value_deprecation=True, specified_by_url=True
    )

    status, body = post_query(client, query)

    assert status == 200
    assert "errors" not in body


@pytest.mark.parametrize(
    "query",
    [
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ ...Missing }",
        "{ ...A } fragment A on Query { myMessageCount ...A }",
    ],
)
def test_broken_fragments_get_graphqls_own_errors_not_a_server_error(client, query):
    status, body = post_query(client, query)

    assert status == 400
    assert body["errors"] == [
        {"message": error.message, "locations": [loc._asdict() for loc in error.locations]}
        for error in validate(contract_schema(), parse(query))
    ]


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_a_json_body_nested_thousands_deep_is_a_400_with_a_json_error(client, settings, depth):
    settings.DEBUG = True
    body = '{"query": "{ myMessageCount }", "variables": ' + "[" * depth + "]" * depth + "}"

    response = client.post("/graphql", body, content_type="application/json")

    assert response.status_code == 400
    # 1,000 deep overflows Python 3.11's JSON parser (graphene-django answered 500); 3.12's
    # parses it, and the list is refused as variables. Deeper still overflows every version.
    assert "errors" in response.json()
    if depth > 1000:
        assert response.json() == NESTED_TOO_DEEPLY


@pytest.mark.parametrize("variables", ["[[]]", "[1]", "5", "true"])
def test_variables_that_are_not_an_object_are_a_400(client, variables):
    body = '{"query": "{ myMessageCount }", "variables": ' + variables + "}"

    response = client.post("/graphql", body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {
            "errors": [
                {
                    "message": "Variable values must be provided as a dictionary with variable "
                    "names as keys. Perhaps look to see if an unparsed JSON string was provided."
                }
            ]
        },
    )


def test_variables_sent_as_a_string_nested_too_deeply_are_refused(client):
    variables = "[" * 100_000 + "]" * 100_000

    assert post_query(client, "{ myMessageCount }", variables=variables) == (
        400,
        {"errors": [{"message": "Variables are invalid JSON."}]},
    )


@pytest.mark.parametrize(
    "query",
    [
        "{ a " * 300 + "}" * 300,
        "{ myMessages(peek: " + "[" * 300 + "]" * 300 + ") { id } }",
    ],
)
def test_a_query_document_nested_too_deeply_is_a_syntax_error(client, query):
    status, body = post_query(client, query)

    assert status == 400
    assert body["errors"][0]["message"] == (
        "Syntax Error: Document is nested too deeply. Parsing aborted."
    )


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/graphql", "application/x-www-form-urlencoded"]
)
def test_a_body_of_data_upload_max_memory_size_passes_and_one_byte_more_is_a_413(
    client, settings, content_type
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    document = "{ myMessageCount }"
    body = {
        "application/json": json.dumps({"query": document}),
        "application/graphql": document,
        "application/x-www-form-urlencoded": "query=%7B+myMessageCount+%7D",
    }[content_type]
    padded = body + " " * (1000 - len(body))

    response = client.post("/graphql", padded, content_type=content_type)
    assert (response.status_code, response.json()) == (200, {"data": {"myMessageCount": 0}})

    response = client.post("/graphql", padded + " ", content_type=content_type)
    assert (response.status_code, response.json()) == (
        413,
        {"errors": [{"message": "The request body is larger than the server accepts."}]},
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/graphql", b"{ myMessageCount \xff }"),
        ("multipart/form-data; boundary=", b"--\r\n"),
    ],
)
def test_a_body_that_cannot_be_decoded_is_a_400(client, content_type, body):
    response = client.post("/graphql", body, content_type=content_type)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "The request body cannot be decoded."}]}


def test_csrf_stays_enforced(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("alice"))
    query = json.dumps({"query": "{ myMessages { message } }"})

    refused = client.post("/graphql", query, content_type="application/json")
    token = client.get("/graphql", HTTP_ACCEPT="application/json").cookies["csrftoken"].value
    accepted = client.post(
        "/graphql", query, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert refused.status_code == 403
    assert (accepted.status_code, accepted.json()) == (200, {"data": {"myMessages": []}})


def test_validation_rules_passed_to_the_view_add_to_graphqls_own(
    rf: RequestFactory, user, stack: str
):
    if stack == "strawberry":
        import strawberry
        from strawberry.extensions import DisableIntrospection

        import user_messages.strawberry

        # On Strawberry the rules come from the schema's extensions, the package's last.
        schema = strawberry.Schema(
            query=user_messages.strawberry.Query,
            extensions=[DisableIntrospection, user_messages.strawberry.QueryLimits],
        )
        view = user_messages.strawberry.GraphQLView.as_view(schema=schema, graphql_ide=None)
        disabled = (
            "GraphQL introspection has been disabled, but the requested query contained the "
            "field '__schema'."
        )
    else:
        from graphene.validation import DisableIntrospection

        from user_messages.views import GraphQLView

        view = GraphQLView.as_view(validation_rules=(DisableIntrospection,))
        disabled = "Cannot query '__schema': introspection is disabled."

    def post(query: str) -> dict[str, Any]:
        request = rf.post("/graphql", {"query": query}, content_type="application/json")
        request.user = user
        request._dont_enforce_csrf_checks = True
        return json.loads(view(request).content)

    assert post("{ __schema { queryType { name } } }")["errors"][0]["message"] == disabled
    # graphene-django's own view would run this unvalidated: the rule list replaces the spec's.
    assert post("{ nope }")["errors"][0]["message"] == "Cannot query field 'nope' on type 'Query'."
    assert Message.objects.count() == 0


def test_the_rules_refuse_a_bad_limit_with_the_value_and_what_to_pass():
    with pytest.raises(ValueError, match=r"^max_depth must be a positive int, got 0\.$"):
        validation_rules(max_depth=0)
    with pytest.raises(ValueError, match=r"^max_fields must be a positive int, got '5'\.$"):
        validation_rules(max_fields="5")  # type: ignore[arg-type]


def test_validation_rules_helper_returns_the_specified_rules_and_both_limits():
    document = parse("{ a: myMessageCount b: myMessageCount }")

    errors = validate(contract_schema(), document, validation_rules(max_fields=1))

    assert [error.message for error in errors] == [
        "The operation selects more than 1 fields; each alias and each fragment spread counts."
    ]


def fragment_chain(length: int) -> str:
    """An operation spreading F0, which spreads F1, ... down to one field."""
    chain = "\n".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(length))
    return f"{{ ...F0 }}\n{chain}\nfragment F{length} on Query {{ myMessageCount }}"


def test_a_long_chain_of_fragments_is_answered_or_refused_by_graphql_core(client, settings):
    # Spreads meeting at one path count as comparisons; this test is about nesting, in
    # documents of 1,200 to 1,900 tokens.
    settings.USER_MESSAGES = {"MAX_QUERY_COMPARISONS": 10**6, "MAX_QUERY_TOKENS": 2000}
    assert post_query(client, fragment_chain(150)) == (200, {"data": {"myMessageCount": 0}})
    # graphql-core stops validating past 200 levels of fragments: a 400, not a stack overflow.
    assert post_query(client, fragment_chain(240)) == (
        400,
        {"errors": [{"message": "Validation aborted."}]},
    )


def test_the_rules_walk_any_chain_of_fragments_without_recursing():
    document = parse(fragment_chain(5000), max_tokens=None)

    errors = validate(contract_schema(), document, validation_rules())

    # The walk counts the 5,000 spreads without recursing, and stops past the fields limit.
    assert [error.message for error in errors] == [
        "The operation selects more than 500 fields; each alias and each fragment spread counts."
    ]


def _invalid_id(value: str) -> str:
    # graphql-core words it (both stacks run on it); 3.3, which only Strawberry accepts, anew.
    if graphql.version_info >= (3, 3):
        return f"Variable '$ids' has invalid value at [0]: ID cannot represent value: {value}"
    return (
        f"Variable '$ids' got invalid value {value} at 'ids[0]'; ID cannot represent value: {value}"
    )


@pytest.mark.parametrize(
    ("number", "message"),
    [
        # Python refuses to parse integers of more than 4,300 digits (a quadratic conversion).
        ("1" * 5000, "POST body sent invalid JSON."),
        ("1e999999", _invalid_id("inf")),
        ("NaN", _invalid_id("nan")),
    ],
)
def test_numbers_no_type_can_hold_are_a_400(client, number, message):
    query = json.dumps(operation("AcknowledgeMessages"))
    body = f'{{"query": {query}, "variables": {{"ids": [{number}]}}}}'

    response = client.post("/graphql", body, content_type="application/json")

    assert response.status_code == 400
    assert [error["message"] for error in response.json()["errors"]] == [message]


def test_a_multipart_body_with_a_file_over_the_limit_is_a_413_before_it_is_read(client, settings):
    # Django does not count file parts against DATA_UPLOAD_MAX_MEMORY_SIZE: the body was read
    # in full and the query answered 200.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    upload = SimpleUploadedFile("big.bin", b"x" * 1001)

    response = client.post("/graphql", {"query": "{ myMessageCount }", "file": upload})

    assert (response.status_code, response.json()) == (
        413,
        {"errors": [{"message": "The request body is larger than the server accepts."}]},
    )


def test_a_multipart_body_under_the_limit_is_answered(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    upload = SimpleUploadedFile("small.bin", b"x" * 100)

    response = client.post("/graphql", {"query": "{ myMessageCount }", "file": upload})

    assert (response.status_code, response.json()) == (200, {"data": {"myMessageCount": 0}})


def test_a_multipart_body_of_many_small_parts_is_a_400(client):
    # Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) bounds the parts; refused, not a 500.
    fields = {f"f{i}": "x" for i in range(1001)}

    response = client.post("/graphql", {"query": "{ myMessageCount }", **fields})

    assert (response.status_code, response.json()) == (
        400,
        {"errors": [{"message": "The request body is refused."}]},
    )
