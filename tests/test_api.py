"""Sending messages with the Python API: one user, many users, and bad input."""

from __future__ import annotations

import datetime
import math

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import constants
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.translation import gettext_lazy

from user_messages import api
from user_messages.models import Message


def statements(captured):
    """The kinds of the statements run, leaving out the savepoints the test transaction adds."""
    kinds = [q["sql"].split()[0] for q in captured.captured_queries]
    return [kind for kind in kinds if kind not in ("SAVEPOINT", "RELEASE")]


def test_shortcuts_store_a_message_of_their_level_and_return_it(user):
    sent = [
        api.debug(user, "d"),
        api.info(user, "i"),
        api.success(user, "s"),
        api.warning(user, "w"),
        api.error(user, "e"),
    ]

    assert [m.level for m in sent] == [
        constants.DEBUG,
        constants.INFO,
        constants.SUCCESS,
        constants.WARNING,
        constants.ERROR,
    ]
    assert list(Message.objects.order_by("pk").values_list("message", "user_id")) == [
        ("d", user.pk),
        ("i", user.pk),
        ("s", user.pk),
        ("w", user.pk),
        ("e", user.pk),
    ]


def test_add_message_takes_the_options_of_django_user_messages(user):
    message = api.add_message(
        user, constants.WARNING, "Careful", "urgent", deliver_once=False, meta={"url": "/x/"}
    )

    message.refresh_from_db()
    assert message.level == constants.WARNING
    assert message.extra_tags == "urgent"
    assert message.deliver_once is False
    assert message.meta == {"url": "/x/"}
    assert message.delivered_at is None
    assert message.expires_at is None


def test_a_user_id_costs_one_insert_that_never_loads_the_user(user, django_assert_num_queries):
    # The INSERT ... SELECT finds the user and writes in one statement.
    with django_assert_num_queries(1) as captured:
        message = api.info(user.pk, "by id")

    assert message.user_id == user.pk
    assert captured.captured_queries[0]["sql"].startswith("INSERT")
    assert "password" not in captured.captured_queries[0]["sql"]
    assert Message.objects.get() == message


def test_a_user_instance_costs_one_insert(user, django_assert_num_queries):
    with django_assert_num_queries(1):
        api.info(user, "hello")


def test_a_user_id_as_string_is_accepted(user):
    assert api.info(str(user.pk), "by string id").user_id == user.pk


def test_options_are_keyword_only(user):
    with pytest.raises(TypeError):
        api.info(user, "text", "", False)  # type: ignore[misc]


def test_lazy_translations_are_stored_as_text(user):
    message = api.info(user, gettext_lazy("delivered at"))

    message.refresh_from_db()
    assert message.message == "delivered at"


def test_broadcast_to_a_list_of_users_and_ids_returns_the_count(make_user):
    alice, bob, carol = make_user(), make_user(), make_user()

    count = api.info([alice, bob.pk, str(carol.pk)], "Maintenance tonight")

    assert count == 3
    assert sorted(Message.objects.values_list("user_id", flat=True)) == sorted(
        [alice.pk, bob.pk, carol.pk]
    )


def test_broadcast_sends_once_to_a_recipient_named_twice(user):
    assert api.info([user, user.pk, str(user.pk)], "once") == 1
    assert Message.objects.count() == 1


def test_broadcast_to_a_queryset_is_one_insert_that_never_loads_users(
    make_user, django_assert_num_queries
):
    for _ in range(5):
        make_user()
    make_user(is_active=False)
    active = get_user_model().objects.filter(is_active=True)

    with django_assert_num_queries(3) as captured:  # the INSERT, within a savepoint here
        count = api.warning(active, "Maintenance tonight", meta={"url": "/status/"})

    assert count == 5
    assert statements(captured) == ["INSERT"]
    assert "SELECT" in captured.captured_queries[1]["sql"]
    assert Message.objects.filter(meta={"url": "/status/"}).count() == 5
    assert set(Message.objects.values_list("user_id", flat=True)) == set(
        active.values_list("pk", flat=True)
    )


def test_broadcast_to_thousands_of_ids_inserts_a_thousand_per_statement(
    make_user, django_assert_num_queries
):
    User = get_user_model()
    User.objects.bulk_create(User(username=f"bulk{i}") for i in range(2500))
    ids = list(User.objects.values_list("pk", flat=True))

    with django_assert_num_queries(5) as captured:
        count = api.info(ids, "hello all")

    assert count == 2500
    assert statements(captured) == ["INSERT", "INSERT", "INSERT"]
    assert Message.objects.count() == 2500


