"""myMessageHistory and acknowledgeAllMessages through the real GraphQL view."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from tests.operations import operation, post_operation
from user_messages import api

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.async_view]

PAGE = """
query Page($first: Int, $after: String, $states: [MessageState!]) {
  myMessageHistory(first: $first, after: $after, states: $states) {
    edges { cursor node { id message state seenAt acknowledgedAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def get(client: Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.get("/graphql", {"query": query, "variables": json.dumps(variables or {})})
    assert response.status_code == 200, response.content
    return response.json()


def post(client: Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}})
    response = client.post("/graphql", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def texts(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["message"] for edge in connection["edges"]]


def test_history_pages_newest_first_over_get_and_consumes_nothing(
    alice: Client, user: AbstractBaseUser
) -> None:
    for number in range(25):
        api.info(user, f"m{number}")
    pages, after = [], None
    while True:
        history = get(alice, PAGE, {"first": 10, "after": after})["data"]["myMessageHistory"]
        pages.append((texts(history), history["pageInfo"]["hasNextPage"]))
        assert history["pageInfo"]["endCursor"] == history["edges"][-1]["cursor"]
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]

    newest_first = [f"m{number}" for number in reversed(range(25))]
    assert pages == [
        (newest_first[:10], True),
        (newest_first[10:20], True),
        (newest_first[20:], False),
    ]
    assert api.pending_count(user) == 25


def test_the_stored_operation_fills_a_badge_and_a_list_in_one_request(
    alice: Client, user: AbstractBaseUser, django_assert_num_queries: Callable[..., Any]
) -> None:
    api.info(user, "once")
    api.warning(user, "sticky", deliver_once=False)

    # Session, user, the page, the pending count.
    with django_assert_num_queries(4):
        history = post_operation(alice, "MyMessageHistory")["data"]["myMessageHistory"]

    assert texts(history) == ["sticky", "once"]
    assert history["pendingCount"] == 2


def test_aliases_with_the_same_arguments_share_one_query(
    alice: Client, user: AbstractBaseUser, django_assert_num_queries: Callable[..., Any]
) -> None:
    api.info(user, "hello")
    query = """{
      a: myMessageHistory(first: 5) { edges { node { message } } pendingCount }
      b: myMessageHistory(first: 5) { edges { cursor } pendingCount }
      c: myMessageHistory(first: 6) { edges { cursor } }
      count: myMessageCount
    }"""

    # Session, user, one page per distinct arguments (two), one count for all.
    with django_assert_num_queries(5):
        data = get(alice, query)["data"]

    assert data["a"]["edges"][0]["node"]["message"] == "hello"
    assert data["b"]["edges"] == data["c"]["edges"]
    assert data["a"]["pendingCount"] == data["b"]["pendingCount"] == data["count"] == 1


def test_states_times_and_the_state_filter(alice: Client, user: AbstractBaseUser) -> None:
    api.info(user, "delivered")
    assert post_operation(alice, "MyMessages")["data"]["myMessages"][0]["seenAt"] is not None
    api.warning(user, "acknowledged", deliver_once=False)
    post_operation(alice, "AcknowledgeAllMessages")
    api.info(user, "pending")

    history = get(alice, PAGE)["data"]["myMessageHistory"]
    rows = [
        (n["message"], n["state"], n["seenAt"] is not None, n["acknowledgedAt"] is not None)
        for n in (edge["node"] for edge in history["edges"])
    ]
    assert rows == [
        ("pending", "PENDING", False, False),
        ("acknowledged", "ACKNOWLEDGED", False, True),
        ("delivered", "DELIVERED", True, False),
    ]
    both = get(alice, PAGE, {"states": ["PENDING", "DELIVERED"]})["data"]["myMessageHistory"]
    assert texts(both) == ["pending", "delivered"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("signed_in", [True, False])
@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"after": "garbage"},
            "'garbage' is not a history cursor; pass the cursor or endCursor of a history page, "
            "or nothing for the first page.",
        ),
        (
            {"after": _b64("history:0")},
            "'aGlzdG9yeTow' is not a history cursor; pass the cursor or endCursor of a history "
            "page, or nothing for the first page.",
        ),
        ({"first": 0}, "first must be from 1 to 100, got 0."),
        ({"first": 101}, "first must be from 1 to 100, got 101."),
        ({"first": -5}, "first must be from 1 to 100, got -5."),
    ],
)
def test_a_bad_cursor_or_page_size_is_a_graphql_error_not_a_500(
    client: Client,
    user: AbstractBaseUser,
    signed_in: bool,
    variables: dict[str, Any],
    message: str,
) -> None:
    if signed_in:
        client.force_login(user)

    response = get(client, PAGE, variables)

    assert response["data"] is None
    assert [error["message"] for error in response["errors"]] == [message]


