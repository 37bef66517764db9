"""acknowledgeMessages and sendMessage through the real GraphQL view, and its CSRF protection."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import graphql
import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.messages import constants
from django.test import Client
from django.utils import timezone

from tests.operations import operation, post_operation
from user_messages import api
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.async_view]

FUTURE = "2100-01-01T00:00:00+00:00"


def acknowledge(client: Client, ids: list[Any]) -> dict[str, Any]:
    return post_operation(client, "AcknowledgeMessages", {"ids": ids})["data"][
        "acknowledgeMessages"
    ]


def send(client: Client, **fields: Any) -> dict[str, Any]:
    response = post_operation(client, "SendMessage", {"input": {"level": "INFO", **fields}})
    assert "errors" not in response, response
    return response["data"]["sendMessage"]


def error(field: str | None, code: str, message: str) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message}


# acknowledgeMessages


def test_acknowledging_own_messages_marks_them_done(alice: Client, user: AbstractBaseUser) -> None:
    sticky = api.info(user, "Confirm your email.", deliver_once=False)
    once = api.info(user, "Welcome.")

    result = acknowledge(alice, [str(sticky.pk), once.pk])

    assert result == {
        "acknowledgedIds": [str(sticky.pk), str(once.pk)],
        "pendingCount": 0,
        "errors": [],
    }
    assert list(Message.objects.pending()) == []


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_acknowledge_reports_foreign_unknown_and_malformed_ids_as_errors(
    alice: Client, user: AbstractBaseUser, other_user: AbstractBaseUser, snapshot: Any
) -> None:
    own = api.info(user, "Mine.", deliver_once=False)
    foreign = api.info(other_user, "Bob's.", deliver_once=False)
    assert (own.pk, foreign.pk) == (1, 2)

    snapshot.assert_match(
        post_operation(alice, "AcknowledgeMessages", {"ids": ["1", "2", "404", "oops"]})
    )
    assert Message.objects.get(pk=foreign.pk).delivered_at is None


def test_a_foreign_id_gets_the_same_not_found_as_a_missing_one(
    alice: Client, other_user: AbstractBaseUser
) -> None:
    foreign = api.info(other_user, "Bob's.", deliver_once=False)
    missing = foreign.pk + 1000

    result = acknowledge(alice, [foreign.pk, missing])

    assert result == {
        "acknowledgedIds": [],
        "pendingCount": 0,
        "errors": [
            error("ids", "NOT_FOUND", f"There is no message with id '{foreign.pk}'."),
            error("ids", "NOT_FOUND", f"There is no message with id '{missing}'."),
        ],
    }
    assert Message.objects.get().delivered_at is None


@pytest.mark.parametrize(
    "malformed",
    [
        "abc",
        "-1",
        "0",
        "1.5",
        "",
        " 1",
        "1e3",
        "9223372036854775808",  # bigint's maximum plus one
        "99999999999999999999999999999999",
        "١٢",  # Arabic-Indic digits: int() accepts them, a database id never has them
    ],
)
def test_malformed_ids_are_errors_as_data_not_server_errors(
    alice: Client, user: AbstractBaseUser, malformed: str
) -> None:
    message = api.info(user, "Still here.", deliver_once=False)

    result = acknowledge(alice, [malformed, str(message.pk)])

    assert result == {
        "acknowledgedIds": [str(message.pk)],
        "pendingCount": 0,
        "errors": [error("ids", "INVALID", f"{malformed!r} is not a valid message id.")],
    }


def test_acknowledging_an_already_acknowledged_own_message_succeeds_again(
    alice: Client, user: AbstractBaseUser
) -> None:
    message = api.info(user, "Read me.", deliver_once=False)
    assert acknowledge(alice, [message.pk])["acknowledgedIds"] == [str(message.pk)]
    first = Message.objects.get().delivered_at

    assert acknowledge(alice, [message.pk, message.pk]) == {
        "acknowledgedIds": [str(message.pk)],
        "pendingCount": 0,
        "errors": [],
    }
    assert Message.objects.get().delivered_at == first


def test_acknowledging_returns_the_callers_new_pending_count(
    alice: Client, user: AbstractBaseUser, other_user: AbstractBaseUser
) -> None:
    sticky = api.info(user, "Confirm your email.", deliver_once=False)
    api.info(user, "Still waiting.")
    api.info(user, "Expired.", expires_at=timezone.now() + datetime.timedelta(seconds=1))
    Message.objects.filter(message="Expired.").update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    api.info(other_user, "Not alice's.")

    result = acknowledge(alice, [sticky.pk])

    assert result == {"acknowledgedIds": [str(sticky.pk)], "pendingCount": 1, "errors": []}


def test_acknowledging_nothing_is_no_error(alice: Client) -> None:
    assert acknowledge(alice, []) == {"acknowledgedIds": [], "pendingCount": 0, "errors": []}


def test_acknowledging_requires_login(client: Client, user: AbstractBaseUser) -> None:
    message = api.info(user, "Private.", deliver_once=False)

    assert acknowledge(client, [message.pk]) == {
        "acknowledgedIds": [],
        "pendingCount": 0,
        "errors": [error(None, "UNAUTHENTICATED", "You must be signed in.")],
    }
    assert Message.objects.get().delivered_at is None


# sendMessage


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_send_message_stores_one_message_per_distinct_recipient(
    sender: Client,
    user: AbstractBaseUser,
    other_user: AbstractBaseUser,
    snapshot: Any,
) -> None:
    response = post_operation(
        sender,
        "SendMessage",
        {
            "input": {
                "recipients": [str(user.pk), str(other_user.pk), str(user.pk)],
                "level": "WARNING",
                "message": "Maintenance tonight.",
                "extraTags": "ops",
                "meta": {"url": "/status", "window": [22, 23]},
                "deliverOnce": False,
                "expiresAt": FUTURE,
            }
        },
    )

    snapshot.assert_match(response)
    rows = Message.objects.order_by("user_id").values(
        "user_id", "level", "message", "extra_tags", "meta", "deliver_once", "expires_at"
    )
    expected = {
        "level": constants.WARNING,
        "message": "Maintenance tonight.",
        "extra_tags": "ops",
        "meta": {"url": "/status", "window": [22, 23]},
        "deliver_once": False,
        "expires_at": datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc),
    }
    assert list(rows) == [
        {"user_id": user.pk, **expected},
        {"user_id": other_user.pk, **expected},
    ]


def test_sent_message_shows_up_for_the_recipient(sender: Client, user: AbstractBaseUser) -> None:
    assert send(sender, recipients=[user.pk], level="SUCCESS", message="Approved.") == {
        "count": 1,
        "errors": [],
    }

    (message,) = api.get_messages(user=user)
    assert (message.level, message.message, message.meta, message.deliver_once) == (
        constants.SUCCESS,
        "Approved.",
        {},
        True,
    )


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"recipients": []},
            [error("recipients", "REQUIRED", "Name at least one recipient.")],
        ),
        (
            {"recipients": ["1", "2", "3", "4"]},
            [error("recipients", "TOO_MANY", "At most 3 recipients per request, got 4.")],
        ),
        (
            {"recipients": ["abc", "9223372036854775808", "abc"]},
            [
                error("recipients", "INVALID", "'abc' is not a valid user id."),
                error("recipients", "INVALID", "'9223372036854775808' is not a valid user id."),
            ],
        ),
        ({"message": ""}, [error("message", "REQUIRED", "message must not be empty, got ''.")]),
        (
            {"message": " \n\t"},
            [error("message", "REQUIRED", "message must not be empty, got ' \\n\\t'.")],
        ),
        (
            {"message": "x" * 11},
            [error("message", "TOO_LONG", "message must be at most 10 characters, got 11.")],
        ),
        (
            {"message": "a\x00b"},
            [error("message", "INVALID", "message must not contain NUL characters.")],
        ),
        (
            {"extraTags": "x" * 6},
            [error("extraTags", "TOO_LONG", "extraTags must be at most 5 characters, got 6.")],
        ),
        (
            {"extraTags": "a\x00b"},
            [error("extraTags", "INVALID", "extraTags must not contain NUL characters.")],
        ),
        (
            {"meta": [1, 2]},
            [error("meta", "INVALID", "meta must be a JSON object (a dict), got [1, 2].")],
        ),
        (
            {"meta": "{}"},
            [error("meta", "INVALID", "meta must be a JSON object (a dict), got '{}'.")],
        ),
        ({"meta": 3}, [error("meta", "INVALID", "meta must be a JSON object (a dict), got 3.")]),
        (
            {"meta": {"k": "a\x00b"}},
            [error("meta", "INVALID", "meta must not contain NUL characters.")],
        ),
        (
            # {"k":"123456789ä"} is 19 bytes as compact UTF-8 JSON: ä takes two.
            {"meta": {"k": "123456789\u00e4"}},
            [error("meta", "TOO_LONG", "meta must be at most 18 bytes as JSON, got 19.")],
        ),
        (
            {"expiresAt": "2000-01-01T00:00:00+00:00"},
            [error("expiresAt", "INVALID", "expiresAt must be in the future.")],
        ),
        (
            {"expiresAt": "2100-01-01T00:00:00"},
            [
                error(
                    "expiresAt",
                    "INVALID",
                    "expiresAt must have a UTC offset (such as 2030-01-01T12:00:00+00:00) "
                    "when USE_TZ is True, got 2100-01-01T00:00:00.",
                )
            ],
        ),
        (
            {
                "recipients": [],
                "message": "",
                "extraTags": "\x00",
                "meta": [],
                "expiresAt": "2000-01-01T00:00:00+00:00",
            },
            [
                error("recipients", "REQUIRED", "Name at least one recipient."),
                error("message", "REQUIRED", "message must not be empty, got ''."),
                error("extraTags", "INVALID", "extraTags must not contain NUL characters."),
                error("meta", "INVALID", "meta must be a JSON object (a dict), got []."),
                error("expiresAt", "INVALID", "expiresAt must be in the future."),
            ],
        ),
    ],
)
def test_send_message_returns_every_validation_error_and_writes_nothing(
    sender: Client,
    user: AbstractBaseUser,
    settings: Any,
    fields: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    settings.USER_MESSAGES = {
        "MAX_RECIPIENTS": 3,
        "MAX_MESSAGE_LENGTH": 10,
        "MAX_EXTRA_TAGS_LENGTH": 5,
        "MAX_META_BYTES": 18,
    }
    valid = {"recipients": [str(user.pk)], "message": "Hello."}

    assert send(sender, **{**valid, **fields}) == {"count": 0, "errors": errors}
    assert Message.objects.count() == 0


def test_send_message_accepts_input_exactly_at_the_limits(
    sender: Client, make_user: Callable[..., AbstractBaseUser], settings: Any
) -> None:
    settings.USER_MESSAGES = {"MAX_RECIPIENTS": 3, "MAX_MESSAGE_LENGTH": 10, "MAX_META_BYTES": 18}
    recipients = [make_user().pk for _ in range(3)]

    result = send(sender, recipients=recipients, message="x" * 10, meta={"k": "12345678\u00e4"})

    assert result == {"count": 3, "errors": []}


def test_unknown_recipients_are_not_found_and_nothing_is_sent(
    sender: Client, user: AbstractBaseUser
) -> None:
    missing = user.pk + 1000

    assert send(sender, recipients=[user.pk, missing], message="Hello.") == {
        "count": 0,
        "errors": [
            error(
                "recipients",
                "NOT_FOUND",
                f"There are no users with ids [{missing}]; nothing was sent.",
            )
        ],
    }
    assert Message.objects.count() == 0


def test_meta_with_nan_is_invalid(sender: Client, user: AbstractBaseUser) -> None:
    # JSON has no NaN, but Python's parser (and so the view) accepts it in a request body.
    body = json.dumps(
        {
            "query": operation("SendMessage"),
            "variables": {
                "input": {"recipients": [user.pk], "level": "INFO", "message": "Hi", "meta": {}}
            },
        }
    ).replace('"meta": {}', '"meta": {"x": NaN}')
    response = sender.post("/graphql", body, content_type="application/json")

    assert response.json()["data"]["sendMessage"] == {
        "count": 0,
        "errors": [
            error(
                "meta",
                "INVALID",
                "meta must be serialisable as JSON: no NaN, no infinity, no circular references.",
            )
        ],
    }
    assert Message.objects.count() == 0


def test_an_unknown_level_is_a_schema_error_not_data(
    sender: Client, user: AbstractBaseUser
) -> None:
    variables = {"input": {"recipients": [user.pk], "level": "LOUD", "message": "Hi"}}
    response = sender.post(
        "/graphql",
        {"query": operation("SendMessage"), "variables": variables},
        content_type="application/json",
    )

    assert response.status_code == 400
    # graphql-core words it (both stacks run on it); 3.3, which only Strawberry accepts, anew.
    if graphql.version_info >= (3, 3):
        where = "has invalid value at .level:"
    else:
        where = "got invalid value 'LOUD' at 'input.level';"
    assert response.json()["errors"][0]["message"] == (
        f"Variable '$input' {where} Value 'LOUD' does not exist in 'MessageLevel' enum."
    )
    assert Message.objects.count() == 0


def test_sending_without_the_permission_is_denied_before_any_validation(
    alice: Client, other_user: AbstractBaseUser
) -> None:
    valid = send(alice, recipients=[other_user.pk], message="Hi")
    invalid = send(alice, recipients=[], message="")

    expected = {
        "count": 0,
        "errors": [
            error(None, "PERMISSION_DENIED", "You need the permission 'user_messages.add_message'.")
        ],
    }
    assert valid == invalid == expected
    assert Message.objects.count() == 0


def test_sending_signed_out_requires_login(client: Client, user: AbstractBaseUser) -> None:
    assert send(client, recipients=[user.pk], message="Hi") == {
        "count": 0,
        "errors": [error(None, "UNAUTHENTICATED", "You must be signed in.")],
    }
    assert Message.objects.count() == 0


def test_the_send_permission_comes_from_settings(
    sender: Client, user: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {"SEND_PERMISSION": "auth.add_user"}

    assert send(sender, recipients=[user.pk], message="Hi")["errors"] == [
        error(None, "PERMISSION_DENIED", "You need the permission 'auth.add_user'.")
    ]
    assert Message.objects.count() == 0


def test_superusers_may_send(
    client: Client, make_user: Callable[..., AbstractBaseUser], user: AbstractBaseUser
) -> None:
    client.force_login(make_user("root", is_superuser=True))

    assert send(client, recipients=[user.pk], message="Hi") == {"count": 1, "errors": []}


# CSRF


def test_graphql_posts_without_a_csrf_token_are_rejected(user: AbstractBaseUser) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    message = api.info(user, "Keep me.", deliver_once=False)

    response = client.post(
        "/graphql",
        {"query": operation("AcknowledgeMessages"), "variables": {"ids": [message.pk]}},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert Message.objects.get().delivered_at is None


def test_graphql_posts_with_the_csrf_cookie_in_the_header_are_accepted(
    user: AbstractBaseUser,
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    message = api.info(user, "Done.", deliver_once=False)
    # What an SPA does: any GET of the view sets the csrftoken cookie, which it then echoes
    # in the X-CSRFToken header.
    assert client.get("/graphql", {"query": operation("MyMessageCount")}).json() == {
        "data": {"myMessageCount": 1}
    }
    token = client.cookies["csrftoken"].value

    result = post_operation(
        client, "AcknowledgeMessages", {"ids": [message.pk]}, HTTP_X_CSRFTOKEN=token
    )

    assert result["data"]["acknowledgeMessages"]["acknowledgedIds"] == [str(message.pk)]
    assert Message.objects.get().delivered_at is not None


def test_mutations_are_refused_over_get(alice: Client, user: AbstractBaseUser) -> None:
    message = api.info(user, "Keep me.", deliver_once=False)

    response = alice.get(
        "/graphql",
        {"query": operation("AcknowledgeMessages"), "variables": json.dumps({"ids": [message.pk]})},
    )

    assert response.status_code == 405
    assert Message.objects.get().delivered_at is None
