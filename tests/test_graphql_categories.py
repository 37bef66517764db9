"""Categories over GraphQL, on both stacks: send in one, read, count and list some."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.operations import post_operation
from user_messages import api
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.async_view]

CATEGORIES = {
    "billing": {"label": "Billing"},
    "security": {"label": "Security", "critical": True},
}
UNKNOWN = "Unknown category 'nope', must be one of: '', 'billing', 'security'."


@pytest.fixture(autouse=True)
def declared(settings: Any) -> None:
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}


@pytest.fixture
def inbox(user: AbstractBaseUser) -> dict[str, Message]:
    return {
        "bill": api.info(user, "Invoice.", category="billing"),
        "alert": api.warning(user, "New sign-in.", category="security"),
        "plain": api.info(user, "Welcome."),
    }


def post(client: Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def message_queries(queries: CaptureQueriesContext) -> list[str]:
    table = connection.ops.quote_name(Message._meta.db_table)
    return [q["sql"] for q in queries if table in q["sql"]]


def test_my_messages_of_some_categories_consumes_only_those(
    alice: Client, user: AbstractBaseUser, inbox: dict[str, Message]
) -> None:
    response = post_operation(alice, "MyMessages", {"categories": ["billing"]})

    assert [(m["message"], m["category"]) for m in response["data"]["myMessages"]] == [
        ("Invoice.", "billing")
    ]
    assert api.pending_count(user) == 2
    rest = post_operation(alice, "MyMessages")["data"]["myMessages"]
    assert [(m["message"], m["category"]) for m in rest] == [
        ("New sign-in.", "security"),
        ("Welcome.", ""),
    ]


def test_peek_count_and_history_filter_by_category(
    alice: Client, user: AbstractBaseUser, inbox: dict[str, Message]
) -> None:
    peeked = post_operation(alice, "MyMessages", {"peek": True, "categories": ["security", ""]})
    count = post_operation(alice, "MyMessageCount", {"categories": ["security", ""]})
    history = post_operation(alice, "MyMessageHistory", {"categories": ["billing", ""]})

    assert [m["message"] for m in peeked["data"]["myMessages"]] == ["New sign-in.", "Welcome."]
    assert count == {"data": {"myMessageCount": 2}}
    edges = history["data"]["myMessageHistory"]["edges"]
    assert [edge["node"]["message"] for edge in edges] == ["Welcome.", "Invoice."]
    assert api.pending_count(user) == 3


def test_aliases_with_other_categories_get_their_own_answers(
    alice: Client, inbox: dict[str, Message]
) -> None:
    response = post(
        alice,
        """{
            bills: myMessageCount(categories: ["billing"])
            again: myMessageCount(categories: ["billing"])
            all: myMessageCount
            none: myMessageCount(categories: [])
        }""",
    )

    assert response == {"data": {"bills": 1, "again": 1, "all": 3, "none": 0}}


@pytest.mark.parametrize(
    "query",
    [
        '{ myMessages(peek: true, categories: ["billing", "nope"]) { id } }',
        '{ myMessageCount(categories: ["nope"]) }',
        '{ myMessageHistory(categories: ["nope"]) { pendingCount } }',
    ],
)
def test_an_unknown_category_is_an_error_naming_the_declared_ones(
    alice: Client, inbox: dict[str, Message], query: str
) -> None:
    response = post(alice, query)

    assert response["data"] is None
    assert [error["message"] for error in response["errors"]] == [UNKNOWN]


def test_a_categories_list_longer_than_the_names_there_are_is_refused_before_any_read(
    alice: Client, inbox: dict[str, Message]
) -> None:
    many = ["billing"] * 4  # three names exist: "", billing, security

    with CaptureQueriesContext(connection) as queries:
        response = post(alice, "query ($c: [String!]) { myMessageCount(categories: $c) }", c=many)

    assert [error["message"] for error in response["errors"]] == [
        'categories may name at most 3 categories (the declared ones and ""), got 4.'
    ]
    assert message_queries(queries) == []


def test_my_message_counts_gives_every_category_in_one_query(
    alice: Client, user: AbstractBaseUser, inbox: dict[str, Message]
) -> None:
    api.info(user, "Second invoice.", category="billing")

    with CaptureQueriesContext(connection) as queries:
        response = post_operation(alice, "MyMessageCounts")

    assert response == {
        "data": {
            "myMessageCounts": [
                {"category": "billing", "label": "Billing", "pendingCount": 2},
                {"category": "security", "label": "Security", "pendingCount": 1},
                {"category": "", "label": "", "pendingCount": 1},
            ]
        }
    }
    (query,) = message_queries(queries)
    assert "GROUP BY" in query


def test_my_message_counts_are_zero_signed_out_without_reading(
    client: Client, inbox: dict[str, Message]
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = post_operation(client, "MyMessageCounts")

    assert [entry["pendingCount"] for entry in response["data"]["myMessageCounts"]] == [0, 0, 0]
    assert message_queries(queries) == []


def test_send_message_stores_the_category(sender: Client, user: AbstractBaseUser) -> None:
    response = post_operation(
        sender,
        "SendMessage",
        {
            "input": {
                "recipients": [str(user.pk)],
                "level": "INFO",
                "message": "Paid.",
                "category": "billing",
            }
        },
    )

    assert response == {"data": {"sendMessage": {"count": 1, "errors": []}}}
    assert list(Message.objects.values_list("message", "category")) == [("Paid.", "billing")]


def test_send_message_refuses_an_undeclared_category_as_data(
    sender: Client, user: AbstractBaseUser
) -> None:
    response = post_operation(
        sender,
        "SendMessage",
        {
            "input": {
                "recipients": [str(user.pk)],
                "level": "INFO",
                "message": "Paid.",
                "category": "nope",
            }
        },
    )

    assert response == {
        "data": {
            "sendMessage": {
                "count": 0,
                "errors": [{"field": "category", "code": "INVALID", "message": UNKNOWN}],
            }
        }
    }
    assert not Message.objects.exists()
