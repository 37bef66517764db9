"""The opt-in cache: zero-query page views, and never a hidden message.

Runs on the local-memory cache, and on a real Redis too when REDIS_URL is set (CI sets it).
"""

from __future__ import annotations

import os
import threading

import pytest

from tests.threads import run_writers_then_readers
from user_messages import api
from user_messages import cache as user_messages_cache

# The Redis cases clear the whole Redis database REDIS_URL names: one worker runs them all.
pytestmark = pytest.mark.xdist_group("shared-redis")

BACKENDS = ["default"] + (["redis"] if os.environ.get("REDIS_URL") else [])


@pytest.fixture(params=BACKENDS)
def cached(request, settings):
    settings.USER_MESSAGES = {"CACHE": request.param}
    from django.core.cache import caches

    caches[request.param].clear()
    yield caches[request.param]
    caches[request.param].clear()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a commit would run: the test's own transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def texts(user):
    return [str(m) for m in api.get_messages(user=user)]


def test_a_user_with_nothing_pending_costs_no_query_once_known(
    cached, user, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert texts(user) == []
    with django_assert_num_queries(0):
        assert texts(user) == []


def test_a_message_sent_afterwards_shows_on_the_very_next_read(cached, user, committed):
    assert texts(user) == []
    assert texts(user) == []

    with committed():
        api.info(user.pk, "new")

    assert texts(user) == ["new"]


def test_a_broadcast_reaches_every_cached_reader(cached, make_user, committed):
    users = [make_user() for _ in range(3)]
    for user in users:
        assert texts(user) == []

    with committed():
        api.info(users, "to all")

    assert [texts(user) for user in users] == [["to all"]] * 3


def test_a_send_between_a_readers_look_and_its_remember_is_not_hidden(cached, user, committed):
    nothing_pending, version = user_messages_cache.lookup(user.pk)
    assert not nothing_pending
    # The reader's database read finds nothing; then a sender commits and bumps the version;
    # only then does the reader store "nothing pending" under the version it saw first.
    with committed():
        api.info(user, "sent meanwhile")
    user_messages_cache.remember_nothing_pending(user.pk, version)

    assert texts(user) == ["sent meanwhile"]


def test_a_rolled_back_send_changes_nothing(cached, user, django_assert_num_queries):
    from django.db import transaction

    assert texts(user) == []

    def send_then_fail():
        with transaction.atomic():
            api.info(user, "never committed")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        send_then_fail()

    with django_assert_num_queries(0):
        assert texts(user) == []


@pytest.mark.parametrize("key", [0, 1])
def test_an_evicted_key_means_ask_the_database(cached, user, key, django_assert_num_queries):
    assert texts(user) == []
    cached.delete(user_messages_cache._keys(user.pk)[key])

    with django_assert_num_queries(1):
        assert texts(user) == []


def test_sticky_messages_are_never_cached_away(cached, user):
    api.info(user, "sticky", deliver_once=False)

    assert texts(user) == ["sticky"]
    assert texts(user) == ["sticky"]


def test_an_unreachable_cache_falls_back_to_the_database(settings, user, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1",
        },
    }
    settings.USER_MESSAGES = {"CACHE": "down"}
    pytest.importorskip("redis")

    api.info(user, "still delivered")

    assert texts(user) == ["still delivered"]
    assert "user_messages cache unavailable" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_and_cached_readers_hide_nothing(settings, django_user_model):
    settings.USER_MESSAGES = {"CACHE": BACKENDS[-1]}
    user = django_user_model.objects.create_user("alice")
    sent, shown = [], []
    lock = threading.Lock()
    done = threading.Event()

    def write():
        for index in range(30):
            pk = api.info(user.pk, f"m{index}").pk
            with lock:
                sent.append(pk)

    def read():
        while not done.is_set():
            pks = [m.pk for m in api.get_messages(user=user.pk)]
            with lock:
                shown.extend(pks)

    errors = run_writers_then_readers([write] * 2, [read] * 3, done)

    # The very next read after the last send must show whatever is left.
    shown.extend(m.pk for m in api.get_messages(user=user.pk))
    assert not errors, errors
    assert sorted(shown) == sorted(sent)


def test_a_graphql_send_to_one_user_leaves_other_users_page_views_free(
    cached, make_user, committed, django_assert_num_queries
):
    import json

    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.schema import operation

    bystander, recipient = make_user(), make_user()
    sender = make_user()
    sender.user_permissions.add(
        Permission.objects.get(content_type__app_label="user_messages", codename="add_message")
    )
    for user in (bystander, recipient):
        assert texts(user) == []
    client = Client()
    client.force_login(sender)

    with committed():
        response = client.post(
            "/graphql",
            json.dumps(
                {
                    "query": operation("SendMessage"),
                    "variables": {
                        "input": {
                            "recipients": [str(recipient.pk)],
                            "level": "INFO",
                            "message": "Hi",
                        }
                    },
                }
            ),
            content_type="application/json",
        )
    assert response.json()["data"]["sendMessage"] == {"count": 1, "errors": []}

    with django_assert_num_queries(0):
        assert texts(bystander) == []
    assert texts(recipient) == ["Hi"]


def test_a_queryset_broadcast_still_reaches_every_cached_reader(
    cached, make_user, committed, django_user_model
):
    users = [make_user() for _ in range(3)]
    for user in users:
        assert texts(user) == []

    with committed():
        api.info(django_user_model.objects.all(), "to all")

    assert [texts(user) for user in users] == [["to all"]] * 3
