"""The admin action "Send a message to the selected users", driven through the user changelist."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from user_messages.models import Message
from user_messages.signals import messages_changed

USERS_URL = "/admin/auth/user/"


@pytest.fixture
def alice(user):
    return user


@pytest.fixture
def bob(other_user):
    return other_user


@pytest.fixture
def carol(make_user):
    return make_user("carol")


def choose(users: list[Any], **extra: Any) -> dict[str, Any]:
    """What the changelist posts when staff tick these users and pick the action."""
    return {"action": "send_message", "_selected_action": [u.pk for u in users], **extra}


def send(client: Client, users: list[Any], url: str = USERS_URL, **fields: Any) -> Any:
    """Submit the action's form for these users, as its Send button does."""
    data = {
        "level": "20",
        "message": "Server maintenance at noon.",
        "deliver_once": "1",
        "link": "",
        "expires_at": "",
        "send": "Send",
        **fields,
    }
    return client.post(url, choose(users, **data), follow=True)


def stored() -> list[tuple[Any, ...]]:
    return list(
        Message.objects.order_by("user__username").values_list(
            "user__username", "level", "message", "deliver_once", "meta", "expires_at"
        )
    )


def user_admin_permissions() -> list[Permission]:
    """What staff need to open the user changelist, and nothing to do with messages."""
    return list(Permission.objects.filter(codename__in=["view_user", "change_user"]))


