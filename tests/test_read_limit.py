"""However many messages pile up for a user, every read works and delivers a bounded batch."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import constants
from django.utils import timezone

from user_messages import api
from user_messages.models import Message


def pile_up(user: Any, count: int, *, deliver_once: bool = True) -> None:
    """Store ``count`` messages for ``user`` the fast way, numbered in the order of their ids."""
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                user_id=user.pk,
                level=constants.INFO,
                message=str(n),
                deliver_once=deliver_once,
                created_at=now,
            )
            for n in range(count)
        ],
        batch_size=2000,
    )


def test_forty_thousand_pending_are_delivered_exactly_once_in_order_a_batch_per_read(
    user, django_assert_num_queries
):
    pile_up(user, 40_000)

    delivered: list[str] = []
    for _ in range(400):
        with django_assert_num_queries(2):
            batch = [str(m) for m in api.get_messages(user=user)]
        assert len(batch) == 100
        delivered += batch

    assert delivered == [str(n) for n in range(40_000)]
    assert list(api.get_messages(user=user)) == []
    assert api.pending_count(user) == 0


def test_the_batch_size_is_the_max_messages_per_read_setting(user, settings):
    settings.USER_MESSAGES = {"MAX_MESSAGES_PER_READ": 3}
    pile_up(user, 5)

    assert [str(m) for m in api.get_messages(user=user)] == ["0", "1", "2"]
    assert api.pending_count(user) == 2
    assert [str(m) for m in api.peek_messages(user=user)] == ["3", "4"]
    assert [str(m) for m in api.get_messages(user=user)] == ["3", "4"]


def test_sticky_messages_count_towards_a_read_and_stay_first_until_acknowledged(user, settings):
    settings.USER_MESSAGES = {"MAX_MESSAGES_PER_READ": 2}
    sticky = api.info(user, "sticky", deliver_once=False)
    for text in ("a", "b"):
        api.info(user, text)

    assert [str(m) for m in api.get_messages(user=user)] == ["sticky", "a"]
    assert [str(m) for m in api.get_messages(user=user)] == ["sticky", "b"]
    api.acknowledge(user, [sticky.pk])
    assert [str(m) for m in api.get_messages(user=user)] == []


def test_acknowledging_all_of_forty_thousand_ids_works_in_batches(user):
    pile_up(user, 40_000, deliver_once=False)
    ids = list(Message.objects.values_list("pk", flat=True))

    assert api.acknowledge(user, ids) == 40_000
    assert api.acknowledge_owned(user, ids[:5000]) == ids[:5000]
    assert api.pending_count(user) == 0
