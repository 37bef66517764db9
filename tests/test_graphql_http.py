"""GraphQL over HTTP on both stacks' views: media types, status codes, parameters, the operation
to run, CSRF refusals and what a request writes to the logs.

Every test drives the real view (``stack`` serves graphene's or Strawberry's at /graphql); the
whole specification is audited through a real server in tests/test_clients.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from graphql import GraphQLError

from tests.conftest import CONSUMER_URLCONF
from tests.operations import operation
from user_messages import api, graphql_rules
from user_messages.graphql_http import log_server_errors, media_type
from user_messages.models import Message

pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.async_view]

URL = "/graphql"
NEW = "application/graphql-response+json; charset=utf-8"
LEGACY = "application/json; charset=utf-8"
INVALID = "{ myMessageCount noSuchField }"
INVALID_ERROR = {
    "message": "Cannot query field 'noSuchField' on type 'Query'.",
    "locations": [{"line": 1, "column": 18}],
}


def post(
    client: Client, body: Any, accept: str | None = None, **extra: Any
) -> tuple[int, str, dict[str, Any]]:
    """POST ``body`` as JSON; the status, Content-Type and decoded answer."""
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = client.post(
        URL,
        body if isinstance(body, (str, bytes)) else json.dumps(body),
        content_type="application/json",
        **headers,
        **extra,
    )
    return response.status_code, response["Content-Type"], response.json()


def get(client: Client, accept: str | None = None, **params: str) -> Any:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return client.get(URL, params, **headers)


# Media types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/graphql-response+json", "application/graphql-response+json"),
        ("application/json", "application/json"),
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("text/html", "application/json"),
        # urql's header: the new type first.
        (
            "application/graphql-response+json, application/graphql+json, application/json, "
            "text/event-stream, multipart/mixed",
            "application/graphql-response+json",
        ),
        (
            "application/json, application/graphql-response+json",
            "application/graphql-response+json",
        ),
        ("application/graphql-response+json;q=0.5, application/json", "application/json"),
        ("application/graphql-response+json;q=0, */*", "application/json"),
        ("application/graphql-response+json;q=junk, application/json", "application/json"),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", "application/graphql-response+json"),
    ],
)
def test_the_media_type_follows_what_the_client_accepts(accept: str | None, expected: str) -> None:
    assert media_type(accept) == expected


@pytest.mark.parametrize("accept", ["application/graphql-response+json", "application/json"])
def test_an_answer_with_data_is_200_in_the_media_type_asked_for(accept: str) -> None:
    client = Client()

    posted = post(client, {"query": "{ myMessageCount }"}, accept)
    got = get(client, accept, query="{ myMessageCount }")

    assert posted == (200, f"{accept}; charset=utf-8", {"data": {"myMessageCount": 0}})
    assert (got.status_code, got["Content-Type"], got.json()) == posted


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"query": INVALID}, INVALID_ERROR),
        (
            {"query": "{ myMessageCount"},
            {
                "message": "Syntax Error: Expected Name, found <EOF>.",
                "locations": [{"line": 1, "column": 17}],
            },
        ),
        (
            {"query": "query($n: Int!) { myMessageHistory(first: $n) { pendingCount } }"},
            # graphql-core words it; 3.3, which only Strawberry accepts, may word it anew.
            None,
        ),
    ],
    ids=["validation", "parse", "variables"],
)
def test_a_request_error_is_400_without_data_in_the_new_media_type_and_200_in_the_legacy_one(
    body: dict[str, Any], error: dict[str, Any] | None
) -> None:
    client = Client()
    if error is None:
        error = post(client, body)[2]["errors"][0]
        assert error["message"].startswith("Variable '$n' ")

    assert post(client, body, "application/graphql-response+json") == (
        400,
        NEW,
        {"errors": [error]},
    )
    assert post(client, body, "application/json") == (200, LEGACY, {"errors": [error]})
    assert post(client, body) == (200, LEGACY, {"errors": [error]})


def test_a_document_over_a_cost_limit_is_a_request_error_in_both_media_types() -> None:
    client = Client()
    over = {"query": "{" + " myMessageCount" * 600 + "}"}
    message = "Syntax Error: Document contains more than 500 tokens. Parsing aborted."

    new = post(client, over, "application/graphql-response+json")
    legacy = post(client, over, "application/json")

    assert (new[0], [error["message"] for error in new[2]["errors"]], "data" in new[2]) == (
        400,
        [message],
        False,
    )
    assert (legacy[0], legacy[2]) == (200, new[2])


def test_a_field_error_is_200_with_data_in_both_media_types() -> None:
    client = Client()
    query = {"query": "{ myMessageHistory(first: 0) { pendingCount } }"}

    for accept, content_type in (("application/graphql-response+json", NEW), (None, LEGACY)):
        status, got_type, body = post(client, query, accept)

        assert (status, got_type, body["data"]) == (200, content_type, None)
        assert body["errors"][0]["path"] == ["myMessageHistory"]


@pytest.mark.parametrize("accept", ["application/graphql-response+json", "application/json"])
def test_refusals_of_the_http_request_keep_their_status_in_both_media_types(
    accept: str, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    client = Client()

    too_large = post(client, {"query": "{ myMessageCount }" + " " * 100}, accept)
    not_json = post(client, '{"query": ', accept)
    mutation_over_get = get(client, accept, query=operation("AcknowledgeAllMessages"))

    content_type = f"{accept}; charset=utf-8"
    assert too_large[:2] == (413, content_type)
    assert not_json == (
        400,
        content_type,
        {"errors": [{"message": "POST body sent invalid JSON."}]},
    )
    assert (mutation_over_get.status_code, mutation_over_get["Content-Type"]) == (
        405,
        content_type,
    )


def test_errors_as_data_of_a_mutation_are_200_with_data_in_both_media_types(
    sender: Client,
) -> None:
    variables = {"input": {"recipients": ["999999"], "level": "INFO", "message": "Hi"}}
    body = {"query": operation("SendMessage"), "variables": variables}

    for accept in ("application/graphql-response+json", "application/json"):
        status, _, answer = post(sender, body, accept)

        assert status == 200
        assert answer["data"]["sendMessage"]["errors"][0]["code"] == "NOT_FOUND"
    assert not Message.objects.exists()


# The operation to run -------------------------------------------------------------------------

TWO_OPERATIONS = "query A { myMessageCount } query B { count: myMessageCount }"
NO_NAME = "Must provide operation name if query contains multiple operations."


def test_several_operations_without_an_operation_name_run_none_of_them() -> None:
    client = Client()
    refused = {"errors": [{"message": NO_NAME}]}

    assert post(client, {"query": TWO_OPERATIONS}, "application/graphql-response+json") == (
        400,
        NEW,
        refused,
    )
    assert post(client, {"query": TWO_OPERATIONS}, "application/json") == (200, LEGACY, refused)
    over_get = get(client, "application/graphql-response+json", query=TWO_OPERATIONS)
    assert (over_get.status_code, over_get.json()) == (400, refused)


def test_the_named_operation_of_several_runs_and_an_unknown_name_runs_none() -> None:
    client = Client()
    accept = "application/graphql-response+json"

    named = post(client, {"query": TWO_OPERATIONS, "operationName": "B"}, accept)
    unknown = post(client, {"query": TWO_OPERATIONS, "operationName": "C"}, accept)

    assert named == (200, NEW, {"data": {"count": 0}})
    assert unknown == (400, NEW, {"errors": [{"message": "Unknown operation named 'C'."}]})


def test_validation_errors_come_before_the_missing_operation_name() -> None:
    query = f"{TWO_OPERATIONS} query C {{ noSuchField }}"

    status, _, body = post(Client(), {"query": query}, "application/graphql-response+json")

    assert status == 400
    assert [error["message"] for error in body["errors"]] == [
        "Cannot query field 'noSuchField' on type 'Query'."
    ]


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("subscription { myMessageCount }", "subscription"),
        ("mutation { acknowledgeAllMessages { acknowledgedCount } }", "mutation"),
    ],
)
def test_only_queries_run_over_get(query: str, kind: str) -> None:
    response = get(Client(), "application/graphql-response+json", query=query)

    assert (response.status_code, response["Allow"], response.json()) == (
        405,
        "POST",
        {"errors": [{"message": f"Can only perform a {kind} operation from a POST request."}]},
    )


# Parameters of the wrong type -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": 5}, "The query parameter must be a string of GraphQL, not a number."),
        ({"query": 1.5}, "The query parameter must be a string of GraphQL, not a number."),
        ({"query": ["{ a }"]}, "The query parameter must be a string of GraphQL, not a list."),
        ({"query": {"a": 1}}, "The query parameter must be a string of GraphQL, not an object."),
        ({"query": True}, "The query parameter must be a string of GraphQL, not a boolean."),
        ({"query": 0}, "The query parameter must be a string of GraphQL, not a number."),
        ({"query": None}, "Must provide query string."),
        ({"query": ""}, "Must provide query string."),
        ({}, "Must provide query string."),
        (
            {"query": "{ myMessageCount }", "operationName": 1},
            "The operationName parameter must be a string or null, not a number.",
        ),
        (
            {"query": "{ myMessageCount }", "operationName": ["A"]},
            "The operationName parameter must be a string or null, not a list.",
        ),
        (
            {"query": "{ myMessageCount }", "extensions": "x"},
            "The extensions parameter must be an object or null, not a string.",
        ),
        (
            {"query": "{ myMessageCount }", "extensions": [1]},
            "The extensions parameter must be an object or null, not a list.",
        ),
        (
            {"query": "{ myMessageCount }", "variables": [1]},
            "Variable values must be provided as a dictionary with variable names as keys. "
            "Perhaps look to see if an unparsed JSON string was provided.",
        ),
        (
            {"query": "{ myMessageCount }", "variables": 7},
            "Variable values must be provided as a dictionary with variable names as keys. "
            "Perhaps look to see if an unparsed JSON string was provided.",
        ),
        ({"query": "{ myMessageCount }", "variables": "[1"}, "Variables are invalid JSON."),
    ],
)
def test_a_parameter_of_the_wrong_type_is_a_400_that_says_so_in_the_clients_terms(
    body: dict[str, Any], message: str
) -> None:
    for accept in ("application/graphql-response+json", "application/json"):
        assert post(Client(), body, accept)[0::2] == (400, {"errors": [{"message": message}]})


def test_a_query_string_and_an_empty_variables_parameter_are_read_as_before() -> None:
    response = get(Client(), None, query="{ myMessageCount }", variables="")

    assert (response.status_code, response.json()) == (200, {"data": {"myMessageCount": 0}})


# CSRF -----------------------------------------------------------------------------------------

CSRF_REFUSED = {
    "errors": [
        {
            "message": (
                "CSRF verification failed: send the csrftoken cookie's value in the "
                "X-CSRFToken header (and, over HTTPS, a Referer or Origin of this site)."
            ),
            "extensions": {"code": "CSRF_FAILED"},
        }
    ]
}


@pytest.mark.parametrize("accept", ["application/graphql-response+json", None])
def test_a_cross_site_post_without_the_token_gets_a_graphql_error_not_djangos_page(
    user: AbstractBaseUser, accept: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    api.info(user, "Once.")
    attacker = Client(enforce_csrf_checks=True)
    attacker.force_login(user)

    answer = post(attacker, {"query": "{ myMessages { message } }"}, accept)

    assert answer == (403, NEW if accept else LEGACY, CSRF_REFUSED)
    assert list(Message.objects.values_list("delivered_at", flat=True)) == [None]
    # Django's own security log of the refusal stays, and its line for every 4xx.
    assert [(r.name, r.levelname) for r in caplog.records if r.levelno > logging.INFO] == [
        ("django.security.csrf", "WARNING"),
        ("django.request", "WARNING"),
    ]


def test_a_post_with_the_token_from_the_cookie_passes_the_check(user: AbstractBaseUser) -> None:
    api.info(user, "Once.")
    page = Client(enforce_csrf_checks=True)
    page.force_login(user)
    token = get(page, "application/json", query="{ myMessageCount }").cookies["csrftoken"].value

    answer = post(page, {"query": "{ myMessages { message } }"}, None, HTTP_X_CSRFTOKEN=token)

    assert answer == (200, LEGACY, {"data": {"myMessages": [{"message": "Once."}]}})


def test_a_token_kept_in_the_session_is_checked_as_one_in_the_cookie(
    user: AbstractBaseUser, settings: Any
) -> None:
    # The async view checks on the event loop: the middleware has loaded the session before.
    settings.CSRF_USE_SESSIONS = True
    api.info(user, "Once.")
    page = Client(enforce_csrf_checks=True)
    page.force_login(user)
    assert get(page, "application/json", query="{ myMessageCount }").status_code == 200
    token = page.session["_csrftoken"]

    refused = post(page, {"query": "{ myMessages { message } }"}, None)
    answer = post(page, {"query": "{ myMessages { message } }"}, None, HTTP_X_CSRFTOKEN=token)

    assert refused == (403, LEGACY, CSRF_REFUSED)
    assert answer == (200, LEGACY, {"data": {"myMessages": [{"message": "Once."}]}})


def test_a_token_kept_in_the_session_is_given_even_without_the_csrf_middleware(
    user: AbstractBaseUser, settings: Any
) -> None:
    settings.CSRF_USE_SESSIONS = True
    settings.MIDDLEWARE = [
        entry
        for entry in settings.MIDDLEWARE
        if entry != "django.middleware.csrf.CsrfViewMiddleware"
    ]
    page = Client()
    page.force_login(user)

    # A query that reads no user: nothing else loads the session (the async view does, off
    # the event loop).
    answer = post(page, {"query": "{ __typename }"})

    assert answer == (200, LEGACY, {"data": {"__typename": "Query"}})
    assert page.session["_csrftoken"]


def test_a_view_wrapped_without_the_csrf_middleware_still_answers(settings: Any) -> None:
    settings.MIDDLEWARE = [
        entry
        for entry in settings.MIDDLEWARE
        if entry != "django.middleware.csrf.CsrfViewMiddleware"
    ]

    answer = post(Client(enforce_csrf_checks=True), {"query": "{ myMessageCount }"})

    if settings.ROOT_URLCONF == CONSUMER_URLCONF:
        # No middleware runs before the Channels consumer: it checks whatever MIDDLEWARE lists.
        assert answer == (403, LEGACY, CSRF_REFUSED)
    else:
        assert answer == (200, LEGACY, {"data": {"myMessageCount": 0}})


# Logs: a client's mistake is not a server error -----------------------------------------------

MISTAKES = {
    "signed out, consuming over GET": ("GET", {"query": "{ myMessages { id } }"}),
    "first: 0": ("GET", {"query": "{ myMessageHistory(first: 0) { pendingCount } }"}),
    "garbage cursor": (
        "GET",
        {"query": '{ myMessageHistory(first: 1, after: "%%%garbage") { pendingCount } }'},
    ),
    "validation error": ("POST", {"query": INVALID}),
    "parse error": ("POST", {"query": "{"}),
    "variables": (
        "POST",
        {"query": "query($n: Int!) { myMessageHistory(first: $n) { pageInfo { hasNextPage } } }"},
    ),
    "several operations": ("POST", {"query": TWO_OPERATIONS}),
    "query not a string": ("POST", {"query": 5}),
    "mutation over GET": (
        "GET",
        {"query": "mutation { acknowledgeAllMessages { acknowledgedCount } }"},
    ),
    "signed out mutation": (
        "POST",
        {"query": "mutation { acknowledgeAllMessages { acknowledgedCount } }"},
    ),
}


def send(client: Client, method: str, body: dict[str, Any], accept: str) -> int:
    if method == "GET":
        return get(client, accept, **body).status_code
    return client.post(
        URL, json.dumps(body), content_type="application/json", HTTP_ACCEPT=accept
    ).status_code


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_clients_mistake_logs_nothing_above_info_and_no_traceback(
    mistake: str, caplog: pytest.LogCaptureFixture
) -> None:
    method, body = MISTAKES[mistake]
    caplog.set_level(logging.DEBUG)

    legacy = send(Client(), method, body, "application/json")
    legacy_records = [r for r in caplog.records if r.levelno > logging.INFO or r.exc_info]
    caplog.clear()
    new = send(Client(), method, body, "application/graphql-response+json")
    new_records = [r for r in caplog.records if r.levelno > logging.INFO or r.exc_info]

    assert 200 <= legacy < 500
    assert 200 <= new < 500
    # A 4xx is logged by Django itself as it logs every one: one line, no traceback.
    for records, status in ((legacy_records, legacy), (new_records, new)):
        assert [(r.name, r.levelname, r.exc_info) for r in records] == (
            [("django.request", "WARNING", None)] if status >= 400 else []
        )


def test_an_unexpected_exception_in_a_resolver_logs_an_error_with_its_traceback(
    alice: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(user: Any, **options: Any) -> int:
        raise ZeroDivisionError("a bug in the server")

    # A fault injected where a bug would be: the view and the schema stay real.
    monkeypatch.setattr(graphql_rules.api, "pending_count", broken)

    status, _, body = post(alice, {"query": "{ myMessageCount }"}, "application/json")

    assert (status, body["data"]) == (200, None)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is ZeroDivisionError
    assert "a bug in the server" in errors[0].getMessage()


def test_an_error_that_is_not_graphqls_is_the_servers_and_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        raise LookupError("the view's context failed")
    except LookupError as error:
        failure = error

    log_server_errors([GraphQLError("first must be from 1 to 100, got 0."), failure])

    assert [(r.name, r.levelname, r.exc_info and r.exc_info[1]) for r in caplog.records] == [
        ("user_messages.graphql", "ERROR", failure)
    ]
