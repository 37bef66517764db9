"""Reading messages back: laziness, order, deliver-once vs sticky, expiry, acknowledging."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from django.utils import timezone

from user_messages import api
from user_messages.models import Message


def texts(messages):
    return [str(message) for message in messages]


def test_nothing_touches_the_database_until_the_list_is_used(user, django_assert_num_queries):
    api.info(user, "hello")

    with django_assert_num_queries(0):
        messages = api.get_messages(user=user)
    with django_assert_num_queries(2):
        assert texts(messages) == ["hello"]


def test_messages_come_oldest_first(user):
    for text in ["one", "two", "three"]:
        api.info(user, text)

    assert texts(api.get_messages(user=user)) == ["one", "two", "three"]


def test_deliver_once_message_is_shown_once(user):
    api.info(user, "once")

    assert texts(api.get_messages(user=user)) == ["once"]
    assert texts(api.get_messages(user=user)) == []
    assert Message.objects.get().delivered_at is not None


def test_sticky_message_returns_until_acknowledged(user):
    sticky = api.warning(user, "sticky", deliver_once=False)

    assert texts(api.get_messages(user=user)) == ["sticky"]
    assert texts(api.get_messages(user=user)) == ["sticky"]
    assert api.acknowledge(user, [sticky.pk]) == 1
    assert texts(api.get_messages(user=user)) == []


def test_messages_are_per_user(user, other_user):
    api.info(user, "for alice")
    api.info(other_user, "for bob")

    assert texts(api.get_messages(user=user.pk)) == ["for alice"]
    assert texts(api.get_messages(user=other_user)) == ["for bob"]


def test_expired_message_is_never_delivered(user):
    now = timezone.now()
    api.info(user, "gone", expires_at=now - datetime.timedelta(seconds=1))
    api.info(user, "still here", expires_at=now + datetime.timedelta(hours=1))

    assert texts(api.get_messages(user=user)) == ["still here"]
    assert api.pending_count(user) == 0
    assert Message.objects.get(message="gone").delivered_at is None


def test_pending_count_counts_what_would_be_shown(user, other_user, django_assert_num_queries):
    api.info(user, "a")
    api.info(user, "b", deliver_once=False)
    api.info(other_user, "c")

    with django_assert_num_queries(1):
        assert api.pending_count(user) == 2
    list(api.get_messages(user=user))
    assert api.pending_count(user) == 1


def test_acknowledge_ignores_other_users_messages(user, other_user):
    mine = api.info(user, "mine", deliver_once=False)
    theirs = api.info(other_user, "theirs", deliver_once=False)

    assert api.acknowledge(user, [mine.pk, theirs.pk, 987654]) == 1
    assert texts(api.get_messages(user=other_user)) == ["theirs"]


def test_acknowledge_counts_only_what_it_changed(user):
    message = api.info(user, "x", deliver_once=False)

    assert api.acknowledge(user, [message.pk, str(message.pk)]) == 1
    assert api.acknowledge(user, [message.pk]) == 0
    assert api.acknowledge(user, []) == 0


@pytest.mark.parametrize(
    ("ids", "exception", "message"),
    [
        (5, TypeError, "ids must be an iterable of message ids, got 5."),
        ("5", TypeError, "ids must be an iterable of message ids, got '5'."),
        ([None], TypeError, "A message id must be an int, got None."),
        (["x"], ValueError, "'x' is not a valid message id."),
    ],
)
def test_acknowledge_refuses_bad_ids(user, ids, exception, message):
    with pytest.raises(exception) as excinfo:
        api.acknowledge(user, ids)
    assert str(excinfo.value) == message


def test_acknowledge_all(user, other_user):
    api.info(user, "a", deliver_once=False)
    api.info(user, "b")
    api.info(other_user, "c")

    assert api.acknowledge_all(user) == 2
    assert texts(api.get_messages(user=user)) == []
    assert api.pending_count(other_user) == 1


def test_get_messages_needs_exactly_one_source(user):
    with pytest.raises(TypeError, match=r"^Pass exactly one of request= or user=\.$"):
        api.get_messages()
    with pytest.raises(TypeError):
        api.get_messages(request=RequestFactory().get("/"), user=user)


def _request(user):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request.user = user
    return request


def test_request_messages_come_first_then_stored_ones(user):
    from django.contrib import messages

    api.info(user, "stored")
    request = _request(user)
    messages.success(request, "flash")

    combined = list(api.get_messages(request=request))

    assert texts(combined) == ["flash", "stored"]
    assert combined[0].tags == "success"


def test_anonymous_request_costs_no_query(db, django_assert_num_queries):
    from django.contrib import messages

    request = _request(AnonymousUser())
    messages.info(request, "flash")

    with django_assert_num_queries(0):
        assert texts(api.get_messages(request=request)) == ["flash"]


def test_nothing_pending_costs_one_query(user, django_assert_num_queries):
    request = _request(user)

    with django_assert_num_queries(1) as captured:
        assert texts(api.get_messages(request=request)) == []
    assert "user_messages_message" in captured.captured_queries[0]["sql"]


@pytest.mark.parametrize("count", [1, 5, 50])
def test_delivering_costs_two_statements_whatever_the_count(user, count, django_assert_num_queries):
    for index in range(count):
        api.info(user, f"m{index}")
    api.info(user, "sticky", deliver_once=False)

    with django_assert_num_queries(2):
        assert len(api.get_messages(user=user)) == count + 1


def test_only_sticky_messages_already_seen_costs_one_query(user, django_assert_num_queries):
    api.info(user, "sticky", deliver_once=False)
    assert texts(api.get_messages(user=user)) == ["sticky"]  # first seen: recorded

    with django_assert_num_queries(1):
        assert texts(api.get_messages(user=user)) == ["sticky"]


def test_a_sticky_message_shown_the_first_time_costs_one_write(user, django_assert_num_queries):
    api.info(user, "seen", deliver_once=False)
    list(api.get_messages(user=user))
    api.info(user, "new sticky", deliver_once=False)

    with django_assert_num_queries(2) as captured:
        assert texts(api.get_messages(user=user)) == ["seen", "new sticky"]
    assert captured.captured_queries[1]["sql"].startswith("UPDATE")


@pytest.mark.parametrize("bad_id", [2**64, -(2**70), 0, "-1", "1e3", " 1"])
def test_acknowledge_refuses_ids_no_message_can_have_and_changes_nothing(user, bad_id):
    message = api.info(user, "x", deliver_once=False)

    with pytest.raises(ValueError, match=r"is not a valid message id\.$"):
        api.acknowledge(user, [message.pk, bad_id])

    message.refresh_from_db()
    assert message.delivered_at is None


def test_peek_shows_what_a_read_would_show_and_consumes_nothing(user):
    from django.contrib import messages

    api.info(user, "once")
    api.info(user, "sticky", deliver_once=False)
    request = _request(user)
    messages.info(request, "flash")

    assert texts(api.peek_messages(request=request)) == ["flash", "once", "sticky"]
    assert texts(api.peek_messages(user=user)) == ["once", "sticky"]
    assert texts(api.get_messages(request=request)) == ["flash", "once", "sticky"]
    assert texts(api.get_messages(user=user)) == ["sticky"]


def test_peek_is_lazy_and_costs_one_query(user, django_assert_num_queries):
    api.info(user, "once")

    with django_assert_num_queries(0):
        peeked = api.peek_messages(user=user)
    with django_assert_num_queries(1):
        assert texts(peeked) == ["once"]


def test_acknowledge_owned_reports_the_callers_ids_only(user, other_user):
    done = api.info(user, "done", deliver_once=False)
    api.acknowledge(user, [done.pk])
    mine = api.info(user, "mine", deliver_once=False)
    theirs = api.info(other_user, "theirs", deliver_once=False)

    owned = api.acknowledge_owned(user, [mine.pk, theirs.pk, done.pk, str(mine.pk), 987654])

    assert owned == [mine.pk, done.pk]
    assert texts(api.get_messages(user=user)) == []
    assert texts(api.get_messages(user=other_user)) == ["theirs"]
    assert api.acknowledge_owned(user, []) == []