def test_broadcast_stores_the_same_fields_as_a_single_send(make_user):
    alice, bob = make_user(), make_user()
    expiry = timezone.now() + datetime.timedelta(days=1)
    options = {"deliver_once": False, "meta": {"url": "/x/", "n": [1, 2]}, "expires_at": expiry}

    single = api.warning(alice, "Hi", "tag", **options)
    api.warning([bob], "Hi", "tag", **options)

    fields = ["level", "message", "extra_tags", "meta", "deliver_once", "expires_at"]
    broadcast = Message.objects.get(user=bob)
    assert [getattr(broadcast, f) for f in fields] == [getattr(single, f) for f in fields]
    assert broadcast.delivered_at is None
    assert abs(broadcast.created_at - single.created_at) < datetime.timedelta(seconds=5)


def test_broadcast_to_an_empty_queryset_sends_nothing(db):
    assert api.info(get_user_model().objects.none(), "nobody") == 0
    assert not Message.objects.exists()


def test_broadcast_with_an_unknown_id_writes_nothing(user):
    with pytest.raises(
        ValueError, match=r"^There are no users with ids \[987654\]; nothing was sent\.$"
    ):
        api.info([user.pk, 987654], "hello")

    assert not Message.objects.exists()


def test_unknown_user_id_is_a_value_error_after_one_statement_that_writes_nothing(
    db, django_assert_num_queries
):
    with (
        django_assert_num_queries(1),
        pytest.raises(ValueError, match=r"^There is no user with id 987654\.$"),
    ):
        api.info(987654, "hello")

    assert not Message.objects.exists()


def test_a_deleted_user_instance_is_a_value_error_that_writes_nothing(make_user):
    ghost = make_user()
    get_user_model().objects.filter(pk=ghost.pk).delete()

    with pytest.raises(ValueError, match=rf"^There is no user with id {ghost.pk}\.$"):
        api.info(ghost, "hello")

    assert not Message.objects.exists()


def test_a_single_id_too_large_for_any_column_is_refused_like_in_a_list(db):
    with pytest.raises(ValueError, match=rf"^{2**64} is not a valid user id\.$"):
        api.info(2**64, "hello")


def test_an_id_that_is_not_a_number_is_a_value_error(db):
    with pytest.raises(ValueError, match=r"^'abc' is not a valid user id\.$"):
        api.info("abc", "hello")


def test_an_unsaved_user_is_a_value_error(db):
    with pytest.raises(ValueError, match="unsaved user"):
        api.info(get_user_model()(username="ghost"), "hello")


def test_a_queryset_of_another_model_is_a_type_error(db):
    with pytest.raises(
        TypeError,
        match=r"^Recipients must be a QuerySet of auth.User, got a QuerySet of auth.Group\.$",
    ):
        api.info(Group.objects.all(), "hello")


@pytest.mark.parametrize("recipient", [None, 1.5, True, object()])
def test_a_recipient_of_the_wrong_type_is_a_type_error(db, recipient):
    with pytest.raises(TypeError):
        api.info(recipient, "hello")


