"""myMessages and myMessageCount through the real GraphQL view."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from tests.operations import post_operation
from user_messages import api
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.async_view]

CREATED_AT = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
EXPIRES_AT = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)


def flash(client: Client, text: str, level: int = constants.INFO) -> None:
    """Put a django.contrib.messages message into the client's session, as a redirect would."""
    # Written the way a view's response writes it, so the next request reads it untouched.
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(level, text)
    response = HttpResponse()
    storage.update(response)
    name = CookieStorage.cookie_name
    client.cookies[name] = response.cookies[name].value


def stored(user: AbstractBaseUser, text: str, **options: Any) -> Message:
    """Store a message for user with a fixed creation time, so responses are stable."""
    message = api.add_message(user, options.pop("level", constants.INFO), text, **options)
    Message.objects.filter(pk=message.pk).update(created_at=CREATED_AT)
    return message


def my_messages(client: Client, *, peek: bool = False) -> list[dict[str, Any]]:
    response = post_operation(client, "MyMessages", {"peek": peek})
    assert "errors" not in response
    return response["data"]["myMessages"]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [message["message"] for message in messages]


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_my_messages_shows_session_messages_first_then_stored_ones(
    alice: Client, user: AbstractBaseUser, snapshot: Any
) -> None:
    stored(user, "Your export is ready.", meta={"url": "/exports/1"}, extra_tags="export")
    stored(
        user,
        "Maintenance tonight.",
        level=constants.WARNING,
        deliver_once=False,
        expires_at=EXPIRES_AT,
    )
    flash(alice, "Profile saved.", constants.SUCCESS)

    response = post_operation(alice, "MyMessages", {"peek": False})
    for message in response["data"]["myMessages"]:
        # This read is the first to show the stored ones: a fresh time, not for a snapshot.
        if message["seenAt"] is not None:
            message["seenAt"] = "(the time of this read)"
    snapshot.assert_match(response)


def test_my_messages_consumes_what_it_shows_like_a_page_render(
    alice: Client, user: AbstractBaseUser
) -> None:
    stored(user, "Stored once.")
    flash(alice, "Flashed.")

    assert texts(my_messages(alice)) == ["Flashed.", "Stored once."]
    assert texts(my_messages(alice)) == []
    assert Message.objects.get().delivered_at is not None


def test_peek_shows_the_same_messages_without_consuming_them(
    alice: Client, user: AbstractBaseUser
) -> None:
    stored(user, "Stored once.")
    flash(alice, "Flashed.")

    assert texts(my_messages(alice, peek=True)) == ["Flashed.", "Stored once."]
    assert texts(my_messages(alice, peek=True)) == ["Flashed.", "Stored once."]
    assert Message.objects.get().delivered_at is None
    assert texts(my_messages(alice)) == ["Flashed.", "Stored once."]
    assert texts(my_messages(alice, peek=True)) == []


def test_a_consuming_read_in_the_same_query_wins_over_a_peek(
    alice: Client, user: AbstractBaseUser
) -> None:
    flash(alice, "Flashed.")
    response = alice.post(
        "/graphql",
        {"query": "{ shown: myMessages { message } peeked: myMessages(peek: true) { message } }"},
        content_type="application/json",
    )

    assert response.json() == {
        "data": {"shown": [{"message": "Flashed."}], "peeked": [{"message": "Flashed."}]}
    }
    assert texts(my_messages(alice, peek=True)) == []


def test_sticky_message_returns_until_acknowledged(alice: Client, user: AbstractBaseUser) -> None:
    message = stored(user, "Please confirm your email.", deliver_once=False)

    assert texts(my_messages(alice)) == ["Please confirm your email."]
    assert texts(my_messages(alice)) == ["Please confirm your email."]
    response = post_operation(alice, "AcknowledgeMessages", {"ids": [str(message.pk)]})
    assert response["data"]["acknowledgeMessages"]["acknowledgedIds"] == [str(message.pk)]
    assert texts(my_messages(alice)) == []


def test_expired_messages_are_neither_shown_nor_counted(
    alice: Client, user: AbstractBaseUser
) -> None:
    message = stored(user, "Sale ends soon.", expires_at=EXPIRES_AT)
    Message.objects.filter(pk=message.pk).update(expires_at=CREATED_AT)

    assert my_messages(alice, peek=True) == []
    assert my_messages(alice) == []
    assert post_operation(alice, "MyMessageCount") == {"data": {"myMessageCount": 0}}


def test_anonymous_user_gets_session_messages_only(client: Client, user: AbstractBaseUser) -> None:
    stored(user, "Not for strangers.")
    flash(client, "Signed out.")

    assert texts(my_messages(client, peek=True)) == ["Signed out."]
    assert my_messages(client) == [
        {
            "id": None,
            "message": "Signed out.",
            "level": 20,
            "levelName": "INFO",
            "levelTag": "info",
            "tags": "info",
            "extraTags": "",
            "meta": {},
            "createdAt": None,
            "deliverOnce": True,
            "expiresAt": None,
            "state": None,
            "seenAt": None,
            "acknowledgedAt": None,
            "category": "",
            "archivedAt": None,
            "actions": [],
        }
    ]
    assert post_operation(client, "MyMessageCount") == {"data": {"myMessageCount": 0}}
    assert Message.objects.get().delivered_at is None


def test_my_message_count_counts_pending_stored_messages_only(
    alice: Client, user: AbstractBaseUser, other_user: AbstractBaseUser, snapshot: Any
) -> None:
    stored(user, "One.")
    stored(user, "Two.", deliver_once=False)
    api.acknowledge(user, [stored(user, "Acknowledged.").pk])
    stored(other_user, "Not mine.")
    flash(alice, "Session messages are not counted.")

    snapshot.assert_match(post_operation(alice, "MyMessageCount"))


@pytest.mark.parametrize("count", [1, 20])
def test_my_messages_costs_what_the_context_processor_costs_whatever_the_number(
    alice: Client,
    user: AbstractBaseUser,
    count: int,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    for number in range(count):
        stored(user, f"Page {number}.")
        stored(user, f"Sticky {number}.", deliver_once=False)
    with CaptureQueriesContext(connection) as page_render:
        alice.get("/messages/")
    for number in range(count):
        stored(user, f"GraphQL {number}.")

    # Session, user, messages read, deliver-once messages claimed: as for the page.
    with django_assert_num_queries(4):
        shown = my_messages(alice)
    assert len(page_render) == 4
    assert len(shown) == 2 * count


@pytest.mark.parametrize("count", [1, 20])
def test_peek_costs_one_query_for_the_stored_messages_whatever_the_number(
    alice: Client,
    user: AbstractBaseUser,
    count: int,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    for number in range(count):
        stored(user, f"Message {number}.")

    # Session, user, messages read; nothing is claimed.
    with django_assert_num_queries(3):
        shown = my_messages(alice, peek=True)
    assert len(shown) == count


def test_level_name_is_the_level_enum_and_null_for_a_custom_level(
    alice: Client, user: AbstractBaseUser, settings: Any
) -> None:
    settings.MESSAGE_TAGS = {constants.INFO: "info", 35: "notice"}
    for level in (constants.DEBUG, constants.INFO, constants.SUCCESS, 35, constants.ERROR):
        stored(user, f"Level {level}.", level=level)

    assert [
        (message["level"], message["levelName"], message["levelTag"])
        for message in my_messages(alice)
    ] == [
        (10, "DEBUG", "debug"),
        (20, "INFO", "info"),
        (25, "SUCCESS", "success"),
        (35, None, "notice"),
        (40, "ERROR", "error"),
    ]
