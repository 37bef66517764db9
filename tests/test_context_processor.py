"""The context processor: what a classic template renders, and what a page view costs."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages.constants import DEFAULT_LEVELS
from django.template import Context, Template
from django.test import RequestFactory

from user_messages import api
from user_messages.context_processors import messages as messages_processor


def items(response) -> list[str]:
    return re.findall(r"<li[^>]*>.*?</li>", response.content.decode())


def test_page_shows_session_messages_then_stored_ones(client, user):
    client.force_login(user)
    api.warning(user, "Stored & <b>bold</b>", "urgent", meta={"url": "/next/?a=1&b=2"})

    response = client.get("/messages/", {"flash": "From this request"})

    assert items(response) == [
        '<li class="info" data-level="20" data-level-tag="info" data-extra="">'
        "From this request</li>",
        '<li class="urgent warning" data-level="30" data-level-tag="warning" data-extra="urgent">'
        '<a href="/next/?a=1&amp;b=2">Stored &amp; &lt;b&gt;bold&lt;/b&gt;</a></li>',
    ]


def test_deliver_once_messages_show_on_one_page_view_only(client, user):
    client.force_login(user)
    api.info(user, "Once")
    api.info(user, "Sticky", deliver_once=False)

    first = client.get("/messages/")
    second = client.get("/messages/")

    assert [re.sub(r"<[^>]+>", "", i) for i in items(first)] == ["Once", "Sticky"]
    assert [re.sub(r"<[^>]+>", "", i) for i in items(second)] == ["Sticky"]


def test_anonymous_visitor_sees_no_stored_messages_and_costs_no_query(
    client, user, django_assert_num_queries
):
    api.info(user, "Not for you")

    with django_assert_num_queries(0):
        response = client.get("/messages/")

    assert "<p>No messages.</p>" in response.content.decode()


def test_a_page_view_with_nothing_pending_costs_one_query_more_than_django_alone(
    client, user, django_assert_num_queries, settings
):
    client.force_login(user)
    # Session and user loading are the same with or without us: measure them first.
    processors = settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "OPTIONS": {"context_processors": processors[:-1]}}
    ]
    with django_assert_num_queries(2):  # session, user
        client.get("/messages/")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "OPTIONS": {"context_processors": processors}}]
    with django_assert_num_queries(3) as captured:
        client.get("/messages/")

    assert "user_messages_message" in captured.captured_queries[-1]["sql"]


def test_a_page_that_never_renders_messages_costs_nothing(user, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = user

    with django_assert_num_queries(0):
        context = messages_processor(request)
        Template("Hello").render(Context(context))


@pytest.mark.django_db
def test_context_has_djangos_variables():
    context = messages_processor(RequestFactory().get("/"))

    assert set(context) == {"messages", "DEFAULT_MESSAGE_LEVELS"}
    assert context["DEFAULT_MESSAGE_LEVELS"] == DEFAULT_LEVELS
