"""Preferences in the admin: listed per user, and changed by staff within the same rules."""

from __future__ import annotations

import re

import pytest

from user_messages import api
from user_messages.models import MessagePreference

URL = "/admin/user_messages/messagepreference/"
CATEGORIES = {
    "billing": {"label": "Billing"},
    "security": {"label": "Security", "critical": True},
}


@pytest.fixture(autouse=True)
def declared(settings):
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}


def test_the_changelist_lists_each_users_choices(admin_client, user, other_user):
    api.set_preferences(user, {"billing": False})

    html = admin_client.get(URL, {"q": "alice"}).content.decode()

    assert re.findall(r'<td class="field-category_display">(.*?)</td>', html) == ["Billing"]
    assert admin_client.get(URL, {"q": "bob"}).context["cl"].result_count == 0


def test_staff_turn_a_category_off_for_a_user(admin_client, user):
    response = admin_client.post(
        f"{URL}add/", {"user": user.pk, "category": "billing", "enabled": ""}
    )

    assert response.status_code == 302
    assert [(p.category, p.enabled) for p in api.preferences(user)] == [
        ("billing", False),
        ("security", True),
    ]


def test_the_form_refuses_to_turn_a_critical_category_off(admin_client, user):
    response = admin_client.post(
        f"{URL}add/", {"user": user.pk, "category": "security", "enabled": ""}
    )

    assert response.status_code == 200
    assert "Security is critical: it cannot be turned off." in response.content.decode()
    assert not MessagePreference.objects.exists()


def test_the_form_offers_the_declared_categories_only(admin_client):
    html = admin_client.get(f"{URL}add/").content.decode()

    (select,) = re.findall(r'<select name="category".*?</select>', html, re.S)
    assert re.findall(r'<option value="([^"]*)"', select) == ["billing", "security"]


def test_a_projects_user_admin_shows_and_changes_the_users_preferences_inline(admin_client, user):
    api.set_preferences(user, {"billing": False})
    url = f"/people-admin/auth/user/{user.pk}/change/"
    (preference,) = MessagePreference.objects.all()

    html = admin_client.get(url).content.decode()
    response = admin_client.post(
        url,
        {
            "username": user.username,
            "email": "",
            "message_preferences-TOTAL_FORMS": "1",
            "message_preferences-INITIAL_FORMS": "1",
            "message_preferences-0-id": preference.pk,
            "message_preferences-0-user": user.pk,
            "message_preferences-0-category": "billing",
            "message_preferences-0-enabled": "on",
        },
    )

    assert re.findall(
        r'<select name="message_preferences-0-category".*?<option value="(\w+)" selected',
        html,
        re.S,
    ) == ["billing"]
    assert response.status_code == 302
    assert list(MessagePreference.objects.values_list("category", "enabled")) == [("billing", True)]
