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


def level_cells(response) -> list[str]:
    return re.findall(r'<td class="field-level_display">(.*?)</td>', response.content.decode())


def test_changelist_shows_levels_by_name_as_coloured_tags(admin_client, user, settings):
    settings.MESSAGE_TAGS = {35: "notice"}
    api.add_message(user, 35, "Custom")
    api.error(user, "Broken")
    api.debug(user, "Details")

    assert level_cells(admin_client.get(URL)) == [
        '<span class="user-messages-level user-messages-level-debug" title="10">Debug</span>',
        '<span class="user-messages-level user-messages-level-error" title="40">Error</span>',
        '<span class="user-messages-level user-messages-level-warning" title="35">'
        "Notice (35)</span>",
    ]


def test_changelist_gives_the_message_column_room_to_read(admin_client, messages):
    html = admin_client.get(URL).content.decode()

    # The stylesheet gives td.field-message a minimum width and colours the level tags.
    assert re.search(r'<link href="[^"]*user_messages/admin\.css" media="all"', html)


def test_level_filter_names_the_levels_including_custom_ones(admin_client, settings):
    settings.MESSAGE_TAGS = {35: "notice"}

    html = admin_client.get(URL).content.decode()

    assert re.findall(r'<a href="\?level=(\d+)">([^<]+)</a>', html) == [
        ("10", "Debug"),
        ("20", "Info"),
        ("25", "Success"),
        ("30", "Warning"),
        ("35", "Notice (35)"),
        ("40", "Error"),
    ]


@pytest.mark.parametrize("level", ["loud", "4e1", "99999999999999999999999", str(2**31)])
def test_a_level_filter_that_is_no_level_is_the_admins_invalid_filter_redirect(admin_client, level):
    response = admin_client.get(URL, {"level": level})

    assert (response.status_code, response["Location"]) == (302, f"{URL}?e=1")


def test_add_form_offers_a_level_choice_and_stores_the_chosen_level(admin_client, user):
    html = admin_client.get(f"{URL}add/").content.decode()
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]+)</option>', html)

    assert options == [
        ("10", "", "Debug"),
        ("20", " selected", "Info"),
        ("25", "", "Success"),
        ("30", "", "Warning"),
        ("40", "", "Error"),
    ]

    response = admin_client.post(
        f"{URL}add/",
        {"user": user.pk, "level": "25", "message": "Saved.", "meta": "{}", "deliver_once": "on"},
    )

    assert response.status_code == 302
    assert list(Message.objects.values_list("user", "level", "message")) == [
        (user.pk, 25, "Saved.")
    ]


def test_change_form_shows_created_and_delivered_times_read_only(admin_client, messages):
    html = admin_client.get(f"{URL}{messages['pending'].pk}/change/").content.decode()

    assert 'name="created_at' not in html
    assert 'name="delivered_at' not in html
    assert 'class="form-row field-created_at"' in html
    assert 'class="form-row field-delivered_at"' in html


def test_change_form_keeps_a_custom_level_that_message_tags_no_longer_names(admin_client, user):
    message = api.add_message(user, 33, "Odd level")

    html = admin_client.get(f"{URL}{message.pk}/change/").content.decode()

    assert '<option value="33" selected>33</option>' in html


def state_cells(response) -> list[str]:
    return re.findall(r'<td class="field-state_display">(.*?)</td>', response.content.decode())


def test_changelist_shows_each_state_coloured_and_filters_by_it(admin_client, user, other_user):
    api.info(user, "delivered")
    list(api.get_messages(user=user))
    api.warning(user, "acknowledged", deliver_once=False)
    api.acknowledge_all(user)
    api.info(other_user, "pending")

    assert state_cells(admin_client.get(URL)) == [
        '<span class="user-messages-level user-messages-level-warning">pending</span>',
        '<span class="user-messages-level user-messages-level-success">acknowledged</span>',
        '<span class="user-messages-level user-messages-level-info">delivered</span>',
    ]
    assert rows(admin_client.get(URL, {"state": "acknowledged"})) == ["acknowledged"]
    assert rows(admin_client.get(URL, {"state": "pending"})) == ["pending"]
    response = admin_client.get(URL, {"state": "seen"})
    assert (response.status_code, response["Location"]) == (302, f"{URL}?e=1")


def test_changelist_shows_when_each_message_was_seen_and_acknowledged(admin_client, user):
    api.info(user, "delivered")
    list(api.get_messages(user=user))

    html = admin_client.get(URL).content.decode()

    assert re.findall(r'<th[^>]*class="[^"]*column-(seen_at|acknowledged_at)', html) == [
        "seen_at",
        "acknowledged_at",
    ]
    assert '<td class="field-acknowledged_at nowrap">-</td>' in html