def notices(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_action_shows_a_form_naming_the_selected_users(admin_client, alice, bob, carol):
    response = admin_client.post(USERS_URL, choose([alice, bob], index="0"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "One message will be stored for each of these 2 users:" in html
    (recipients,) = re.findall(r'<p class="user-messages-recipients">(.*?)</p>', html, re.S)
    assert re.findall(r"<strong>(\w+)</strong>", recipients) == ["alice", "bob"]
    assert re.findall(r'<option value="(\d+)"', html) == ["10", "20", "25", "30", "40"]
    assert re.findall(r'name="_selected_action" value="(\d+)"', html) == [
        str(alice.pk),
        str(bob.pk),
    ]
    assert Message.objects.count() == 0


def test_sending_stores_one_message_per_selected_user_and_says_how_many(
    admin_client, alice, bob, carol
):
    response = send(admin_client, [alice, bob], level="30")

    assert response.redirect_chain == [(USERS_URL, 302)]
    assert notices(response) == ["2 messages were stored."]
    assert stored() == [
        ("alice", 30, "Server maintenance at noon.", True, {}, None),
        ("bob", 30, "Server maintenance at noon.", True, {}, None),
    ]


def test_a_sticky_message_keeps_its_link_in_meta_and_its_expiry(admin_client, alice):
    send(
        admin_client,
        [alice],
        deliver_once="0",
        link="/orders/7/",
        expires_at="2100-01-01T12:30",
    )

    expires = datetime.datetime(2100, 1, 1, 12, 30, tzinfo=datetime.timezone.utc)
    assert stored() == [
        ("alice", 20, "Server maintenance at noon.", False, {"url": "/orders/7/"}, expires)
    ]


def test_sending_calls_the_broadcast_once_whatever_the_number_of_users(admin_client, make_user):
    users = [make_user() for _ in range(30)]

    with CaptureQueriesContext(connection) as queries:
        response = send(admin_client, users)

    table = connection.ops.quote_name(Message._meta.db_table)
    inserts = [q["sql"] for q in queries if q["sql"].startswith(f"INSERT INTO {table}")]
    assert len(inserts) == 1
    assert notices(response) == ["30 messages were stored."]
    assert Message.objects.count() == 30


def test_select_all_sends_to_every_user_the_changelist_shows(admin_client, alice, bob, carol):
    url = f"{USERS_URL}?is_staff__exact=0"

    response = send(admin_client, [alice], url=url, select_across="1")

    assert notices(response) == ["3 messages were stored."]
    assert [row[0] for row in stored()] == ["alice", "bob", "carol"]


def offered_actions(client: Client, url: str) -> list[str]:
    """The actions the changelist's action menu offers; none when it has no menu."""
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>alice</strong>" in html or ">alice</a>" in html  # the changelist, listed
    menus = re.findall(r'<select name="action"[^>]*>(.*?)</select>', html, re.S)
    return [value for menu in menus for value in re.findall(r'<option value="(\w+)"', menu)]


@pytest.fixture
def staff(client, make_user):
    """A client signed in as staff who may manage users but not send messages."""
    member = make_user("staff", is_staff=True)
    member.user_permissions.add(*user_admin_permissions())
    client.force_login(member)
    client.member = member  # type: ignore[attr-defined]
    return client


# The stock UserAdmin (the package adds the action) and a project's own, as the README says.
ADMINS_THAT_HIDE = [USERS_URL, "/people-admin/auth/user/"]


@pytest.mark.parametrize("url", ADMINS_THAT_HIDE)
def test_staff_without_the_send_permission_do_not_see_the_action(staff, alice, url):
    staff.member.user_permissions.add(Permission.objects.get(codename="delete_user"))

    assert offered_actions(staff, url) == ["delete_selected"]


@pytest.mark.parametrize("url", ADMINS_THAT_HIDE)
def test_staff_with_the_send_permission_see_the_action(staff, alice, url):
    staff.member.user_permissions.add(Permission.objects.get(codename="add_message"))

    assert offered_actions(staff, url) == ["send_message"]


def test_superusers_see_the_action(admin_client, alice):
    assert offered_actions(admin_client, USERS_URL) == ["delete_selected", "send_message"]


@pytest.mark.parametrize("url", ADMINS_THAT_HIDE)
def test_a_forged_post_of_the_hidden_action_stores_nothing(staff, alice, url):
    form = staff.post(url, choose([alice], index="0"), follow=True)
    response = send(staff, [alice], url=url)

    assert "One message will be stored" not in form.content.decode()
    assert response.status_code == 200
    assert "messages were stored" not in " ".join(notices(response))
    assert Message.objects.count() == 0


def test_an_admin_listing_the_action_without_the_mixin_shows_it_and_refuses_to_send(staff, alice):
    url = "/plain-people-admin/auth/user/"
    assert offered_actions(staff, url) == ["send_message"]

    response = send(staff, [alice], url=url)

    assert notices(response) == [
        "You need the permission user_messages.add_message to send messages."
    ]
    assert Message.objects.count() == 0


def test_the_send_permission_setting_decides_who_may_send(client, make_user, alice, settings):
    settings.USER_MESSAGES = {"SEND_PERMISSION": "auth.change_user"}
    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(*user_admin_permissions())
    client.force_login(staff)

    assert notices(send(client, [alice])) == ["1 message was stored."]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"message": ""}, "This field is required."),
        ({"message": "x" * 11}, "Ensure this value has at most 10 characters (it has 11)."),
        ({"message": "nul\x00"}, "Null characters are not allowed."),
        ({"level": "99"}, "Select a valid choice. 99 is not one of the available choices."),
        ({"deliver_once": "maybe"}, "Select a valid choice. maybe is not one of the available"),
        ({"link": "javascript:alert(1)"}, "Enter an http(s) address or a path starting with /."),
        ({"link": "//evil.example/"}, "Enter an http(s) address or a path starting with /."),
        # Browsers read "/\\host" as another host; the page would not render it as a link.
        ({"link": "/\\evil.example/"}, "Enter an http(s) address or a path starting with /."),
        ({"link": "/a\tb"}, "Enter an http(s) address or a path starting with /."),
        ({"expires_at": "2001-01-01T00:00"}, "Choose a time in the future."),
        ({"expires_at": "soon"}, "Enter a valid date/time."),
    ],
)
def test_invalid_input_shows_the_form_again_and_stores_nothing(
    admin_client, alice, settings, fields, error
):
    settings.USER_MESSAGES = {"MAX_MESSAGE_LENGTH": 10}

    response = send(admin_client, [alice], **fields)

    html = response.content.decode()
    assert response.status_code == 200
    assert response.redirect_chain == []
    assert error in html.replace("&quot;", '"')
    assert re.findall(r'name="_selected_action" value="(\d+)"', html) == [str(alice.pk)]
    assert Message.objects.count() == 0


def test_the_form_names_the_action_whichever_action_bar_chose_it(admin_client, alice):
    # With actions on top and bottom, the changelist posts one "action" per bar and an index.
    data = choose([alice], index="0")
    data["action"] = ["send_message", ""]

    html = admin_client.post(USERS_URL, data).content.decode()

    assert '<input type="hidden" name="action" value="send_message">' in html


