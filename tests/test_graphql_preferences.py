"""Preferences over GraphQL, on both stacks: read them, change them, and what a send then does."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from tests.operations import post_operation
from user_messages import api
from user_messages.models import Message, MessagePreference

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.async_view]

CATEGORIES = {
    "billing": {"label": "Billing", "description": "Invoices and payments"},
    "security": {"label": "Security", "critical": True},
    "news": {"label": "News", "default": False},
}


@pytest.fixture(autouse=True)
def declared(settings: Any) -> None:
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}


def preference(category: str, label: str, enabled: bool, **rest: Any) -> dict[str, Any]:
    return {
        "category": category,
        "label": label,
        "description": rest.get("description", ""),
        "critical": rest.get("critical", False),
        "enabled": enabled,
    }


def set_preferences(client: Client, **choices: bool) -> dict[str, Any]:
    entries = [{"category": name, "enabled": on} for name, on in choices.items()]
    response = post_operation(client, "SetMessagePreferences", {"input": entries})
    assert "errors" not in response, response
    return response["data"]["setMessagePreferences"]  # type: ignore[no-any-return]


def test_my_message_preferences_lists_every_declared_category(alice: Client) -> None:
    assert post_operation(alice, "MyMessagePreferences") == {
        "data": {
            "myMessagePreferences": [
                preference("billing", "Billing", True, description="Invoices and payments"),
                preference("security", "Security", True, critical=True),
                preference("news", "News", False),
            ]
        }
    }


def test_set_message_preferences_changes_them_and_returns_them_all(
    alice: Client, user: AbstractBaseUser
) -> None:
    payload = set_preferences(alice, billing=False, news=True)

    assert payload["errors"] == []
    assert [(p["category"], p["enabled"]) for p in payload["preferences"]] == [
        ("billing", False),
        ("security", True),
        ("news", True),
    ]
    assert [(p.category, p.enabled) for p in api.preferences(user)] == [
        ("billing", False),
        ("security", True),
        ("news", True),
    ]


@pytest.mark.parametrize(
    ("choices", "error"),
    [
        (
            {"billing": False, "nope": True},
            {
                "field": "category",
                "code": "INVALID",
                "message": "Unknown category 'nope', must be one of: 'billing', 'security', "
                "'news'.",
            },
        ),
        (
            {"billing": False, "security": False},
            {
                "field": "category",
                "code": "PERMISSION_DENIED",
                "message": "The category 'security' is critical: it cannot be turned off.",
            },
        ),
        (
            {"billing": False, "news": True, "security": True, "x": True},
            {
                "field": "input",
                "code": "TOO_MANY",
                "message": "At most 3 preferences, one per declared category, got 4.",
            },
        ),
    ],
)
def test_a_refused_change_changes_nothing_and_says_why_as_data(
    alice: Client, choices: dict[str, bool], error: dict[str, Any]
) -> None:
    assert set_preferences(alice, **choices) == {"preferences": [], "errors": [error]}
    assert not MessagePreference.objects.exists()


def test_preferences_need_a_signed_in_user(client: Client, user: AbstractBaseUser) -> None:
    assert post_operation(client, "MyMessagePreferences") == {"data": {"myMessagePreferences": []}}
    assert set_preferences(client, billing=False) == {
        "preferences": [],
        "errors": [{"field": None, "code": "UNAUTHENTICATED", "message": "You must be signed in."}],
    }
    assert not MessagePreference.objects.exists()


def test_changing_preferences_needs_the_csrf_token(user: AbstractBaseUser) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(
        "/graphql",
        {"query": "mutation { setMessagePreferences(input: []) { errors { code } } }"},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert not MessagePreference.objects.exists()


def test_a_send_skips_who_turned_the_category_off(
    sender: Client, alice: Client, user: AbstractBaseUser, other_user: AbstractBaseUser
) -> None:
    set_preferences(alice, billing=False)

    response = post_operation(
        sender,
        "SendMessage",
        {
            "input": {
                "recipients": [str(user.pk), str(other_user.pk)],
                "level": "INFO",
                "message": "Invoice.",
                "category": "billing",
            }
        },
    )

    assert response == {"data": {"sendMessage": {"count": 1, "errors": []}}}
    assert list(Message.objects.values_list("user_id", flat=True)) == [other_user.pk]
