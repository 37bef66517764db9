"""What an attacker can make the real GraphQL view do: lose nothing, cost bounded work.

Every test drives the library's own GraphQLView (graphene-django's, or Strawberry's with a schema
without the package's extension: not the package's view with its document limits) through
Django's test client with the full middleware stack (CSRF on), as a host project that composes
the package's schema into its own does: the package protects it anyway.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.operations import operation
from tests.test_graphql_mutations import acknowledge
from tests.test_graphql_query import flash, my_messages, texts
from user_messages import api
from user_messages.graphql_rules import CONSUMING_NEEDS_POST
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("stack")

URL = "/graphql-plain"


def post(client: Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(
        URL,
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def pending_rows(user: AbstractBaseUser) -> list[str]:
    return list(
        Message.objects.for_user(user).pending().order_by("pk").values_list("message", flat=True)
    )


# 1. A GET never consumes ------------------------------------------------------------------


def test_a_get_of_my_messages_is_refused_and_consumes_nothing(
    alice: Client, user: AbstractBaseUser
) -> None:
    api.warning(user, "Security alert: new sign-in.")
    api.info(user, "Sticky.", deliver_once=False)
    flash(alice, "Flashed.")

    # What an <img src="/graphql?query=..."> on any page of the site would make the browser send.
    response = alice.get(URL, {"query": "{ myMessages { message } }"})

    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": CONSUMING_NEEDS_POST,
                "locations": [{"line": 1, "column": 3}],
                "path": ["myMessages"],
            }
        ],
        "data": None,
    }
    assert pending_rows(user) == ["Security alert: new sign-in.", "Sticky."]
    # The session message is still there too, and so is everything stored.
    assert texts(my_messages(alice)) == ["Flashed.", "Security alert: new sign-in.", "Sticky."]


def test_the_refusal_says_what_to_do_instead() -> None:
    assert CONSUMING_NEEDS_POST == (
        "myMessages marks what it returns as read, so it needs a POST request (which Django "
        "checks for CSRF): send this query with POST, or pass peek: true to read without "
        "consuming."
    )


def test_a_get_with_peek_reads_without_consuming(alice: Client, user: AbstractBaseUser) -> None:
    api.info(user, "Once.")
    flash(alice, "Flashed.")

    response = alice.get(URL, {"query": "{ myMessages(peek: true) { message } }"})

    assert response.json() == {
        "data": {"myMessages": [{"message": "Flashed."}, {"message": "Once."}]}
    }
    assert texts(my_messages(alice)) == ["Flashed.", "Once."]


@pytest.mark.parametrize("method", ["head", "options", "put", "delete"])
def test_other_methods_neither_answer_nor_consume(
    alice: Client, user: AbstractBaseUser, method: str
) -> None:
    api.info(user, "Once.")

    response = getattr(alice, method)(URL + "?query=%7BmyMessages%7Bmessage%7D%7D")

    assert response.status_code in {403, 405}
    assert pending_rows(user) == ["Once."]


#: How each library's own view refuses a mutation sent with GET.
GET_MUTATION_REFUSALS = {
    "graphene": (
        405,
        b'{"errors":[{"message":"Can only perform a mutation operation from a POST request."}]}',
    ),
    "strawberry": (400, b"mutations are not allowed when using GET"),
}


def test_a_get_cannot_acknowledge(alice: Client, user: AbstractBaseUser, stack: str) -> None:
    message = api.info(user, "Sticky.", deliver_once=False)

    response = alice.get(
        URL,
        {"query": f'mutation {{ acknowledgeMessages(ids: ["{message.pk}"]) {{ __typename }} }}'},
    )

    assert (response.status_code, response.content) == GET_MUTATION_REFUSALS[stack]
    assert pending_rows(user) == ["Sticky."]


def test_a_get_cannot_send(sender: Client, user: AbstractBaseUser, stack: str) -> None:
    response = sender.get(
        URL,
        {
            "query": operation("SendMessage"),
            "variables": json.dumps(
                {"input": {"recipients": [str(user.pk)], "level": "INFO", "message": "Hi"}}
            ),
        },
    )

    assert response.status_code == GET_MUTATION_REFUSALS[stack][0]
    assert not Message.objects.exists()


def run_as_a_host_view_does(stack: str, request: Any, query: str) -> list[str]:
    """Run ``query`` as a host's own endpoint would: the schema, with no check of the method.

    Both libraries' views refuse a mutation over GET before any resolver runs; a host view
    that executes the schema itself (a persisted-query endpoint, a GraphQLView subclass that
    replaces the execution) has only the package's resolvers between a GET and a write.
    Returns the messages of the result's errors.
    """
    if stack == "strawberry":
        from tests.strawberry_schema import plain_schema

        result = plain_schema.execute_sync(query, context_value={"request": request})
    else:
        from tests.schema import schema

        result = schema.execute(query, context_value=request)
    return [error.message for error in result.errors or []]


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_a_host_view_that_runs_mutations_over_any_method_still_writes_nothing_over_get(
    rf: Any, user: AbstractBaseUser, stack: str, method: str
) -> None:
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="user_messages", codename="add_message")
    )
    message = api.info(user, "Sticky.", deliver_once=False)
    acknowledge = f'mutation {{ acknowledgeMessages(ids: ["{message.pk}"]) {{ __typename }} }}'
    send = (
        f'mutation {{ sendMessage(input: {{recipients: ["{user.pk}"], level: INFO, '
        'message: "Hi"}) { count } }'
    )
    request = rf.generic(method, URL)
    request.user = user

    errors = [run_as_a_host_view_does(stack, request, query) for query in (acknowledge, send)]

    assert errors == [
        ["acknowledgeMessages changes data, so it needs a POST request."],
        ["sendMessage changes data, so it needs a POST request."],
    ]
    assert list(Message.objects.values_list("message", flat=True)) == ["Sticky."]
    assert pending_rows(user) == ["Sticky."]
    # The same view over POST (which Django's CSRF middleware checks) writes.
    request.method = "POST"
    assert run_as_a_host_view_does(stack, request, acknowledge) == []
    assert run_as_a_host_view_does(stack, request, send) == []
    assert pending_rows(user) == ["Hi"]


def test_a_cross_site_post_without_the_csrf_token_is_refused(
    user: AbstractBaseUser,
) -> None:
    api.info(user, "Once.")
    attacker = Client(enforce_csrf_checks=True)
    attacker.force_login(user)

    response = attacker.post(
        URL,
        json.dumps({"query": "{ myMessages { message } }"}),
        content_type="application/json",
    )

    assert response.status_code == 403
    assert pending_rows(user) == ["Once."]


# 2. Costs are bounded per request ---------------------------------------------------------


def aliases(field: str, count: int) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def test_a_thousand_count_aliases_cost_the_queries_of_one(
    alice: Client, user: AbstractBaseUser, django_assert_num_queries: Any
) -> None:
    api.info(user, "One.")
    api.info(user, "Two.")

    # Session and user lookups, then the one COUNT.
    with django_assert_num_queries(3):
        single = post(alice, aliases("myMessageCount", 1))
    with django_assert_num_queries(3):
        many = post(alice, aliases("myMessageCount", 1000))

    assert single == {"data": {"a0": 2}}
    assert many == {"data": {f"a{i}": 2 for i in range(1000)}}


def test_aliases_of_my_messages_share_one_read_and_one_answer(
    alice: Client, user: AbstractBaseUser
) -> None:
    for text in ("One.", "Two."):
        api.info(user, text)

    response = post(alice, aliases("myMessages { message }", 1000))

    assert response == {
        "data": {f"a{i}": [{"message": "One."}, {"message": "Two."}] for i in range(1000)}
    }
    assert pending_rows(user) == []


def test_many_my_messages_aliases_cost_what_one_costs(
    alice: Client, user: AbstractBaseUser, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api.info(user, "One.")
    with CaptureQueriesContext(connection) as one:
        post(alice, aliases("myMessages { message }", 1))
    api.info(user, "Two.")

    with django_assert_max_num_queries(len(one.captured_queries)):
        post(alice, aliases("myMessages { message }", 1000))


def test_a_mutation_makes_later_reads_of_the_same_request_fresh(
    user: AbstractBaseUser, rf: Any, stack: str
) -> None:
    message = api.info(user, "Sticky.", deliver_once=False)
    # graphene-django's batch mode (and Strawberry's batching) runs several operations with one
    # request object.
    request = rf.post(URL)
    request.user = user
    count = "{ myMessageCount }"
    acknowledge = "mutation($ids: [ID!]!) { acknowledgeMessages(ids: $ids) { acknowledgedIds } }"
    if stack == "strawberry":
        from tests.strawberry_schema import plain_schema

        def execute(query: str, **options: Any) -> Any:
            return plain_schema.execute_sync(query, context_value={"request": request}, **options)
    else:
        from tests.schema import schema

        def execute(query: str, **options: Any) -> Any:
            return schema.execute(query, context_value=request, **options)

    before = execute(count)
    execute(acknowledge, variable_values={"ids": [message.pk]})
    after = execute(count)

    assert (before.data, after.data) == ({"myMessageCount": 1}, {"myMessageCount": 0})


SEND_ALIAS = (
    'a{i}: sendMessage(input: {{recipients: ["{pk}"], level: INFO, message: "Hi {i}"}}) '
    "{{ count errors {{ field code message }} }}"
)


def test_max_recipients_holds_across_aliased_send_fields(
    sender: Client, user: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {"MAX_RECIPIENTS": 3}
    query = "mutation { " + " ".join(SEND_ALIAS.format(i=i, pk=user.pk) for i in range(5)) + " }"

    result = post(sender, query)["data"]

    assert [result[f"a{i}"]["count"] for i in range(5)] == [1, 1, 1, 0, 0]
    assert result["a3"]["errors"] == [
        {
            "field": "recipients",
            "code": "TOO_MANY",
            "message": "At most 3 recipients per request; other fields of this request used 3, "
            "this one has 1.",
        }
    ]
    assert result["a4"] == result["a3"]
    assert list(Message.objects.order_by("pk").values_list("message", flat=True)) == [
        "Hi 0",
        "Hi 1",
        "Hi 2",
    ]


def test_five_hundred_aliased_sends_store_at_most_max_recipients(
    sender: Client, user: AbstractBaseUser
) -> None:
    query = "mutation { " + " ".join(SEND_ALIAS.format(i=i, pk=user.pk) for i in range(500)) + " }"

    result = post(sender, query)["data"]

    assert sum(field["count"] for field in result.values()) == 100
    assert Message.objects.count() == 100


def test_more_ids_than_max_acknowledge_ids_are_refused_and_change_nothing(
    alice: Client, user: AbstractBaseUser, settings: Any
) -> None:
    # A list longer than MAX_LIST_LENGTH (1000 too) is refused before the field sees it.
    settings.USER_MESSAGES = {"MAX_LIST_LENGTH": 1001}
    message = api.info(user, "Sticky.", deliver_once=False)
    ids = [str(message.pk)] + [str(n) for n in range(10**6, 10**6 + 1000)]

    result = acknowledge(alice, ids)

    assert result == {
        "acknowledgedIds": [],
        "pendingCount": 1,
        "errors": [
            {
                "field": "ids",
                "code": "TOO_MANY",
                "message": "At most 1000 ids per request, got 1001.",
            }
        ],
    }
    assert pending_rows(user) == ["Sticky."]


def test_exactly_max_acknowledge_ids_are_accepted(alice: Client, user: AbstractBaseUser) -> None:
    message = api.info(user, "Sticky.", deliver_once=False)
    ids = [str(message.pk)] + [str(n) for n in range(10**6, 10**6 + 999)]

    result = acknowledge(alice, ids)

    assert result["acknowledgedIds"] == [str(message.pk)]
    assert len(result["errors"]) == 999
    assert pending_rows(user) == []


def test_a_hundred_thousand_ids_are_refused_unread_not_a_crash(
    alice: Client, user: AbstractBaseUser
) -> None:
    body = {"query": operation("AcknowledgeMessages"), "variables": {"ids": list(range(100_000))}}

    with CaptureQueriesContext(connection) as queries:
        response = alice.post("/graphql", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert [error["message"] for error in response.json()["errors"]] == [
        "The list at $ids holds 100000 entries, more than the limit of 1000."
    ]
    assert queries.captured_queries == []


def test_max_acknowledge_ids_holds_across_aliased_fields(
    alice: Client, user: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {"MAX_ACKNOWLEDGE_IDS": 2}
    first = api.info(user, "First.", deliver_once=False)
    second = api.info(user, "Second.", deliver_once=False)
    field = (
        'a{i}: acknowledgeMessages(ids: ["{pk}", "{pk}999999"]) '
        "{{ acknowledgedIds errors {{ code }} }}"
    )

    result = post(
        alice,
        "mutation { "
        + field.format(i=0, pk=first.pk)
        + " "
        + field.format(i=1, pk=second.pk)
        + " }",
    )["data"]

    assert result["a0"]["acknowledgedIds"] == [str(first.pk)]
    assert result["a1"] == {"acknowledgedIds": [], "errors": [{"code": "TOO_MANY"}]}
    assert pending_rows(user) == ["Second."]


# 3. Bad input is an error as data on the field at fault -----------------------------------


def raw_send(client: Client, input_json: str) -> dict[str, Any]:
    """POST sendMessage with ``input`` written as raw JSON text, escapes and all."""
    body = (
        '{"query": '
        + json.dumps(operation("SendMessage"))
        + ', "variables": {"input": '
        + input_json
        + "}}"
    )
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["data"]["sendMessage"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            '"message": "a\\ud800b"',
            "message",
            "message must be valid Unicode (it contains a lone surrogate).",
        ),
        (
            '"message": "Hi", "extraTags": "\\udfff"',
            "extraTags",
            "extraTags must be valid Unicode (it contains a lone surrogate).",
        ),
        (
            '"message": "Hi", "meta": {"k": "\\ud800"}',
            "meta",
            "meta must be valid Unicode (it contains a lone surrogate).",
        ),
        (
            '"message": "Hi", "meta": {"\\ud800": 1}',
            "meta",
            "meta must be valid Unicode (it contains a lone surrogate).",
        ),
        (
            '"message": "Hi", "meta": {"k": "\\u0000"}',
            "meta",
            "meta must not contain NUL characters.",
        ),
        (
            '"message": "Hi", "expiresAt": "9999-12-31T23:59:59-14:00"',
            "expiresAt",
            "expiresAt must lie within the years 1 to 9999 in UTC, got 9999-12-31T23:59:59-14:00.",
        ),
    ],
)
def test_unstorable_text_and_times_are_invalid_on_the_field_at_fault(
    sender: Client, user: AbstractBaseUser, fields: str, field: str, message: str
) -> None:
    result = raw_send(sender, f'{{"recipients": ["{user.pk}"], "level": "INFO", {fields}}}')

    assert result == {
        "count": 0,
        "errors": [{"field": field, "code": "INVALID", "message": message}],
    }
    assert not Message.objects.exists()


def test_a_lone_surrogate_as_recipient_is_an_invalid_user_id(sender: Client) -> None:
    result = raw_send(sender, '{"recipients": ["\\ud800"], "level": "INFO", "message": "Hi"}')

    assert result == {
        "count": 0,
        "errors": [
            {
                "field": "recipients",
                "code": "INVALID",
                "message": "'\\ud800' is not a valid user id.",
            }
        ],
    }


def test_a_lone_surrogate_as_message_id_is_an_invalid_id(alice: Client) -> None:
    body = (
        json.dumps({"query": operation("AcknowledgeMessages")})[:-1]
        + ', "variables": {"ids": ["\\udc00"]}}'
    )
    response = alice.post(URL, body, content_type="application/json")

    assert response.json()["data"]["acknowledgeMessages"] == {
        "acknowledgedIds": [],
        "pendingCount": 0,
        "errors": [
            {"field": "ids", "code": "INVALID", "message": "'\\udc00' is not a valid message id."}
        ],
    }