def test_the_action_records_when_staff_acknowledged(admin_client, messages):
    admin_client.post(
        URL, {"action": "mark_delivered", "_selected_action": [messages["sticky"].pk]}
    )

    sticky = Message.objects.get(pk=messages["sticky"].pk)
    assert sticky.acknowledged_at == sticky.delivered_at
    assert sticky.acknowledged_at is not None


CATEGORIES = {"billing": {"label": "Billing"}, "security": {"label": "Security"}}


@pytest.fixture
def categorised(settings, user):
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}
    return {
        "bill": api.info(user, "Invoice", category="billing"),
        "alert": api.info(user, "New sign-in", category="security"),
        "plain": api.info(user, "Hello"),
    }


def test_the_changelist_shows_each_messages_category_by_its_label(admin_client, categorised):
    html = admin_client.get(URL).content.decode()

    assert re.findall(r'<td class="field-category_display">(.*?)</td>', html) == [
        "None",
        "Security",
        "Billing",
    ]


@pytest.mark.parametrize(
    ("category", "expected"),
    [("billing", ["Invoice"]), ("security", ["New sign-in"]), ("-", ["Hello"])],
)
def test_the_changelist_filters_by_category(admin_client, categorised, category, expected):
    response = admin_client.get(URL, {"category": category})

    assert rows(response) == expected
    html = response.content.decode()
    for value in ("billing", "security", "-"):
        assert f'href="?category={value}"' in html


def test_the_change_form_offers_the_declared_categories_and_saves_one(
    admin_client, categorised, user
):
    url = f"{URL}{categorised['plain'].pk}/change/"
    html = admin_client.get(url).content.decode()
    (select,) = re.findall(r'<select name="category".*?</select>', html, re.S)
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "billing", "security"]

    response = admin_client.post(
        url,
        {
            "user": user.pk,
            "level": "20",
            "category": "billing",
            "message": "Hello",
            "extra_tags": "",
            "meta": "{}",
            "deliver_once": "on",
        },
    )

    assert response.status_code == 302
    assert Message.objects.get(pk=categorised["plain"].pk).category == "billing"


# Archive


def test_the_changelist_shows_when_messages_were_archived_and_filters_by_it(admin_client, user):
    api.info(user, "In the inbox")
    api.archive(user, [api.info(user, "Archived").pk])

    html = admin_client.get(URL).content.decode()

    assert "column-archived_at" in html
    assert rows(admin_client.get(URL, {"archived": "yes"})) == ["Archived"]
    assert rows(admin_client.get(URL, {"archived": "no"})) == ["In the inbox"]


def test_the_archive_action_archives_and_acknowledges_what_was_pending(
    admin_client, messages, user, other_user
):
    response = admin_client.post(
        URL,
        {
            "action": "archive",
            "_selected_action": [messages["sticky"].pk, messages["pending"].pk],
        },
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["2 messages were archived."]
    archived = Message.objects.archived()
    assert sorted(m.message for m in archived) == ["Pending for alice", "Sticky for bob"]
    assert all(m.acknowledged_at == m.archived_at for m in archived)
    assert api.pending_count(other_user) == 0
    assert api.pending_count(user) == 1


def test_the_change_form_shows_the_actions_as_links_read_only(admin_client, user):
    message = api.info(
        user,
        "Invoice due",
        actions=[
            {"label": "Pay now", "url": "/billing/pay/"},
            {"label": "<b>Details</b>", "url": "https://example.com/i/7"},
        ],
    )

    html = admin_client.get(f"{URL}{message.pk}/change/").content.decode()

    assert (
        '<a href="/billing/pay/" rel="noopener noreferrer">Pay now</a>, '
        '<a href="https://example.com/i/7" rel="noopener noreferrer">&lt;b&gt;Details&lt;/b&gt;'
        "</a>"
    ) in html
    assert 'name="actions' not in html
    assert 'class="form-row field-archived_at"' in html


def test_the_change_form_never_links_a_stored_unsafe_action(admin_client, user):
    message = api.info(user, "Written around the API")
    Message.objects.filter(pk=message.pk).update(
        actions=[{"label": "Bad", "url": "javascript:alert(1)"}]
    )

    html = admin_client.get(f"{URL}{message.pk}/change/").content.decode()

    assert "javascript:" not in html