def nested(levels):
    """A dict nested ``levels`` deep: ``nested(1) == {}``, ``nested(2) == {"k": {}}``."""
    value: dict[str, object] = {}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("kwargs", "exception", "message"),
    [
        (
            {"level": "20"},
            TypeError,
            "level must be an int such as user_messages.api.constants.INFO, got '20'.",
        ),
        (
            {"level": None},
            TypeError,
            "level must be an int such as user_messages.api.constants.INFO, got None.",
        ),
        (
            {"level": True},
            TypeError,
            "level must be an int such as user_messages.api.constants.INFO, got True.",
        ),
        ({"message": ""}, ValueError, "message must not be empty, got ''."),
        ({"message": "   "}, ValueError, "message must not be empty, got '   '."),
        ({"message": None}, TypeError, "message must be a str, got None."),
        ({"message": 42}, TypeError, "message must be a str, got 42."),
        ({"message": "a\x00b"}, ValueError, "message must not contain NUL characters."),
        ({"extra_tags": None}, TypeError, "extra_tags must be a str, got None."),
        ({"deliver_once": "yes"}, TypeError, "deliver_once must be True or False, got 'yes'."),
        ({"meta": []}, TypeError, "meta must be a JSON object (a dict), got []."),
        (
            {"meta": {"when": datetime.date(2024, 1, 1)}},
            ValueError,
            "meta must be serialisable as JSON: Object of type date is not JSON serializable",
        ),
        (
            {"meta": {"x": math.nan}},
            ValueError,
            "meta must be serialisable as JSON: no NaN, no infinity, no circular references.",
        ),
        ({"meta": {"x": "\x00"}}, ValueError, "meta must not contain NUL characters."),
        (
            {"expires_at": "tomorrow"},
            TypeError,
            "expires_at must be a datetime or None, got 'tomorrow'.",
        ),
        (
            {"expires_at": datetime.datetime(2030, 1, 1)},
            ValueError,
            "expires_at must have a UTC offset (such as 2030-01-01T12:00:00+00:00) when "
            "USE_TZ is True, got 2030-01-01T00:00:00.",
        ),
        (
            {"expires_at": datetime.datetime.fromisoformat("9999-12-31T23:59:59-14:00")},
            ValueError,
            "expires_at must lie within the years 1 to 9999 in UTC, got 9999-12-31T23:59:59-14:00.",
        ),
        (
            {"message": "a\ud800b"},
            ValueError,
            "message must be valid Unicode (it contains a lone surrogate).",
        ),
        (
            {"extra_tags": "\udfff"},
            ValueError,
            "extra_tags must be valid Unicode (it contains a lone surrogate).",
        ),
        (
            {"meta": {"k": "\ud800"}},
            ValueError,
            "meta must be valid Unicode (it contains a lone surrogate).",
        ),
        (
            {"meta": {"\ud800": 1}},
            ValueError,
            "meta must be valid Unicode (it contains a lone surrogate).",
        ),
        ({"level": 2**31}, ValueError, "level must fit in 32 bits, got 2147483648."),
        (
            {"meta": nested(32)},
            ValueError,
            "meta must nest at most 31 levels deep, got 32.",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(user, kwargs, exception, message):
    call = {"level": constants.INFO, "message": "hello"} | kwargs
    level, text = call.pop("level"), call.pop("message")

    with pytest.raises(exception) as excinfo:
        api.add_message([user], level, text, **call)

    assert str(excinfo.value) == message
    assert not Message.objects.exists()


def test_meta_nested_as_deep_as_every_backend_stores_is_accepted(user):
    meta = nested(31)

    message = api.info(user, "deep", meta=meta)

    message.refresh_from_db()
    assert message.meta == meta


def test_meta_is_stored_as_it_reads_back(user):
    message = api.info(user, "x", meta={"pair": (1, 2), 3: "three"})

    message.refresh_from_db()
    assert message.meta == {"pair": [1, 2], "3": "three"}
    assert api.info(user, "y", meta={"pair": (1, 2)}).meta == {"pair": [1, 2]}


def test_expires_at_is_stored(user):
    expiry = timezone.now() + datetime.timedelta(hours=1)

    message = api.info(user, "soon gone", expires_at=expiry)

    message.refresh_from_db()
    assert message.expires_at == expiry


def test_message_behaves_like_djangos_message(user, settings):
    message = api.warning(user, "Hi", "urgent")

    assert str(message) == "Hi"
    assert message.level_tag == "warning"
    assert message.tags == "urgent warning"
    settings.MESSAGE_TAGS = {constants.WARNING: "alert"}
    assert message.level_tag == "alert"
    assert api.info(user, "plain").tags == "info"


def test_an_id_too_large_for_any_column_is_refused_before_anything_is_written(user):
    with pytest.raises(ValueError, match=rf"^{2**64} is not a valid user id\.$"):
        api.info([user, 2**64], "hello")
    assert not Message.objects.exists()


def test_a_send_to_one_user_sends_pre_save_and_post_save_like_create(user):
    seen: list[tuple[str, object, bool]] = []

    def before(sender, instance, **kwargs):
        seen.append(("pre_save", instance.pk, instance._state.adding))

    def after(sender, instance, created, **kwargs):
        seen.append(("post_save", instance.pk, created))

    pre_save.connect(before, sender=Message)
    post_save.connect(after, sender=Message)
    try:
        by_id = api.info(user.pk, "by id")
        by_instance = api.info(user, "by instance")
    finally:
        pre_save.disconnect(before, sender=Message)
        post_save.disconnect(after, sender=Message)

    assert seen == [
        ("pre_save", None, True),
        ("post_save", by_id.pk, True),
        ("pre_save", None, True),
        ("post_save", by_instance.pk, True),
    ]