@pytest.mark.parametrize("signed_in", [True, False])
@pytest.mark.parametrize("limit", [30, 150])
def test_the_page_size_limit_is_the_setting_signed_in_or_out(
    client: Client, user: AbstractBaseUser, settings: Any, signed_in: bool, limit: int
) -> None:
    settings.USER_MESSAGES = {"MAX_HISTORY_PAGE": limit}
    if signed_in:
        client.force_login(user)
    api.info(user, "m")

    within = get(client, PAGE, {"first": limit})
    over = get(client, PAGE, {"first": limit + 1})

    assert "errors" not in within
    assert texts(within["data"]["myMessageHistory"]) == (["m"] if signed_in else [])
    assert over["data"] is None
    assert [error["message"] for error in over["errors"]] == [
        f"first must be from 1 to {limit}, got {limit + 1}."
    ]


def test_a_cursor_of_another_users_message_shows_nothing_of_theirs(
    alice: Client, user: AbstractBaseUser, other_user: AbstractBaseUser
) -> None:
    api.info(user, "alice's older")
    theirs = api.info(other_user, "bob's")
    api.info(other_user, "bob's older")
    api.info(user, "alice's newer")

    after = api.HistoryPage.cursor(theirs)
    history = get(alice, PAGE, {"after": after})["data"]["myMessageHistory"]

    assert texts(history) == ["alice's older"]


def test_signed_out_the_history_is_empty(client: Client, user: AbstractBaseUser) -> None:
    api.info(user, "not for strangers")

    data = get(client, operation("MyMessageHistory"))["data"]

    assert data == {
        "myMessageHistory": {
            "edges": [],
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "pendingCount": 0,
        }
    }


def test_session_messages_have_no_state_nor_times(alice: Client) -> None:
    from tests.test_graphql_query import flash

    flash(alice, "flashed")

    (message,) = post_operation(alice, "MyMessages", {"peek": True})["data"]["myMessages"]

    assert (message["state"], message["seenAt"], message["acknowledgedAt"]) == (None, None, None)


def test_acknowledge_all_messages_acknowledges_what_was_pending(
    alice: Client, user: AbstractBaseUser, other_user: AbstractBaseUser
) -> None:
    api.info(user, "once")
    api.warning(user, "sticky", deliver_once=False)
    api.info(other_user, "bob's")

    data = post_operation(alice, "AcknowledgeAllMessages")["data"]

    assert data == {
        "acknowledgeAllMessages": {"acknowledgedCount": 2, "pendingCount": 0, "errors": []}
    }
    assert api.pending_count(other_user) == 1
    assert (
        post_operation(alice, "AcknowledgeAllMessages")["data"]["acknowledgeAllMessages"][
            "acknowledgedCount"
        ]
        == 0
    )


def test_acknowledge_all_messages_needs_a_signed_in_user(client: Client) -> None:
    data = post_operation(client, "AcknowledgeAllMessages")["data"]

    assert data == {
        "acknowledgeAllMessages": {
            "acknowledgedCount": 0,
            "pendingCount": 0,
            "errors": [
                {"field": None, "code": "UNAUTHENTICATED", "message": "You must be signed in."}
            ],
        }
    }


def test_acknowledge_all_messages_is_refused_over_get_and_without_the_csrf_token(
    user: AbstractBaseUser,
) -> None:
    api.info(user, "still pending")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    over_get = client.get("/graphql", {"query": operation("AcknowledgeAllMessages")})
    without_token = client.post(
        "/graphql",
        json.dumps({"query": operation("AcknowledgeAllMessages")}),
        content_type="application/json",
    )

    assert over_get.status_code == 405
    assert without_token.status_code == 403
    assert api.pending_count(user) == 1


def test_a_history_read_after_acknowledging_in_the_same_request_is_fresh(
    alice: Client, user: AbstractBaseUser
) -> None:
    api.info(user, "x")
    query = """mutation {
      acknowledgeAllMessages { acknowledgedCount pendingCount }
    }"""

    assert post(alice, query)["data"]["acknowledgeAllMessages"] == {
        "acknowledgedCount": 1,
        "pendingCount": 0,
    }
    history = post_operation(alice, "MyMessageHistory")["data"]["myMessageHistory"]
    assert [edge["node"]["state"] for edge in history["edges"]] == ["ACKNOWLEDGED"]
    assert history["pendingCount"] == 0


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_stored_history_operation_answers_as_recorded(
    alice: Client, user: AbstractBaseUser, snapshot: Any
) -> None:
    import datetime

    from user_messages.models import Message

    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    api.info(user, "Your export is ready.", meta={"url": "/exports/1"})
    list(api.get_messages(user=user))
    api.warning(user, "Maintenance tonight.", deliver_once=False)
    api.acknowledge_all(user)
    api.error(
        user, "Payment failed.", "billing", actions=[{"label": "Update card", "url": "/billing/"}]
    )
    Message.objects.update(created_at=when)
    Message.objects.exclude(seen_at=None).update(seen_at=when)
    Message.objects.exclude(acknowledged_at=None).update(acknowledged_at=when)

    snapshot.assert_match(post_operation(alice, "MyMessageHistory", {"first": 2}))
