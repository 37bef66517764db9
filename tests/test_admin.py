"""The admin: list, filters, search, raw id for the user, and marking messages delivered."""

from __future__ import annotations

import re

import pytest

from user_messages import api
from user_messages.models import Message

URL = "/admin/user_messages/message/"


@pytest.fixture
def messages(user, other_user):
    return {
        "pending": api.info(user, "Pending for alice"),
        "sticky": api.warning(other_user, "Sticky for bob", deliver_once=False),
        "delivered": api.error(user, "Delivered to alice"),
    }


def rows(response) -> list[str]:
    """The message column of the changelist, in display order."""
    return re.findall(r'<td class="field-message">(.*?)</td>', response.content.decode())


def test_changelist_lists_messages_newest_first(admin_client, messages):
    Message.objects.filter(pk=messages["delivered"].pk).update(delivered_at="2024-01-01T00:00Z")

    response = admin_client.get(URL)

    assert response.status_code == 200
    assert rows(response) == ["Delivered to alice", "Sticky for bob", "Pending for alice"]


def test_changelist_costs_the_same_queries_for_many_messages(
    admin_client, user, django_assert_max_num_queries
):
    for index in range(30):
        api.info(user, f"m{index}")

    with django_assert_max_num_queries(12):
        assert len(rows(admin_client.get(URL))) == 30


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"delivered": "no"}, ["Sticky for bob", "Pending for alice"]),
        ({"delivered": "yes"}, ["Delivered to alice"]),
        ({"deliver_once__exact": "0"}, ["Sticky for bob"]),
        ({"level": "40"}, ["Delivered to alice"]),
        ({"q": "sticky"}, ["Sticky for bob"]),
        ({"q": "alice"}, ["Delivered to alice", "Pending for alice"]),
    ],
)
def test_changelist_filters_and_search(admin_client, messages, query, expected):
    Message.objects.filter(pk=messages["delivered"].pk).update(delivered_at="2024-01-01T00:00Z")

    assert rows(admin_client.get(URL, query)) == expected


def test_search_finds_messages_by_username(admin_client, messages):
    assert rows(admin_client.get(URL, {"q": "bob"})) == ["Sticky for bob"]


def test_change_form_uses_a_raw_id_for_the_user(admin_client, messages):
    response = admin_client.get(f"{URL}{messages['pending'].pk}/change/")

    assert 'class="vForeignKeyRawIdAdminField"' in response.content.decode()


def test_action_marks_selected_messages_delivered(admin_client, messages, user):
    selected = [messages["pending"].pk, messages["sticky"].pk]

    response = admin_client.post(
        URL, {"action": "mark_delivered", "_selected_action": selected}, follow=True
    )

    assert "2 messages were marked as delivered." in response.content.decode()
    assert not Message.objects.filter(pk__in=selected, delivered_at__isnull=True).exists()
    assert [str(m) for m in api.get_messages(user=user)] == ["Delivered to alice"]
