"""The page-view read reuses the SQL the ORM compiled once: same SQL, same rows, no stale state."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection, connections
from django.test.utils import override_settings
from django.utils import timezone

from user_messages import api
from user_messages.models import Message, _HotSelect


@pytest.mark.parametrize("lock", [False, True])
@pytest.mark.parametrize("limit", [None, 1, 100])
def test_the_reused_select_is_what_the_orm_compiles_for_another_user_and_time(
    user, other_user, limit, lock
):
    first_time = timezone.now()
    later = first_time + datetime.timedelta(hours=3, microseconds=7)
    compiled = _HotSelect.compile("default", user.pk, first_time, limit, lock=lock)
    assert compiled is not None

    fresh_sql, fresh_params = (
        _HotSelect.queryset("default", other_user.pk, later, limit, lock=lock)
        .query.get_compiler("default")
        .as_sql()
    )

    assert compiled.sql == fresh_sql
    assert compiled.parameters(connection, other_user.pk, later) == list(fresh_params)


def test_the_reused_select_returns_what_the_orm_returns(user, other_user):
    in_an_hour = timezone.now() + datetime.timedelta(hours=1)
    for recipient in (user, other_user):
        api.info(recipient, "with meta", meta={"url": "/x/", "n": [1, 2.5, None]})
        api.warning(recipient, "sticky", "tag", deliver_once=False, expires_at=in_an_hour)
    now = timezone.now()

    for recipient in (user, other_user):  # the second user gets the reused statement
        reused = _HotSelect.run(connections["default"], recipient.pk, now, 100, lock=False)
        orm = list(Message.objects.for_user(recipient).deliverable(now)[:100])
        assert [vars_of(m) for m in reused] == [vars_of(m) for m in orm]
        assert reused[0].meta == {"url": "/x/", "n": [1, 2.5, None]}
        assert timezone.is_aware(reused[1].created_at)
        assert reused[1].expires_at == in_an_hour


def vars_of(message: Message) -> dict[str, object]:
    return {
        field.attname: getattr(message, field.attname) for field in Message._meta.concrete_fields
    } | {"db": message._state.db, "adding": message._state.adding}


def test_a_changed_setting_never_serves_sql_compiled_before_it(user):
    api.info(user, "first")
    assert [m.message for m in api.get_messages(user=user)] == ["first"]
    api.info(user, "second")

    assert _HotSelect.cache.get(connections["default"])
    with override_settings(USE_TZ=False):
        assert not _HotSelect.cache.get(
            connections["default"]
        )  # compiled again under the new settings
        expected = list(Message.objects.for_user(user).deliverable(datetime.datetime.now()))
        shown = list(api.get_messages(user=user))
        assert shown == expected
        assert [m.message for m in shown] == ["second"]
        assert timezone.is_naive(shown[0].created_at)

    api.info(user, "third")
    (third,) = api.get_messages(user=user)
    assert timezone.is_aware(third.created_at)


class ReadsFromAReplica:
    """Sends reads to a database that does not exist: any read that uses it fails."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"


def test_the_reused_read_runs_where_the_router_sends_writes(user):
    api.info(user, "routed")
    with override_settings(DATABASE_ROUTERS=[ReadsFromAReplica()]):
        assert [m.message for m in api.get_messages(user=user)] == ["routed"]
        assert list(api.get_messages(user=user)) == []


def test_deliver_to_takes_a_user_or_an_id_and_delivers_once(user):
    api.info(user, "once")
    api.warning(user, "sticky", deliver_once=False)

    assert [m.message for m in Message.objects.deliver_to(user, limit=None)] == ["once", "sticky"]
    assert [m.message for m in Message.objects.deliver_to(user.pk, limit=None)] == ["sticky"]


def test_deliver_to_refuses_a_filtered_queryset_whose_filters_it_would_ignore(user):
    with pytest.raises(TypeError, match=r"^deliver_to\(\) reads all of a user's messages"):
        Message.objects.filter(level=20).deliver_to(user, limit=None)
