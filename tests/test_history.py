"""The inbox: every stored message with its state, seen and acknowledged times, newest first."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from user_messages import api, models
from user_messages.models import Message, MessageState


def texts(messages):
    return [str(message) for message in messages]


@pytest.fixture(params=["returning", "locking"])
def delivery_path(request, monkeypatch):
    """Both ways a read claims rows: UPDATE ... RETURNING, and the locking read MariaDB uses."""
    if request.param == "locking":
        monkeypatch.setattr(models, "_supports_update_returning", lambda connection: False)
    elif not models._supports_update_returning(
        models.connections[models.router.db_for_write(Message)]
    ):
        pytest.skip("this backend has no UPDATE ... RETURNING")
    return request.param


def test_a_consuming_read_records_when_it_first_showed_each_message(user, delivery_path):
    once = api.info(user, "once")
    sticky = api.warning(user, "sticky", deliver_once=False)
    before = timezone.now()

    shown = list(api.get_messages(user=user))

    once.refresh_from_db()
    sticky.refresh_from_db()
    assert before <= once.seen_at == once.delivered_at
    assert before <= sticky.seen_at
    assert sticky.delivered_at is None
    # What the read returned says the same as the rows.
    assert [(m.seen_at, m.delivered_at) for m in shown] == [
        (once.seen_at, once.delivered_at),
        (sticky.seen_at, None),
    ]

    first_seen = sticky.seen_at
    assert texts(api.get_messages(user=user)) == ["sticky"]
    sticky.refresh_from_db()
    assert sticky.seen_at == first_seen  # the first time, not the last


def test_a_peek_never_records_seen_at(user):
    api.info(user, "once")
    api.warning(user, "sticky", deliver_once=False)

    assert texts(api.peek_messages(user=user)) == ["once", "sticky"]

    assert list(Message.objects.values_list("seen_at", flat=True)) == [None, None]


def test_delivering_and_marking_sticky_messages_seen_is_still_two_statements(
    user, delivery_path, django_assert_num_queries
):
    for index in range(3):
        api.info(user, f"once {index}")
        api.warning(user, f"sticky {index}", deliver_once=False)
    with django_assert_num_queries(2):
        assert len(api.get_messages(user=user)) == 6
    assert Message.objects.filter(seen_at__isnull=True).count() == 0


def test_only_sticky_messages_seen_before_write_nothing(
    user, delivery_path, django_assert_num_queries
):
    api.warning(user, "sticky", deliver_once=False)
    list(api.get_messages(user=user))

    with django_assert_num_queries(1) as captured:
        assert texts(api.get_messages(user=user)) == ["sticky"]
    assert captured.captured_queries[0]["sql"].lstrip().startswith("SELECT")


def test_each_state_follows_from_the_columns(user):
    past = timezone.now() - datetime.timedelta(minutes=1)
    future = timezone.now() + datetime.timedelta(hours=1)
    delivered = api.info(user, "delivered")
    list(api.get_messages(user=user))
    pending = api.info(user, "pending", expires_at=future)
    acknowledged_once = api.info(user, "acknowledged once")
    acknowledged_sticky = api.warning(user, "acknowledged sticky", deliver_once=False)
    api.acknowledge(user, [acknowledged_once.pk, acknowledged_sticky.pk])
    expired = api.info(user, "expired", expires_at=future)
    Message.objects.filter(pk=expired.pk).update(expires_at=past)

    expected = {
        pending.pk: MessageState.PENDING,
        delivered.pk: MessageState.DELIVERED,
        acknowledged_once.pk: MessageState.ACKNOWLEDGED,
        acknowledged_sticky.pk: MessageState.ACKNOWLEDGED,
        expired.pk: MessageState.EXPIRED,
    }
    states = {m.pk: m.state for m in api.history(user) if m.pk in expected}
    assert states == expected
    for state in MessageState:
        in_state = api.history(user).with_state(state).filter(pk__in=expected)
        assert sorted(m.pk for m in in_state) == sorted(
            pk for pk, s in expected.items() if s == state
        )


def test_a_sticky_message_acknowledged_by_code_of_1_1_is_acknowledged(user):
    sticky = api.warning(user, "sticky", deliver_once=False)
    # django-user-messages 1.1 acknowledged by setting delivered_at alone.
    Message.objects.filter(pk=sticky.pk).update(delivered_at=timezone.now())

    assert Message.objects.get(pk=sticky.pk).state == MessageState.ACKNOWLEDGED
    assert list(Message.objects.with_state("acknowledged")) == [sticky]


def test_with_state_builds_the_sql_of_each_distinct_state_once() -> None:
    now = timezone.now()
    once = Message.objects.with_state("pending", MessageState.DELIVERED, now=now)
    repeated = Message.objects.with_state(
        *["pending"] * 20_000, *[MessageState.DELIVERED] * 20_000, "pending", now=now
    )

    assert str(repeated.query) == str(once.query)


def test_with_state_takes_several_states_and_names_the_valid_ones_for_a_bad_one(user):
    api.info(user, "acknowledged", deliver_once=False)
    api.acknowledge_all(user)
    api.info(user, "delivered")
    list(api.get_messages(user=user))
    api.info(user, "pending")

    both = Message.objects.with_state("pending", MessageState.ACKNOWLEDGED).order_by("pk")
    assert texts(both) == ["acknowledged", "pending"]
    assert texts(Message.objects.with_state().order_by("pk")) == []
    with pytest.raises(ValueError, match=r"^Unknown message state") as excinfo:
        Message.objects.with_state("seen")
    assert str(excinfo.value) == (
        "Unknown message state 'seen', must be one of: pending, delivered, acknowledged, expired."
    )


def test_history_lists_every_message_newest_first_and_consumes_nothing(
    user, other_user, django_assert_num_queries
):
    first = api.info(user, "first")
    list(api.get_messages(user=user))
    api.warning(user, "second", deliver_once=False)
    api.info(other_user, "not alice's")
    api.info(user, "third")

    with django_assert_num_queries(1):
        assert texts(api.history(user)) == ["third", "second", "first"]
    assert texts(api.history(user.pk)) == ["third", "second", "first"]
    assert api.pending_count(user) == 2  # nothing consumed
    assert texts(api.history(user).before(first.pk + 1)) == ["first"]
    assert texts(api.history(user).with_state("pending")) == ["third", "second"]


def test_acknowledging_records_when_and_an_expired_message_stays_expired(user):
    future = timezone.now() + datetime.timedelta(hours=1)
    sticky = api.warning(user, "sticky", deliver_once=False)
    once = api.info(user, "once")
    owned = api.info(user, "owned", deliver_once=False)
    expired = api.info(user, "expired", deliver_once=False, expires_at=future)
    Message.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    before = timezone.now()

    assert api.acknowledge(user, [sticky.pk, expired.pk]) == 1
    assert api.acknowledge_owned(user, [owned.pk, expired.pk]) == [owned.pk, expired.pk]
    assert api.acknowledge_all(user) == 1  # once: what pending_count said

    for message in (sticky, once, owned):
        message.refresh_from_db()
        assert message.state == MessageState.ACKNOWLEDGED
        assert before <= message.acknowledged_at == message.delivered_at
        assert message.seen_at is None  # acknowledged without ever being shown
    expired.refresh_from_db()
    assert expired.state == MessageState.EXPIRED
    assert expired.acknowledged_at is None


def test_acknowledge_all_tells_the_live_count(user, django_capture_on_commit_callbacks):
    from user_messages.signals import messages_changed

    heard = []

    def listener(sender, user_ids, **kwargs):
        heard.append(user_ids)

    messages_changed.connect(listener)
    try:
        api.info(user, "a")
        heard.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert api.acknowledge_all(user) == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert api.acknowledge_all(user) == 0
    finally:
        messages_changed.disconnect(listener)
    assert heard == [[user.pk]]


def test_history_pages_follow_cursors_one_query_each_and_never_offset(
    user, django_assert_num_queries
):
    sent = [api.info(user, f"m{index}").pk for index in range(25)]
    newest_first = sent[::-1]
    pages, after = [], None
    while True:
        with django_assert_num_queries(1) as captured:
            page = api.history_page(user, first=10, after=after)
        assert "OFFSET" not in captured.captured_queries[0]["sql"].upper()
        pages.append(([m.pk for m in page.messages], page.has_next_page))
        if not page.has_next_page:
            break
        after = page.cursor(page.messages[-1])

    assert pages == [
        (newest_first[:10], True),
        (newest_first[10:20], True),
        (newest_first[20:], False),
    ]
    assert api.pending_count(user) == 25  # paging consumed nothing


def test_a_cursor_made_from_another_users_message_shows_only_the_callers_messages(user, other_user):
    older = api.info(user, "alice's older")
    theirs = api.info(other_user, "bob's")
    api.info(user, "alice's newer")

    page = api.history_page(user, after=api.HistoryPage.cursor(theirs))

    assert [m.pk for m in page.messages] == [older.pk]


def test_history_page_filters_by_state(user):
    api.info(user, "delivered")
    list(api.get_messages(user=user))
    api.info(user, "pending")

    page = api.history_page(user, states=[MessageState.DELIVERED])
    assert texts(page.messages) == ["delivered"]


def _b64(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "x",
        "!!!!",
        "é",
        _b64("history:abc"),
        _b64("history:0"),
        _b64("history:-5"),
        _b64("history: 5"),
        _b64("history:99999999999999999999"),
        _b64("message:5"),
        _b64("history:12").rstrip("="),
        " " + _b64("history:5"),
        "A" * 10_000,
    ],
)
def test_a_cursor_that_history_never_made_is_refused_with_what_to_pass(user, cursor):
    with pytest.raises(ValueError, match=r"is not a history cursor") as excinfo:
        api.history_page(user, after=cursor)
    assert str(excinfo.value).endswith(
        " is not a history cursor; pass the cursor or endCursor of a history page, "
        "or nothing for the first page."
    )
    assert excinfo.value.field == "after"


@pytest.mark.parametrize(
    ("first", "message"),
    [
        (0, "first must be from 1 to 100, got 0."),
        (101, "first must be from 1 to 100, got 101."),
        (-1, "first must be from 1 to 100, got -1."),
        (True, "first must be an int, got True."),
    ],
)
def test_a_page_size_out_of_range_is_refused(user, first, message):
    with pytest.raises(ValueError, match=r"^first must be") as excinfo:
        api.history_page(user, first=first)
    assert str(excinfo.value) == message


def test_the_page_size_limit_is_a_setting(user, settings):
    for index in range(3):
        api.info(user, f"m{index}")
    settings.USER_MESSAGES = {"MAX_HISTORY_PAGE": 2}

    assert len(api.history_page(user, first=2).messages) == 2
    with pytest.raises(ValueError, match=r"^first must be from 1 to 2, got 3\.$"):
        api.history_page(user, first=3)
