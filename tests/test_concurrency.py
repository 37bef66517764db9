"""Exactly once under concurrency: real threads, separate connections, the real database.

Run against each backend with TEST_DATABASE=sqlite (a file database), postgresql or mariadb.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from tests.threads import run_writers_then_readers
from user_messages import api, models
from user_messages.models import Message

WRITERS = 4
MESSAGES_PER_WRITER = 40
READERS = 4


def each_shown_once(user, sticky, sent, shown):
    """Every read showed the sticky message, and each sent message was shown exactly once."""
    # Every read that ran shows the sticky message: nobody's claim hides it.
    assert all(sticky.pk in pks for pks in shown)
    delivered = Counter(pk for pks in shown for pk in pks if pk != sticky.pk)
    leftover = [m.pk for m in api.get_messages(user=user.pk) if m.pk != sticky.pk]
    delivered.update(leftover)
    assert [pk for pk, count in delivered.items() if count > 1] == [], "shown twice"
    assert sorted(delivered) == sorted(sent), "lost"
    assert Message.objects.filter(deliver_once=True, delivered_at__isnull=True).count() == 0
    assert len(shown) >= READERS


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_and_readers_lose_nothing_and_repeat_nothing(django_user_model):
    user = django_user_model.objects.create_user("alice")
    sticky = api.warning(user, "sticky", deliver_once=False)
    sent: list[int] = []
    shown: list[list[int]] = []
    lock = threading.Lock()
    writers_done = threading.Event()

    def write(writer: int) -> None:
        for index in range(MESSAGES_PER_WRITER):
            message = api.info(user.pk, f"w{writer}-{index}")
            with lock:
                sent.append(message.pk)

    def read() -> None:
        while True:
            finished = writers_done.is_set()
            pks = [message.pk for message in api.get_messages(user=user.pk)]
            with lock:
                shown.append(pks)
            if finished:
                return

    errors = run_writers_then_readers(
        [lambda w=w: write(w) for w in range(WRITERS)], [read] * READERS, writers_done
    )

    assert not errors, errors
    assert len(sent) == WRITERS * MESSAGES_PER_WRITER
    each_shown_once(user, sticky, sent, shown)


@pytest.mark.django_db(transaction=True)
def test_concurrent_async_senders_and_readers_lose_nothing_and_repeat_nothing(django_user_model):
    user = django_user_model.objects.create_user("alice")
    sticky = api.warning(user, "sticky", deliver_once=False)
    sent: list[int] = []
    shown: list[list[int]] = []

    async def as_a_request(work) -> None:
        # Each task is a request of its own: Django's ASGI handler gives each request its own
        # thread (and so its own connection) for the twins' thread units.
        async with ThreadSensitiveContext():
            try:
                await work()
            finally:
                await sync_to_async(connections.close_all)()

    async def write(writer: int) -> None:
        for index in range(MESSAGES_PER_WRITER):
            sent.append((await api.ainfo(user.pk, f"w{writer}-{index}")).pk)

    async def read(writers: asyncio.Future[list[None]]) -> None:
        while True:
            finished = writers.done()
            shown.append([message.pk for message in await api.aget_messages(user=user.pk)])
            if finished:
                return

    async def main() -> None:
        writers = asyncio.gather(*(as_a_request(lambda w=w: write(w)) for w in range(WRITERS)))
        readers = [as_a_request(lambda: read(writers)) for _ in range(READERS)]
        await asyncio.wait_for(asyncio.gather(writers, *readers), timeout=120)

    asyncio.run(main())

    assert len(sent) == WRITERS * MESSAGES_PER_WRITER
    each_shown_once(user, sticky, sent, shown)


@pytest.mark.django_db(transaction=True)
def test_readers_filtered_by_category_lose_nothing_and_repeat_nothing(django_user_model, settings):
    settings.USER_MESSAGES = {
        "CATEGORIES": {"billing": {"label": "Billing"}, "security": {"label": "Security"}}
    }
    user = django_user_model.objects.create_user("alice")
    categories = ["billing", "security", ""]
    sent: dict[int, str] = {}
    shown: list[tuple[list[str] | None, list[Message]]] = []
    lock = threading.Lock()
    writers_done = threading.Event()

    def write(writer: int) -> None:
        for index in range(MESSAGES_PER_WRITER):
            category = categories[(writer + index) % len(categories)]
            message = api.info(user.pk, f"w{writer}-{index}", category=category)
            with lock:
                sent[message.pk] = category

    def read(wanted: list[str] | None) -> None:
        while True:
            finished = writers_done.is_set()
            messages = list(api.get_messages(user=user.pk, categories=wanted))
            with lock:
                shown.append((wanted, messages))
            if finished:
                return

    # One reader per category, one of two categories, and one of all: they overlap.
    readers = [["billing"], ["security"], [""], ["billing", "security"], None]
    errors = run_writers_then_readers(
        [lambda w=w: write(w) for w in range(WRITERS)],
        [lambda r=r: read(r) for r in readers],
        writers_done,
    )

    assert not errors, errors
    assert len(sent) == WRITERS * MESSAGES_PER_WRITER
    # Each reader got only what it asked for.
    for wanted, messages in shown:
        assert wanted is None or all(m.category in wanted for m in messages)
    delivered = Counter(m.pk for _, messages in shown for m in messages)
    delivered.update(m.pk for m in api.get_messages(user=user.pk))
    assert [pk for pk, count in delivered.items() if count > 1] == [], "shown twice"
    assert sorted(delivered) == sorted(sent), "lost"
    assert not Message.objects.filter(delivered_at__isnull=True).exists()


needs_returning = pytest.mark.skipif(
    connection.vendor not in ("postgresql", "sqlite"),
    reason="the UPDATE ... RETURNING path runs on PostgreSQL and SQLite",
)


@needs_returning
def test_a_message_claimed_by_another_reader_meanwhile_is_not_shown_again(user, monkeypatch):
    first, second = api.info(user, "first"), api.info(user, "second")
    claim = models._claim_returning

    def another_reader_claims_first(alias, pks, now):
        Message.objects.filter(pk=first.pk).update(delivered_at=now)
        return claim(alias, pks, now)

    monkeypatch.setattr(models, "_claim_returning", another_reader_claims_first)

    assert [m.pk for m in api.get_messages(user=user)] == [second.pk]


@needs_returning
def test_a_message_sent_while_reading_is_kept_for_the_next_read(user, monkeypatch):
    api.info(user, "first")
    claim = models._claim_returning
    late: list[Message] = []

    def a_sender_inserts_meanwhile(alias, pks, now):
        late.append(api.info(user, "late"))
        return claim(alias, pks, now)

    monkeypatch.setattr(models, "_claim_returning", a_sender_inserts_meanwhile)
    assert [str(m) for m in api.get_messages(user=user)] == ["first"]
    monkeypatch.undo()

    assert [m.pk for m in api.get_messages(user=user)] == [late[0].pk]


def postgresql_deadlock() -> OperationalError:
    """What Django raises when PostgreSQL cancels a statement to break a deadlock."""
    import psycopg

    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


@needs_returning
@pytest.mark.django_db(transaction=True)  # outside any transaction, as a page view reads
def test_a_claim_chosen_as_deadlock_victim_claims_again_and_delivers_once(user, monkeypatch):
    once = api.info(user, "once")
    sticky = api.warning(user, "sticky", deliver_once=False)
    claim = models._claim_returning
    attempts = []

    def cancelled_once(alias, pks, now):
        attempts.append(list(pks))
        if len(attempts) == 1:
            raise postgresql_deadlock()
        return claim(alias, pks, now)

    monkeypatch.setattr(models, "_claim_returning", cancelled_once)

    assert [m.pk for m in api.get_messages(user=user)] == [once.pk, sticky.pk]
    assert attempts == [[once.pk, sticky.pk]] * 2
    assert list(Message.objects.filter(delivered_at__isnull=True)) == [sticky]


@needs_returning
def test_a_claim_deadlocked_inside_the_callers_transaction_is_left_to_the_caller(user, monkeypatch):
    api.info(user, "once")

    def cancelled(alias, pks, now):
        raise postgresql_deadlock()

    monkeypatch.setattr(models, "_claim_returning", cancelled)

    with pytest.raises(OperationalError), transaction.atomic():
        list(api.get_messages(user=user))


@pytest.mark.django_db(transaction=True)  # outside any transaction, as a page view reads
def test_a_locking_read_chosen_as_deadlock_victim_reads_again_and_delivers_once(user, monkeypatch):
    # InnoDB rolls a deadlock victim back entirely and says "try restarting transaction".
    once = api.info(user, "once")
    sticky = api.warning(user, "sticky", deliver_once=False)
    monkeypatch.setattr(models, "_supports_update_returning", lambda connection: False)
    attempts = []

    def deliverable(lock):
        attempts.append(lock)
        if len(attempts) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return list(Message.objects.for_user(user).deliverable().select_for_update())

    shown = models._deliver(connections["default"], deliverable, timezone.now())

    assert attempts == [True, True]
    assert [m.pk for m in shown] == [once.pk, sticky.pk]
    assert list(Message.objects.filter(delivered_at__isnull=True)) == [sticky]


def test_a_deadlock_inside_the_callers_transaction_is_left_to_the_caller(user, monkeypatch):
    api.info(user, "once")
    monkeypatch.setattr(models, "_supports_update_returning", lambda connection: False)

    def deliverable(lock):
        raise OperationalError(1213, "Deadlock found when trying to get lock")

    # The whole transaction is gone: reading again inside it would not be exactly once.
    with pytest.raises(OperationalError), transaction.atomic():
        models._deliver(connections["default"], deliverable, timezone.now())