def test_the_action_works_on_a_projects_own_user_admin(admin_client, alice, bob):
    url = "/people-admin/auth/user/"
    form = admin_client.post(url, choose([alice], index="0"))
    assert "One message will be stored for this user:" in form.content.decode()

    response = send(admin_client, [alice, bob], url=url)

    assert response.redirect_chain == [(url, 302)]
    assert notices(response) == ["2 messages were stored."]
    assert [row[0] for row in stored()] == ["alice", "bob"]


@pytest.fixture
def announced() -> Iterator[list[Any]]:
    """The user_ids of each messages_changed signal sent while the test runs."""
    sent: list[Any] = []

    def listen(sender: Any, user_ids: Any, **kwargs: Any) -> None:
        sent.append(sorted(user_ids) if user_ids is not None else None)

    messages_changed.connect(listen)
    yield sent
    messages_changed.disconnect(listen)


def test_ticked_users_are_announced_by_id_and_select_all_as_everyone(
    admin_client, alice, bob, carol, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(admin_client, [alice, bob])
    with django_capture_on_commit_callbacks(execute=True):
        send(admin_client, [alice], url=f"{USERS_URL}?is_staff__exact=0", select_across="1")

    # The cache and the live push hear of exactly the users concerned, or of everyone.
    assert announced == [sorted([alice.pk, bob.pk]), None]


def test_the_action_joins_the_stock_user_admin_without_changing_its_class():
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.contrib.auth.admin import UserAdmin

    from user_messages.admin import send_message

    assert send_message in admin.site._registry[get_user_model()].actions
    assert send_message not in (UserAdmin.actions or ())


def test_the_form_offers_the_declared_categories_and_sends_in_one(admin_client, alice, settings):
    settings.USER_MESSAGES = {
        "CATEGORIES": {"billing": {"label": "Billing"}, "security": {"label": "Security"}}
    }

    html = admin_client.post(USERS_URL, choose([alice], index="0")).content.decode()
    (select,) = re.findall(r'<select name="category".*?</select>', html, re.S)
    assert re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', select) == [
        ("", "None"),
        ("billing", "Billing"),
        ("security", "Security"),
    ]
    response = send(admin_client, [alice], category="security")

    assert notices(response) == ["1 message was stored."]
    assert list(Message.objects.values_list("category", flat=True)) == ["security"]


def test_a_project_without_categories_sees_no_category_field(admin_client, alice):
    html = admin_client.post(USERS_URL, choose([alice], index="0")).content.decode()

    assert 'name="category"' not in html


def test_an_undeclared_category_is_refused_by_the_form(admin_client, alice, settings):
    settings.USER_MESSAGES = {"CATEGORIES": {"billing": {"label": "Billing"}}}

    response = send(admin_client, [alice], category="nope")

    assert response.status_code == 200
    assert "Select a valid choice. nope is not one of the available choices." in (
        response.content.decode()
    )
    assert not Message.objects.exists()


# A button with the message


def test_the_form_sends_a_button_with_the_message(admin_client, alice, bob):
    send(admin_client, [alice, bob], action_label="Pay now", action_url="/billing/pay/")

    assert (
        list(Message.objects.values_list("actions", flat=True))
        == [[{"label": "Pay now", "url": "/billing/pay/"}]] * 2
    )


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        (
            {"action_label": "Pay now", "action_url": "javascript:alert(1)"},
            "action_url",
            "An action&#x27;s url must be a path on this site",
        ),
        ({"action_label": "", "action_url": "/pay"}, "action_label", "Give the button a text"),
        ({"action_label": "Pay", "action_url": ""}, "action_url", "Give the button a link"),
    ],
)
def test_a_bad_button_shows_the_form_again_and_stores_nothing(
    admin_client, alice, fields, field, error
):
    response = send(admin_client, [alice], **fields)

    html = response.content.decode()
    (row,) = re.findall(
        rf'<div class="form-row errors field-{field}">(.*?)</div>\s*</div>', html, re.S
    )
    assert error in row
    assert Message.objects.count() == 0


def test_no_button_fields_when_buttons_are_turned_off(admin_client, alice, settings):
    settings.USER_MESSAGES = {"MAX_ACTIONS": 0}

    html = admin_client.post(USERS_URL, choose([alice], index="0")).content.decode()

    assert 'name="action_label"' not in html
    assert 'name="message"' in html
