"""messages_changed: every write that changes what a user sees next announces it, after commit."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from user_messages import api
from user_messages.signals import PER_USER_LIMIT, messages_changed


@pytest.fixture
def heard():
    """The user_ids of every messages_changed sent while the test runs."""
    calls: list[Any] = []

    def listener(sender: Any, user_ids: Any, **kwargs: Any) -> None:
        calls.append(sorted(user_ids) if user_ids is not None else None)

    messages_changed.connect(listener, dispatch_uid="test_signals")
    yield calls
    messages_changed.disconnect(dispatch_uid="test_signals")


def test_nothing_is_announced_before_the_write_commits(
    user, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api.info(user, "Hi")
        assert heard == []
    for callback in callbacks:
        callback()

    assert heard == [[user.pk]]


def test_a_rolled_back_send_announces_nothing(user, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                api.info(user, "Hi")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    assert heard == []


def test_each_write_announces_its_users(
    make_user, heard, django_capture_on_commit_callbacks, django_user_model
):
    alice, bob = make_user(), make_user()
    with django_capture_on_commit_callbacks(execute=True):
        api.info(alice, "to alice")
        api.info(bob.pk, "to bob", deliver_once=False)
        api.info([alice, bob], "to both")
        api.info(django_user_model.objects.all(), "to everyone")
    assert heard == [[alice.pk], [bob.pk], sorted([alice.pk, bob.pk]), None]

    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        list(api.get_messages(user=alice))  # delivers
        list(api.get_messages(user=alice))  # nothing left to deliver: no change
        list(api.peek_messages(user=bob))  # never a change
        shown = list(api.get_messages(user=bob))  # delivers all but the sticky "to bob"
    assert heard == [[alice.pk], [bob.pk]]
    assert [str(m) for m in shown] == ["to bob", "to both", "to everyone"]

    sticky = [
        api.info(bob, "sticky 1", deliver_once=False),
        api.info(bob, "sticky 2", deliver_once=False),
    ]
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        api.acknowledge(bob, [sticky[0].pk])
        api.acknowledge_owned(bob, [sticky[0].pk])  # already done: no change
        api.acknowledge_all(bob)
        api.acknowledge_all(bob)  # nothing left: no change
    assert heard == [[bob.pk], [bob.pk]]


def test_a_long_list_of_recipients_is_announced_as_everyone(
    make_user, heard, django_capture_on_commit_callbacks
):
    users = [make_user() for _ in range(PER_USER_LIMIT + 1)]

    with django_capture_on_commit_callbacks(execute=True):
        api.info(users[:PER_USER_LIMIT], "few")
        api.info(users, "many")

    assert heard == [sorted(u.pk for u in users[:PER_USER_LIMIT]), None]


def test_a_failing_listener_neither_fails_the_send_nor_silences_the_others(
    user: AbstractBaseUser, heard, django_capture_on_commit_callbacks, caplog
):
    def broken(**kwargs: Any) -> None:
        raise ConnectionError("channel layer down")

    messages_changed.connect(broken, dispatch_uid="broken")
    try:
        with (
            caplog.at_level(logging.ERROR, logger="user_messages.signals"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            message = api.info(user, "Hi")
    finally:
        messages_changed.disconnect(dispatch_uid="broken")

    assert message.pk is not None
    assert heard == [[user.pk]]
    assert "channel layer down" in caplog.text
