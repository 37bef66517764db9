"""Long lists and many history aliases cost bounded work, through the real view on both stacks.

Work is counted, not timed: the SQL statements a request runs and the SQL text it builds.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql import build_schema

from user_messages import api
from user_messages.models import Message
from user_messages.realtime.consumer import check_subscription

#: The test runs on both GraphQL stacks (tests/conftest.py).
STACKS = pytest.mark.usefixtures("stack")

STATES = "query($s: [MessageState!]) { myMessageHistory(first: 1, states: $s) { pendingCount } }"


def post(
    client: Client, query: str, variables: dict[str, Any] | None = None, *, url: str = "/graphql"
) -> tuple[int, dict[str, Any], list[str]]:
    """The status, the JSON answer and the SQL statements of one POST."""
    body = json.dumps({"query": query, "variables": variables or {}})
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, body, content_type="application/json")
    return response.status_code, response.json(), [q["sql"] for q in queries.captured_queries]


def messages_of(errors: list[dict[str, Any]]) -> list[str]:
    return [error["message"] for error in errors]


# Lists -------------------------------------------------------------------------------------


@STACKS
def test_a_states_variable_of_32000_entries_is_refused_before_any_query(alice: Client) -> None:
    status, answer, statements = post(alice, STATES, {"s": ["PENDING"] * 32_000})

    assert status == 400
    assert messages_of(answer["errors"]) == [
        "The list at $s holds 32000 entries, more than the limit of 1000."
    ]
    assert "data" not in answer
    assert statements == []


@STACKS
def test_a_list_of_max_list_length_entries_is_served(alice: Client, user: AbstractBaseUser) -> None:
    api.info(user, "Pending.")

    status, answer, _ = post(alice, STATES, {"s": ["PENDING"] * 1000})

    assert status == 200
    assert answer == {"data": {"myMessageHistory": {"pendingCount": 1}}}


@STACKS
def test_a_list_inside_an_input_object_variable_is_bounded_too(
    sender: Client, user: AbstractBaseUser
) -> None:
    query = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { count } }"
    recipients = [str(user.pk)] * 1001

    status, answer, statements = post(
        sender, query, {"input": {"recipients": recipients, "level": "INFO", "message": "Hi."}}
    )

    assert status == 400
    assert messages_of(answer["errors"]) == [
        "The list at $input.recipients holds 1001 entries, more than the limit of 1000."
    ]
    assert statements == []
    assert not Message.objects.exists()


@STACKS
def test_a_list_written_in_the_document_is_bounded_by_the_same_setting(
    alice: Client, settings: Any
) -> None:
    settings.USER_MESSAGES = {"MAX_LIST_LENGTH": 3, "MAX_RECIPIENTS": 3, "MAX_ACKNOWLEDGE_IDS": 3}
    query = "{ myMessageHistory(states: [PENDING, PENDING, PENDING, PENDING]) { pendingCount } }"

    status, answer, statements = post(alice, query)

    assert status == 400
    assert messages_of(answer["errors"]) == [
        "A list in the document holds 4 entries, more than the limit of 3."
    ]
    assert statements == []


@STACKS
def test_repeated_states_cost_what_one_costs_in_the_librarys_own_view(
    alice: Client, user: AbstractBaseUser
) -> None:
    # graphene-django's and Strawberry's own views have no list limit: the field itself keeps
    # 32,000 copies from building 32,000 conditions.
    api.info(user, "Pending.")

    one = post(alice, STATES, {"s": ["PENDING"]}, url="/graphql-plain")
    many = post(alice, STATES, {"s": ["PENDING"] * 32_000}, url="/graphql-plain")

    assert many[:2] == one[:2] == (200, {"data": {"myMessageHistory": {"pendingCount": 1}}})
    assert [len(sql) for sql in many[2]] == [len(sql) for sql in one[2]]


# History aliases ---------------------------------------------------------------------------


def aliases(count: int, arguments: Any) -> str:
    fields = " ".join(f"h{i}: myMessageHistory({arguments(i)}) {{ ...F }}" for i in range(count))
    return "{ " + fields + " } fragment F on UserMessageConnection { edges { node { message } } }"


#: The package's view with a token limit that lets 40 aliases through, and the library's own
#: view, which has no document limits: the budget is the field's own, so it holds in both.
VIEWS = pytest.mark.parametrize("url", ["/graphql", "/graphql-plain"])

#: The token limit lets 40 aliases through (the default of 500 refuses them).
ROOM = {"MAX_QUERY_TOKENS": 2000}


@STACKS
@VIEWS
def test_forty_history_aliases_with_different_pages_read_at_most_max_history_reads(
    alice: Client, user: AbstractBaseUser, url: str, settings: Any
) -> None:
    settings.USER_MESSAGES = ROOM
    for n in range(3):
        api.info(user, f"Message {n}.")

    status, answer, statements = post(alice, aliases(40, lambda i: f"first: {i + 1}"), url=url)

    history = [sql for sql in statements if "ORDER BY" in sql]
    assert len(history) == 5
    # The field is non-null: the first alias past the budget nulls the whole answer, and
    # execution stops there, as at any error of a non-null root field.
    assert status == 200
    assert answer["data"] is None
    assert [(error["path"], error["message"]) for error in answer["errors"]] == [
        (
            ["h5"],
            "At most 5 different myMessageHistory pages per request; this request already "
            "read them. Aliases with the same arguments share one page.",
        )
    ]


@STACKS
def test_history_aliases_within_the_budget_are_answered(
    alice: Client, user: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {**ROOM, "MAX_HISTORY_READS": 40}
    api.info(user, "Only.")

    status, answer, statements = post(alice, aliases(40, lambda i: f"first: {i + 1}"))

    assert status == 200
    only = {"edges": [{"node": {"message": "Only."}}]}
    assert answer["data"] == {f"h{i}": only for i in range(40)}
    assert len([sql for sql in statements if "ORDER BY" in sql]) == 40


@STACKS
@VIEWS
def test_aliases_whose_states_differ_only_by_repeats_share_one_read(
    alice: Client, user: AbstractBaseUser, url: str, settings: Any
) -> None:
    settings.USER_MESSAGES = ROOM
    api.info(user, "Pending.")
    spellings = ["[PENDING]", "[PENDING, PENDING]", "[PENDING, PENDING, PENDING]", "PENDING"]

    status, answer, statements = post(
        alice,
        aliases(40, lambda i: f"first: 5, states: {spellings[i % len(spellings)]}"),
        url=url,
    )

    assert status == 200
    assert answer["data"] == {
        f"h{i}": {"edges": [{"node": {"message": "Pending."}}]} for i in range(40)
    }
    assert len([sql for sql in statements if "ORDER BY" in sql]) == 1


def test_a_subscription_with_a_list_variable_over_the_limit_is_refused_before_it_runs() -> None:
    # Both stacks' consumers ask check_subscription before running anything. The package's
    # subscription takes no list, so a schema of the test's own has one.
    schema = build_schema("type Query { a: Int } type Subscription { count(ids: [ID!]): Int }")
    query = "subscription($ids: [ID!]) { count(ids: $ids) }"

    def check(ids: list[str]) -> tuple[Any, list[str]]:
        payload = {"query": query, "variables": {"ids": ids}}
        document, errors = async_to_sync(check_subscription)(schema, payload)
        return document, [error.message for error in errors]

    assert check(["1"] * 1001) == (
        None,
        ["The list at $ids holds 1001 entries, more than the limit of 1000."],
    )
    document, errors = check(["1"] * 1000)
    assert document is not None
    assert errors == []
