"""archiveMessages, unarchiveMessages, myMessageHistory(archived:) and action buttons through the
real GraphQL view, on every stack."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client

from tests.operations import operation, post_operation
from user_messages import api
from user_messages.models import Message

# Each test runs on both GraphQL stacks and Strawberry's async view (tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.async_view]

PAY = {"label": "Pay now", "url": "/billing/pay/"}
#: Statements one archive batch costs: UPDATE ... RETURNING, or a SELECT and the UPDATE.
PER_BATCH = 2 if connection.vendor == "mysql" else 1


def archive(client: Client, ids: list[Any]) -> dict[str, Any]:
    response = post_operation(client, "ArchiveMessages", {"ids": ids})
    assert "errors" not in response, response
    return response["data"]["archiveMessages"]


def unarchive(client: Client, ids: list[Any]) -> dict[str, Any]:
    response = post_operation(client, "UnarchiveMessages", {"ids": ids})
    assert "errors" not in response, response
    return response["data"]["unarchiveMessages"]


def history(client: Client, **variables: Any) -> list[str]:
    response = post_operation(client, "MyMessageHistory", variables)
    assert "errors" not in response, response
    return [edge["node"]["message"] for edge in response["data"]["myMessageHistory"]["edges"]]


def post(client: Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}})
    response = client.post("/graphql", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def error(field: str | None, code: str, message: str) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message}


# archiveMessages and unarchiveMessages


def test_archiving_own_messages_takes_them_out_of_the_inbox_and_the_count(
    alice: Client, user: AbstractBaseUser
) -> None:
    sticky = api.warning(user, "Sticky.", deliver_once=False)
    once = api.info(user, "Once.")
    api.info(user, "Kept.")

    assert archive(alice, [str(sticky.pk), once.pk]) == {
        "archivedIds": [str(sticky.pk), str(once.pk)],
        "pendingCount": 1,
        "errors": [],
    }
    assert history(alice) == ["Kept."]
    assert history(alice, archived=True) == ["Once.", "Sticky."]
    assert history(alice, archived=None) == ["Kept.", "Once.", "Sticky."]
    assert [str(m) for m in api.get_messages(user=user)] == ["Kept."]


def test_foreign_unknown_and_malformed_ids_change_nothing_and_reveal_nothing(
    alice: Client, user: AbstractBaseUser, other_user: AbstractBaseUser
) -> None:
    own = api.info(user, "Mine.")
    foreign = api.info(other_user, "Bob's.")
    missing = foreign.pk + 1000

    result = archive(alice, [foreign.pk, missing, "oops", own.pk])

    assert result == {
        "archivedIds": [str(own.pk)],
        "pendingCount": 0,
        "errors": [
            error("ids", "NOT_FOUND", f"There is no message with id '{foreign.pk}'."),
            error("ids", "NOT_FOUND", f"There is no message with id '{missing}'."),
            error("ids", "INVALID", "'oops' is not a valid message id."),
        ],
    }
    theirs = Message.objects.get(pk=foreign.pk)
    assert (theirs.archived_at, theirs.delivered_at) == (None, None)
    assert unarchive(alice, [foreign.pk])["errors"] == [
        error("ids", "NOT_FOUND", f"There is no message with id '{foreign.pk}'.")
    ]


def test_unarchiving_puts_messages_back_in_the_inbox_still_acknowledged(
    alice: Client, user: AbstractBaseUser
) -> None:
    message = api.info(user, "Back again.")
    archive(alice, [message.pk])

    assert unarchive(alice, [message.pk, message.pk]) == {
        "unarchivedIds": [str(message.pk)],
        "pendingCount": 0,
        "errors": [],
    }
    assert history(alice) == ["Back again."]
    assert history(alice, archived=True) == []


def test_archiving_needs_a_signed_in_user(client: Client, user: AbstractBaseUser) -> None:
    message = api.info(user, "Private.")

    assert archive(client, [message.pk]) == {
        "archivedIds": [],
        "pendingCount": 0,
        "errors": [error(None, "UNAUTHENTICATED", "You must be signed in.")],
    }
    assert unarchive(client, [message.pk])["errors"] == [
        error(None, "UNAUTHENTICATED", "You must be signed in.")
    ]
    assert Message.objects.get().archived_at is None


def test_archiving_is_refused_over_get(alice: Client, user: AbstractBaseUser) -> None:
    message = api.info(user, "Still here.")
    query = f'mutation {{ archiveMessages(ids: ["{message.pk}"]) {{ archivedIds }} }}'

    response = alice.get("/graphql", {"query": query})

    assert 400 <= response.status_code < 500
    assert "POST" in response.json()["errors"][0]["message"]
    assert Message.objects.get().archived_at is None


def test_the_ids_budget_is_shared_with_acknowledge_across_aliases(
    alice: Client, user: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {"MAX_ACKNOWLEDGE_IDS": 3}
    first, second, third = (api.info(user, f"m{i}").pk for i in range(3))
    query = f"""mutation {{
      a: acknowledgeMessages(ids: ["{first}"]) {{ acknowledgedIds }}
      b: archiveMessages(ids: ["{second}", "{third}"]) {{ archivedIds errors {{ code }} }}
      c: unarchiveMessages(ids: ["{second}"]) {{ unarchivedIds errors {{ code message }} }}
    }}"""

    data = post(alice, query)["data"]

    assert data["a"] == {"acknowledgedIds": [str(first)]}
    assert data["b"] == {"archivedIds": [str(second), str(third)], "errors": []}
    assert data["c"] == {
        "unarchivedIds": [],
        "errors": [
            {
                "code": "TOO_MANY",
                "message": "At most 3 ids per request; other fields of this request used 3, "
                "this one has 1.",
            }
        ],
    }
    assert Message.objects.archived().count() == 2


def test_too_many_ids_in_one_field_archive_nothing(
    alice: Client, user: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {"MAX_ACKNOWLEDGE_IDS": 2}
    ids = [api.info(user, f"m{i}").pk for i in range(3)]

    assert archive(alice, ids) == {
        "archivedIds": [],
        "pendingCount": 3,
        "errors": [error("ids", "TOO_MANY", "At most 2 ids per request, got 3.")],
    }
    assert Message.objects.archived().count() == 0


def test_an_archive_costs_one_statement_per_batch_through_the_view(
    alice: Client, user: AbstractBaseUser, django_assert_num_queries: Callable[..., Any]
) -> None:
    ids = [api.info(user, f"m{i}").pk for i in range(5)]
    query = "mutation($ids: [ID!]!) { archiveMessages(ids: $ids) { archivedIds } }"

    # The session, the user, then the archive itself.
    with django_assert_num_queries(2 + PER_BATCH):
        data = post(alice, query, {"ids": ids})["data"]

    assert data == {"archiveMessages": {"archivedIds": [str(pk) for pk in ids]}}


def test_an_archived_history_page_costs_what_any_page_costs(
    alice: Client, user: AbstractBaseUser, django_assert_num_queries: Callable[..., Any]
) -> None:
    api.archive(user, [api.info(user, "Old news.").pk])

    # Session, user, the page, the pending count.
    with django_assert_num_queries(4):
        assert history(alice, archived=True) == ["Old news."]


def test_archived_at_is_null_in_the_inbox_and_set_once_archived(
    alice: Client, user: AbstractBaseUser
) -> None:
    message = api.info(user, "Archive me.")
    query = "{ myMessageHistory(archived: null) { edges { node { archivedAt } } } }"
    assert post(alice, query)["data"]["myMessageHistory"]["edges"] == [
        {"node": {"archivedAt": None}}
    ]

    api.archive(user, [message.pk])

    (edge,) = post(alice, query)["data"]["myMessageHistory"]["edges"]
    assert edge["node"]["archivedAt"] == Message.objects.get().archived_at.isoformat()


# Action buttons


def send(client: Client, **fields: Any) -> dict[str, Any]:
    response = post_operation(client, "SendMessage", {"input": {"level": "INFO", **fields}})
    assert "errors" not in response, response
    return response["data"]["sendMessage"]


def test_actions_sent_over_graphql_come_back_on_every_read(
    sender: Client, user: AbstractBaseUser, client: Client
) -> None:
    actions = [PAY, {"label": "Details", "url": "https://example.com/invoices/7"}]

    assert send(sender, recipients=[user.pk], message="Invoice due.", actions=actions) == {
        "count": 1,
        "errors": [],
    }

    assert Message.objects.get().actions == actions
    client.force_login(user)
    (message,) = post_operation(client, "MyMessages")["data"]["myMessages"]
    assert message["actions"] == actions
    response = post_operation(client, "MyMessageHistory")
    assert response["data"]["myMessageHistory"]["edges"][0]["node"]["actions"] == actions


def test_a_message_without_actions_and_a_session_message_have_none(
    alice: Client, user: AbstractBaseUser
) -> None:
    api.info(user, "Plain.")
    query = "{ myMessages(peek: true) { message actions { label url } } }"

    assert post(alice, query)["data"]["myMessages"] == [{"message": "Plain.", "actions": []}]


def test_session_messages_have_no_actions_and_are_not_archived(alice: Client) -> None:
    from tests.test_graphql_query import flash

    flash(alice, "flashed")

    (message,) = post_operation(alice, "MyMessages", {"peek": True})["data"]["myMessages"]
    assert (message["id"], message["actions"], message["archivedAt"]) == (None, [], None)


@pytest.mark.parametrize(
    ("actions", "errors"),
    [
        (
            [PAY] * 4,
            [
                error(
                    "actions",
                    "TOO_MANY",
                    "A message may have at most 3 actions (USER_MESSAGES['MAX_ACTIONS']), got 4.",
                )
            ],
        ),
        (
            [{"label": "Pay now", "url": "javascript:alert(1)"}],
            [
                error(
                    "actions",
                    "INVALID",
                    "An action's url must be a path on this site such as '/billing/pay/' or an "
                    "http(s) URL with a host (at most 2048 characters, no spaces or "
                    "backslashes), got 'javascript:alert(1)'.",
                )
            ],
        ),
        (
            [{"label": "Pay now", "url": "//evil.example/"}],
            [
                error(
                    "actions",
                    "INVALID",
                    "An action's url must be a path on this site such as '/billing/pay/' or an "
                    "http(s) URL with a host (at most 2048 characters, no spaces or "
                    "backslashes), got '//evil.example/'.",
                )
            ],
        ),
        (
            [{"label": "", "url": "/pay"}],
            [
                error(
                    "actions",
                    "REQUIRED",
                    "An action's label must be a text of 1 to 40 characters, got ''.",
                )
            ],
        ),
        (
            [{"label": "x" * 41, "url": "/pay"}],
            [
                error(
                    "actions",
                    "TOO_LONG",
                    f"An action's label must be at most 40 characters, got 41: {'x' * 41!r}.",
                )
            ],
        ),
    ],
)
def test_bad_actions_are_refused_as_data_and_nothing_is_stored(
    sender: Client, user: AbstractBaseUser, actions: list[Any], errors: list[Any]
) -> None:
    result = send(sender, recipients=[user.pk], message="Invoice due.", actions=actions)

    assert result == {"count": 0, "errors": errors}
    assert Message.objects.count() == 0


def test_the_how_to_shows_the_error_both_stacks_give_for_a_javascript_url(
    sender: Client, user: AbstractBaseUser
) -> None:
    page = (Path(__file__).resolve().parent.parent / "docs/howto/archive-actions.md").read_text()
    (shown,) = re.findall(r"```json\n(.*?)\n```", page, re.S)

    result = send(
        sender,
        recipients=[user.pk],
        message="Invoice due.",
        actions=[{"label": "Pay now", "url": "javascript:alert(1)"}],
    )

    assert result["errors"] == [json.loads(shown)]


def test_an_action_missing_its_url_is_a_request_error_before_anything_runs(
    sender: Client, user: AbstractBaseUser
) -> None:
    variables = {
        "input": {
            "recipients": [user.pk],
            "level": "INFO",
            "message": "Invoice due.",
            "actions": [{"label": "Pay now"}],
        }
    }
    body = json.dumps({"query": operation("SendMessage"), "variables": variables})

    response = sender.post("/graphql", body, content_type="application/json")

    assert response.status_code == 400
    (problem,) = response.json()["errors"]
    assert problem["message"].endswith(
        "at 'input.actions[0]'; Field 'url' of required type 'String!' was not provided."
    )
    assert Message.objects.count() == 0


def test_stored_actions_that_break_the_link_rule_are_not_served(
    alice: Client, user: AbstractBaseUser
) -> None:
    message = api.info(user, "Written around the API.")
    # What a project could write with the ORM or SQL, bypassing validation.
    Message.objects.filter(pk=message.pk).update(
        actions=[{"label": "Bad", "url": "javascript:alert(1)"}, PAY, {"url": "/x"}, "junk"]
    )
    query = "{ myMessages(peek: true) { actions { label url } } }"

    assert post(alice, query)["data"]["myMessages"] == [{"actions": [PAY]}]
