"""Preferences: which categories a user gets, and sends that respect them in their INSERT."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from user_messages import api
from user_messages.models import Message, MessagePreference

CATEGORIES = {
    "billing": {"label": "Billing", "description": "Invoices and payments"},
    "security": {"label": "Security", "critical": True},
    "news": {"label": "News", "default": False},
}


@pytest.fixture(autouse=True)
def declared(settings):
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}


def enabled(user):
    return {p.category: p.enabled for p in api.preferences(user)}


def test_preferences_list_every_declared_category_with_its_defaults(
    user, django_assert_num_queries
):
    with django_assert_num_queries(1):
        preferences = api.preferences(user)

    assert preferences == [
        api.Preference("billing", "Billing", "Invoices and payments", False, True),
        api.Preference("security", "Security", "", True, True),
        api.Preference("news", "News", "", False, False),
    ]


def test_no_categories_declared_means_no_preferences_and_no_query(
    user, settings, django_assert_num_queries
):
    settings.USER_MESSAGES = {}

    with django_assert_num_queries(0):
        assert api.preferences(user) == []


def test_set_preferences_stores_only_what_differs_from_the_default(user):
    result = api.set_preferences(user, {"billing": False, "news": True, "security": True})

    assert {p.category: p.enabled for p in result} == {
        "billing": False,
        "security": True,
        "news": True,
    }
    assert sorted(MessagePreference.objects.values_list("category", "enabled")) == [
        ("billing", False),
        ("news", True),
    ]
    api.set_preferences(user.pk, {"billing": True, "news": True})
    assert list(MessagePreference.objects.values_list("category", "enabled")) == [("news", True)]
    assert enabled(user) == {"billing": True, "security": True, "news": True}


def test_preferences_are_per_user(user, other_user):
    api.set_preferences(user, {"billing": False})

    assert enabled(other_user)["billing"] is True


@pytest.mark.parametrize(
    ("choices", "error", "message"),
    [
        (
            {"billing": False, "nope": False},
            ValueError,
            "Unknown category 'nope', must be one of: 'billing', 'security', 'news'.",
        ),
        (
            {"billing": False, "security": False},
            ValueError,
            "The category 'security' is critical: it cannot be turned off.",
        ),
        (
            {"billing": "no"},
            TypeError,
            "The preference for 'billing' must be True or False, got 'no'.",
        ),
        (
            ["billing"],
            TypeError,
            "Preferences must be a dict of category names to True or False, got ['billing'].",
        ),
    ],
)
def test_a_bad_choice_changes_nothing(user, choices, error, message):
    api.set_preferences(user, {"news": True})

    with pytest.raises(error) as raised:
        api.set_preferences(user, choices)

    assert str(raised.value) == message
    assert list(MessagePreference.objects.values_list("category", "enabled")) == [("news", True)]


def test_a_send_to_a_user_who_turned_the_category_off_stores_nothing(user):
    api.set_preferences(user, {"billing": False})

    assert api.info(user, "Invoice.", category="billing") is None
    assert api.info(user.pk, "Invoice.", category="billing") is None
    assert not Message.objects.exists()
    assert api.info(user, "Hello.").message == "Hello."
    assert api.info(user, "New sign-in.", category="security").category == "security"


def test_a_category_off_by_default_reaches_only_those_who_turned_it_on(user, other_user):
    api.set_preferences(other_user, {"news": True})

    assert api.info(user, "Newsletter.", category="news") is None
    assert api.info(other_user, "Newsletter.", category="news").category == "news"


def test_an_unknown_user_is_still_an_error_with_a_category(db):
    with pytest.raises(ValueError, match=r"^There is no user with id 987654\.$"):
        api.info(987654, "Invoice.", category="billing")


def test_a_one_user_send_checks_the_preference_inside_its_insert(user, django_assert_num_queries):
    if not connection.features.can_return_columns_from_insert:
        pytest.skip("without INSERT ... RETURNING the preference is read before the INSERT")
    with django_assert_num_queries(1) as captured:
        api.info(user, "Invoice.", category="billing")

    assert "EXISTS" in captured.captured_queries[0]["sql"]


def test_a_broadcast_leaves_out_who_turned_the_category_off_in_its_insert(make_user):
    users = [make_user() for _ in range(10)]
    for opted_out in users[:3]:
        api.set_preferences(opted_out, {"billing": False})
    table = connection.ops.quote_name(Message._meta.db_table)

    with CaptureQueriesContext(connection) as queries:
        count = api.info(type(users[0]).objects.all(), "Invoice.", category="billing")
    inserts = [q["sql"] for q in queries if q["sql"].startswith(f"INSERT INTO {table}")]

    assert count == 7
    assert len(inserts) == 1
    assert "NOT EXISTS" in inserts[0]
    assert set(Message.objects.values_list("user_id", flat=True)) == {u.pk for u in users[3:]}


def test_a_broadcast_to_a_list_counts_only_who_gets_it_and_still_finds_unknown_ids(make_user):
    users = [make_user() for _ in range(4)]
    api.set_preferences(users[0], {"billing": False})

    assert api.info(users, "Invoice.", category="billing") == 3
    with pytest.raises(ValueError, match=r"^There are no users with ids \[987654\]"):
        api.info([users[1], 987654], "Invoice.", category="billing")
    assert Message.objects.count() == 3


def test_critical_and_uncategorised_messages_reach_everyone(make_user):
    users = [make_user() for _ in range(3)]
    MessagePreference.objects.create(user=users[0], category="security", enabled=False)

    assert api.warning(users, "New sign-in.", category="security") == 3
    assert api.info(users, "Hello.") == 3


def test_without_insert_returning_the_preference_is_read_before_the_insert(
    user, other_user, monkeypatch
):
    if connection.vendor == "postgresql":
        pytest.skip("Django saves through RETURNING on PostgreSQL: psycopg has no lastrowid")
    api.set_preferences(user, {"billing": False})
    api.set_preferences(other_user, {"news": True})
    # MySQL: the one backend whose INSERT cannot return the new row.
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)

    assert api.info(user, "Invoice.", category="billing") is None
    assert api.info(other_user, "Invoice.", category="billing").category == "billing"
    assert api.info(user, "News.", category="news") is None
    assert api.info(other_user, "News.", category="news").category == "news"
    assert api.info(user, "Alert.", category="security").category == "security"
