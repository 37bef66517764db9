"""Categories: sending in one, reading some, and what a filtered read costs and consumes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import constants
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from user_messages import api
from user_messages.models import Message

CATEGORIES = {
    "billing": {"label": "Billing", "description": "Invoices and payments"},
    "security": {"label": "Security", "critical": True},
    "news": {"label": "News", "default": False},
}
DECLARED = "must be one of: '', 'billing', 'security', 'news'."


@pytest.fixture(autouse=True)
def declared(settings):
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}


def texts(messages):
    return [str(message) for message in messages]


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


@pytest.mark.parametrize(
    "send",
    [
        lambda user: api.add_message(user, constants.INFO, "hi", category="billing"),
        lambda user: api.debug(user, "hi", category="billing"),
        lambda user: api.info(user, "hi", category="billing"),
        lambda user: api.success(user, "hi", category="billing"),
        lambda user: api.warning(user, "hi", category="billing"),
        lambda user: api.error(user, "hi", category="billing"),
        lambda user: api.info(user.pk, "hi", category="billing"),
        lambda user: api.info([user], "hi", category="billing"),
        lambda user: api.info(type(user).objects.filter(pk=user.pk), "hi", category="billing"),
    ],
)
def test_every_send_function_stores_the_category(user, send):
    send(user)

    assert list(Message.objects.values_list("message", "category")) == [("hi", "billing")]


def test_a_message_sent_without_a_category_has_none(user):
    assert api.info(user, "plain").category == ""
    assert Message.objects.get().category == ""


def test_no_category_is_allowed_even_when_none_is_declared(user, settings):
    settings.USER_MESSAGES = {}

    assert api.info(user, "plain", category="").category == ""


@pytest.mark.parametrize(
    "send",
    [
        lambda user: api.info(user, "hi", category="biling"),
        lambda user: api.info(user.pk, "hi", category="biling"),
        lambda user: api.info([user], "hi", category="biling"),
        lambda user: api.info(type(user).objects.all(), "hi", category="biling"),
    ],
)
def test_an_undeclared_category_is_refused_naming_the_declared_ones(user, send):
    with pytest.raises(ValueError, match=r"^Unknown category") as raised:
        send(user)

    assert str(raised.value) == f"Unknown category 'biling', {DECLARED}"
    assert not Message.objects.exists()


def test_a_category_that_is_not_a_string_is_a_type_error(user):
    with pytest.raises(TypeError, match=r"^category must be a str, got None\.$"):
        api.info(user, "hi", category=None)


def test_the_queryset_filters_by_category(user):
    api.info(user, "bill", category="billing")
    api.info(user, "alert", category="security")
    api.info(user, "plain")

    assert texts(Message.objects.in_categories(["billing", ""]).order_by("pk")) == [
        "bill",
        "plain",
    ]
    assert texts(Message.objects.in_categories([])) == []


def test_a_read_of_some_categories_consumes_only_what_it_returns(user):
    api.info(user, "bill", category="billing")
    api.info(user, "alert", category="security")
    api.info(user, "plain")

    assert texts(api.get_messages(user=user, categories=["billing"])) == ["bill"]
    assert api.pending_count(user) == 2
    assert texts(api.get_messages(user=user)) == ["alert", "plain"]
    assert api.pending_count(user) == 0


def test_peek_and_count_filter_by_category(user):
    api.info(user, "bill", category="billing")
    api.info(user, "alert", category="security")
    api.info(user, "plain")

    assert texts(api.peek_messages(user=user, categories=["security", ""])) == ["alert", "plain"]
    assert api.pending_count(user, categories=["security", ""]) == 2
    assert api.pending_count(user, categories=["news"]) == 0
    assert api.pending_count(user, categories=[]) == 0
    assert api.pending_count(user) == 3


def test_session_messages_have_no_category(user):
    from django.contrib import messages

    request = _request(user)
    messages.info(request, "flash")
    api.info(user, "bill", category="billing")

    assert texts(api.get_messages(request=request, categories=["billing"])) == ["bill"]
    # Not returned above, so not consumed: a read of "" still shows it.
    assert texts(api.get_messages(request=request, categories=[""])) == ["flash"]


def test_reading_no_category_at_all_reads_nothing(user, django_assert_num_queries):
    api.info(user, "bill", category="billing")

    with django_assert_num_queries(0):
        assert texts(api.get_messages(user=user, categories=[])) == []


def test_an_undeclared_category_to_read_is_refused_at_once(user, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(ValueError, match=r"^Unknown") as raised:
        api.get_messages(user=user, categories=["billing", "nope"])
    assert str(raised.value) == f"Unknown category 'nope', {DECLARED}"
    with pytest.raises(ValueError, match=r"^Unknown category 'nope'"):
        api.peek_messages(user=user, categories=["nope"])
    with pytest.raises(ValueError, match=r"^Unknown category 'nope'"):
        api.pending_count(user, categories=["nope"])
    with pytest.raises(ValueError, match=r"^Unknown category 'nope'"):
        api.history(user, categories=["nope"])
    with pytest.raises(ValueError, match=r"^Unknown category 'nope'"):
        api.history_page(user, categories=["nope"])
    with pytest.raises(TypeError, match=r"^categories must be a list of category names or None"):
        api.get_messages(user=user, categories="billing")


def test_nothing_pending_in_a_category_costs_one_query(user, django_assert_num_queries):
    api.info(user, "plain")
    request = _request(user)

    with django_assert_num_queries(1):
        assert texts(api.get_messages(request=request, categories=["billing"])) == []
    assert api.pending_count(user) == 1


@pytest.mark.parametrize("count", [1, 5, 50])
def test_a_filtered_read_delivers_in_two_statements_whatever_the_count(
    user, count, django_assert_num_queries
):
    for index in range(count):
        api.info(user, f"m{index}", category="billing")
    api.info(user, "sticky", deliver_once=False, category="billing")
    api.info(user, "other")

    with django_assert_num_queries(2):
        assert len(api.get_messages(user=user, categories=["billing"])) == count + 1


def test_the_history_filters_by_category(user):
    bill = api.info(user, "bill", category="billing")
    api.info(user, "alert", category="security")
    plain = api.info(user, "plain")
    list(api.get_messages(user=user))

    assert list(api.history(user, categories=["billing", ""])) == [plain, bill]
    page = api.history_page(user, first=1, categories=["billing", ""])
    assert (page.messages, page.has_next_page) == ([plain], True)
    after = api.history_page(user, first=1, after=page.cursor(plain), categories=["billing", ""])
    assert (after.messages, after.has_next_page) == ([bill], False)


def test_the_history_page_of_a_category_is_one_query(user, django_assert_num_queries):
    api.info(user, "bill", category="billing")

    with django_assert_num_queries(1):
        assert texts(api.history_page(user, categories=["billing"]).messages) == ["bill"]


def test_an_anonymous_request_filtered_by_category_costs_no_query(db, django_assert_num_queries):
    from django.contrib import messages

    request = _request(AnonymousUser())
    messages.info(request, "flash")

    with django_assert_num_queries(0):
        assert texts(api.get_messages(request=request, categories=["billing"])) == []
        assert texts(api.get_messages(request=request, categories=[""])) == ["flash"]


def test_the_docs_template_tells_categories_apart(user):
    import re
    from pathlib import Path

    from django.contrib.messages.storage.base import Message as SessionMessage
    from django.template import Context, Template

    page = Path(__file__).resolve().parent.parent / "docs" / "howto" / "categories.md"
    (block,) = re.findall(r"```django\n(.*?)```", page.read_text(), re.S)
    messages = [
        SessionMessage(constants.SUCCESS, "Saved."),
        api.info(user, "Paid", category="billing"),
        api.info(user, "Plain"),
    ]

    html = Template(block).render(Context({"messages": messages}))

    assert re.findall(r'<li class="([^"]*)">\s*(\w+)', html) == [
        ("success", "Saved"),
        ("info category-billing", "Paid"),
        ("info", "Plain"),
    ]


def test_pending_counts_gives_every_category_in_one_query(user, django_assert_num_queries):
    api.info(user, "bill", category="billing")
    api.info(user, "bill 2", category="billing")
    api.info(user, "plain")
    list(api.get_messages(user=user, categories=[""]))

    with django_assert_num_queries(1):
        counts = api.pending_counts(user)

    assert list(counts.items()) == [("billing", 2), ("security", 0), ("news", 0), ("", 0)]
