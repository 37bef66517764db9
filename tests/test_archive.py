"""Archive (the user's "remove from my inbox") and action buttons, through the Python API."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from user_messages import api, validation
from user_messages.models import Message, MessageState
from user_messages.signals import messages_changed

#: Statements one batch of archive()/unarchive() costs: UPDATE ... RETURNING, or (MariaDB and
#: MySQL, without it) a SELECT of the owned ids and the UPDATE.
PER_BATCH = 2 if connection.vendor == "mysql" else 1

PAY = {"label": "Pay now", "url": "/billing/pay/"}


@pytest.fixture
def heard():
    """The user_ids of every messages_changed sent while the test runs."""
    calls: list[Any] = []

    def listener(sender: Any, user_ids: Any, **kwargs: Any) -> None:
        calls.append(sorted(user_ids) if user_ids is not None else None)

    messages_changed.connect(listener, dispatch_uid="test_archive")
    yield calls
    messages_changed.disconnect(dispatch_uid="test_archive")


def texts(messages: Any) -> list[str]:
    return [str(message) for message in messages]


def test_archiving_a_pending_message_acknowledges_it_so_it_stops_showing_and_counting(user):
    sticky = api.warning(user, "sticky", deliver_once=False)
    once = api.info(user, "once")
    kept = api.info(user, "kept")

    assert api.archive(user, [sticky.pk, once.pk]) == [sticky.pk, once.pk]

    assert api.pending_count(user) == 1
    assert texts(api.get_messages(user=user)) == ["kept"]
    rows = {m.pk: m for m in Message.objects.all()}
    for pk in (sticky.pk, once.pk):
        assert rows[pk].archived_at is not None
        assert rows[pk].acknowledged_at == rows[pk].delivered_at == rows[pk].archived_at
        assert rows[pk].state == MessageState.ACKNOWLEDGED
    assert rows[kept.pk].archived_at is None


def test_archiving_keeps_a_delivered_or_expired_message_in_its_state(user):
    delivered = api.info(user, "delivered")
    list(api.get_messages(user=user))
    expired = api.info(user, "expired", expires_at=timezone.now() + datetime.timedelta(hours=1))
    Message.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert api.archive(user, [delivered.pk, expired.pk]) == [delivered.pk, expired.pk]

    rows = {m.pk: m for m in Message.objects.all()}
    assert rows[delivered.pk].state == MessageState.DELIVERED
    assert rows[delivered.pk].acknowledged_at is None
    assert rows[expired.pk].state == MessageState.EXPIRED
    assert rows[expired.pk].delivered_at is None
    assert all(row.archived_at is not None for row in rows.values())


def test_archive_answers_only_the_users_own_ids_and_changes_nothing_else(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    mine = api.info(alice, "mine").pk
    theirs = api.info(bob, "theirs").pk

    assert api.archive(alice, [theirs, str(mine), 10**12, mine]) == [mine]
    assert api.unarchive(alice, [theirs, 10**12]) == []
    assert api.archive(alice, [theirs]) == []

    bobs = Message.objects.get(pk=theirs)
    assert (bobs.archived_at, bobs.delivered_at) == (None, None)
    assert api.pending_count(bob) == 1


def test_archiving_again_keeps_the_first_time_and_still_answers_the_id(user):
    pk = api.info(user, "hello").pk
    api.archive(user, [pk])
    first = Message.objects.get(pk=pk).archived_at

    assert api.archive(user, [pk]) == [pk]
    assert Message.objects.get(pk=pk).archived_at == first


def test_unarchive_puts_a_message_back_in_the_inbox_still_acknowledged(user):
    pk = api.info(user, "hello").pk
    api.archive(user, [pk])

    assert api.unarchive(user, [pk, pk]) == [pk]
    assert api.unarchive(user, [pk]) == [pk]

    message = Message.objects.get(pk=pk)
    assert message.archived_at is None
    assert message.state == MessageState.ACKNOWLEDGED
    assert api.pending_count(user) == 0
    assert [m.pk for m in api.history(user)] == [pk]


def test_archive_all_empties_the_inbox_in_one_statement(make_user, django_assert_num_queries):
    alice, bob = make_user("alice"), make_user("bob")
    for i in range(3):
        api.info(alice, f"m{i}")
    api.archive(alice, [api.info(alice, "archived before").pk])
    api.info(bob, "theirs")

    with django_assert_num_queries(1):
        assert api.archive_all(alice) == 3

    assert api.archive_all(alice) == 0
    assert api.pending_count(alice) == 0
    assert list(api.history(alice)) == []
    assert api.pending_count(bob) == 1


def test_archive_and_unarchive_cost_a_statement_per_thousand_ids(user, django_assert_num_queries):
    pks = [api.info(user, f"m{i}").pk for i in range(3)]
    ids = [*pks, *range(10**9, 10**9 + 998)]  # 1001 ids: two batches

    with django_assert_num_queries(PER_BATCH):
        assert api.archive(user, pks) == pks
    # Two batches; on MariaDB the second, holding none of the user's ids, skips its UPDATE.
    two_batches = 3 if connection.vendor == "mysql" else 2
    with django_assert_num_queries(two_batches):
        assert api.unarchive(user, ids) == pks
    with django_assert_num_queries(two_batches):
        assert api.archive(user, ids) == pks


def test_each_archive_write_announces_its_user_after_commit(
    user, heard, django_capture_on_commit_callbacks
):
    pk = api.info(user, "hello").pk
    with django_capture_on_commit_callbacks(execute=True):
        heard.clear()
        api.archive(user, [pk])
        api.unarchive(user, [pk])
        api.archive_all(user)
        # Nothing of the user's: nothing to announce.
        api.archive(user, [10**12])
        api.archive_all(user)

    assert heard == [[user.pk]] * 3


def test_history_lists_the_inbox_by_default_and_archived_messages_when_asked(user):
    inbox = api.info(user, "inbox").pk
    archived = api.info(user, "archived").pk
    api.archive(user, [archived])

    assert [m.pk for m in api.history(user)] == [inbox]
    assert [m.pk for m in api.history(user, archived=True)] == [archived]
    assert [m.pk for m in api.history(user, archived=None)] == [archived, inbox]
    assert [m.pk for m in api.history_page(user).messages] == [inbox]
    assert [m.pk for m in api.history_page(user, archived=True).messages] == [archived]
    assert [m.pk for m in api.history_page(user, archived=None).messages] == [archived, inbox]


def test_a_history_read_with_the_archived_filter_is_still_one_query(
    user, django_assert_num_queries
):
    api.archive(user, [api.info(user, "a").pk])
    with django_assert_num_queries(1):
        api.history_page(user, archived=True)


def test_archived_must_be_a_bool_or_none(user):
    with pytest.raises(TypeError, match=r"^archived must be True, False or None, got 'yes'\.$"):
        api.history(user, archived="yes")  # type: ignore[arg-type]


def test_ids_must_be_an_iterable_of_message_ids(user):
    with pytest.raises(TypeError, match=r"^ids must be an iterable of message ids, got 5\.$"):
        api.archive(user, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^'x' is not a valid message id\.$"):
        api.unarchive(user, ["x"])


# Action buttons


def test_a_message_carries_its_actions_to_every_reader(user):
    actions = [PAY, {"label": "Details", "url": "https://example.com/invoices/7"}]
    sent = api.info(user, "Invoice due", actions=actions)

    assert sent.actions == actions
    assert Message.objects.get(pk=sent.pk).actions == actions
    (shown,) = api.get_messages(user=user)
    assert shown.actions == actions
    assert api.info(user, "plain").actions == []


def test_every_send_path_stores_actions(make_user, django_user_model):
    alice, bob = make_user("alice"), make_user("bob")
    for name in ("debug", "info", "success", "warning", "error"):
        getattr(api, name)(alice, name, actions=[PAY])
    api.add_message(alice.pk, 20, "by id", actions=[PAY])
    assert api.info([alice, bob.pk], "to a list", actions=[PAY]) == 2
    assert api.info(django_user_model.objects.all(), "to a queryset", actions=[PAY]) == 2

    assert list(Message.objects.values_list("actions", flat=True)) == [[PAY]] * 10


def test_actions_given_as_a_tuple_and_lazy_labels_are_stored_as_plain_lists(user):
    from django.utils.translation import gettext_lazy

    sent = api.info(user, "x", actions=({"label": gettext_lazy("Pay now"), "url": "/pay"},))

    assert Message.objects.get(pk=sent.pk).actions == [{"label": "Pay now", "url": "/pay"}]


@pytest.mark.parametrize(
    ("actions", "exception", "message"),
    [
        (
            "Pay now",
            TypeError,
            "actions must be a list of dicts such as {'label': 'Pay now', 'url': "
            "'/billing/pay/'}, got 'Pay now'.",
        ),
        (
            PAY,
            TypeError,
            "actions must be a list of dicts such as {'label': 'Pay now', 'url': "
            "'/billing/pay/'}, got {'label': 'Pay now', 'url': '/billing/pay/'}.",
        ),
        (
            [PAY] * 4,
            ValueError,
            "A message may have at most 3 actions (USER_MESSAGES['MAX_ACTIONS']), got 4.",
        ),
        (
            [("Pay now", "/pay")],
            TypeError,
            "An action must be a dict such as {'label': 'Pay now', 'url': '/billing/pay/'}, "
            "got ('Pay now', '/pay').",
        ),
        (
            [{"label": "Pay now", "href": "/pay"}],
            ValueError,
            "An action must have the keys 'label' and 'url' and no others, got ['href', "
            "'label']; for example {'label': 'Pay now', 'url': '/billing/pay/'}.",
        ),
        (
            [{"label": " ", "url": "/pay"}],
            ValueError,
            "An action's label must be a text of 1 to 40 characters, got ' '.",
        ),
        (
            [{"label": 7, "url": "/pay"}],
            ValueError,
            "An action's label must be a text of 1 to 40 characters, got 7.",
        ),
        (
            [{"label": "x" * 41, "url": "/pay"}],
            ValueError,
            f"An action's label must be at most 40 characters, got 41: {'x' * 41!r}.",
        ),
        (
            [{"label": "Pay\x00", "url": "/pay"}],
            ValueError,
            "An action's label must not contain NUL characters.",
        ),
        *[
            (
                [{"label": "Pay now", "url": url}],
                ValueError,
                "An action's url must be a path on this site such as '/billing/pay/' or an "
                "http(s) URL with a host (at most 2048 characters, no spaces or backslashes), "
                f"got {url!r}.",
            )
            for url in (
                "javascript:alert(1)",
                "//evil.example/pay",
                "/\\evil.example",
                "java\tscript:alert(1)",
                "https://",
                "ftp://example.com/file",
                "pay",
                "",
            )
        ],
    ],
)
def test_bad_actions_are_refused_with_what_to_pass_and_store_nothing(
    user, actions, exception, message
):
    with pytest.raises(exception) as raised:
        api.info(user, "Invoice due", actions=actions)
    assert str(raised.value) == message
    assert isinstance(raised.value, validation.InvalidInput)
    assert raised.value.field == "actions"
    with pytest.raises(exception):
        api.info([user], "Invoice due", actions=actions)
    assert Message.objects.count() == 0


def test_an_overlong_url_is_refused(user):
    url = "/" + "a" * 2048
    with pytest.raises(ValueError, match="at most 2048 characters"):
        api.info(user, "x", actions=[{"label": "Go", "url": url}])
    assert api.info(user, "x", actions=[{"label": "Go", "url": url[:2048]}]) is not None


def test_max_actions_sets_how_many_buttons_a_message_may_carry(user, settings):
    settings.USER_MESSAGES = {"MAX_ACTIONS": 1}
    assert api.info(user, "one", actions=[PAY]).actions == [PAY]
    with pytest.raises(ValueError, match=r"at most 1 actions .*, got 2\.$"):
        api.info(user, "two", actions=[PAY, PAY])

    settings.USER_MESSAGES = {"MAX_ACTIONS": 0}
    assert api.info(user, "none", actions=[]).actions == []
    with pytest.raises(ValueError, match=r"at most 0 actions"):
        api.info(user, "one", actions=[PAY])
