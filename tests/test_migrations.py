"""Upgrading a database created by django-user-messages 1.1, and our migrations' health."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from user_messages.models import Message, MessageState

SEED = ("user_messages", "0001_squashed_0003_alter_message_index_together_and_more")
SEED_UNSQUASHED = [
    "0001_initial",
    "0002_alter_message_index_together",
    "0003_alter_message_index_together_and_more",
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "user_messages"]


@pytest.fixture
def seed_schema(transactional_db):
    """The database as django-user-messages 1.1 left it; migrated forward again afterwards."""
    apps = migrate([SEED])
    yield apps
    migrate(latest())


def test_upgrade_keeps_every_message_and_converts_meta(seed_schema):
    User = seed_schema.get_model("auth", "User")
    OldMessage = seed_schema.get_model("user_messages", "Message")
    user = User.objects.create(username="alice")
    texts = {
        "object": '{"url": "/next/", "n": 1}',
        "empty": "",
        "invalid": "{not json",
        "null": "null",
        "list": "[1, 2]",
    }
    for name, metadata in texts.items():
        OldMessage.objects.create(
            user_id=user.pk, level=20, message=name, _metadata=metadata, deliver_once=False
        )
    OldMessage.objects.create(
        user_id=user.pk, level=40, message="delivered", delivered_at="2024-01-01T00:00Z"
    )

    migrate(latest())

    assert dict(Message.objects.values_list("message", "meta")) == {
        "object": {"url": "/next/", "n": 1},
        "empty": {},
        "invalid": {},
        "null": {},
        "list": [1, 2],
        "delivered": {},
    }
    message = Message.objects.get(message="object")
    assert (message.user_id, message.level, message.deliver_once) == (user.pk, 20, False)
    assert message.expires_at is None
    assert Message.objects.get(message="delivered").delivered_at is not None


def test_upgrade_gives_old_rows_the_best_state_their_columns_allow(seed_schema):
    User = seed_schema.get_model("auth", "User")
    OldMessage = seed_schema.get_model("user_messages", "Message")
    user_id = User.objects.create(username="alice").pk
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    for text, deliver_once, delivered_at in [
        ("shown once", True, when),
        ("acknowledged sticky", False, when),
        ("pending once", True, None),
        ("pending sticky", False, None),
    ]:
        OldMessage.objects.create(
            user_id=user_id,
            level=20,
            message=text,
            deliver_once=deliver_once,
            delivered_at=delivered_at,
        )

    migrate(latest())

    rows = {m.message: (m.state, m.seen_at, m.acknowledged_at) for m in Message.objects.all()}
    assert rows == {
        "shown once": (MessageState.DELIVERED, when, None),
        "acknowledged sticky": (MessageState.ACKNOWLEDGED, None, when),
        "pending once": (MessageState.PENDING, None, None),
        "pending sticky": (MessageState.PENDING, None, None),
    }


def test_downgrade_writes_meta_back_as_text(transactional_db, django_user_model):
    user = django_user_model.objects.create(username="alice")
    Message.objects.create(user=user, level=20, message="m", meta={"url": "/x/"})

    try:
        apps = migrate([SEED])
        OldMessage = apps.get_model("user_messages", "Message")
        assert OldMessage.objects.get()._metadata == '{"url": "/x/"}'
    finally:
        migrate(latest())
    assert Message.objects.get().meta == {"url": "/x/"}


def test_a_database_migrated_before_the_squash_counts_as_having_our_first_migration(
    transactional_db,
):
    recorder = MigrationRecorder(connection)
    # Applying a squashed migration records the ones it replaces as well: put back exactly that.
    recorded_before = set(recorder.applied_migrations())
    recorder.record_unapplied(*SEED)
    for name in SEED_UNSQUASHED:
        recorder.record_applied("user_messages", name)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(latest())
        assert [(m.app_label, m.name) for m, _ in plan] == []
        assert executor.loader.applied_migrations.keys() >= {SEED}
    finally:
        for name in SEED_UNSQUASHED:
            if ("user_messages", name) not in recorded_before:
                recorder.record_unapplied("user_messages", name)
        recorder.record_applied(*SEED)


def test_models_and_migrations_agree(db):
    call_command("makemigrations", "user_messages", "--check", "--dry-run", verbosity=0)


def indexes_leading_with_user_id():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Message._meta.db_table)
    user_column = Message._meta.get_field("user").column
    return {
        name: c["columns"]
        for name, c in constraints.items()
        if c["index"]
        and not c["primary_key"]
        and c["columns"][0] == user_column
        # MySQL/MariaDB keep an index of their own for the foreign key; Django cannot drop it.
        and not (connection.vendor == "mysql" and c["foreign_key"])
    }


def test_lookups_by_user_have_their_indexes_and_postgresql_one_more_of_pending_messages(db):
    user_column = Message._meta.get_field("user").column
    expected = {
        "user_delivered_at": [user_column, "delivered_at"],
        # The history, newest first, a page at a time.
        "user_history": [user_column, "id"],
    }
    if connection.vendor == "postgresql":
        # Partial (delivered_at IS NULL): pending messages by user, already in id order.
        expected["user_pending"] = [user_column, "id"]

    assert indexes_leading_with_user_id() == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the index is PostgreSQL's only")
def test_the_pending_index_is_partial_and_migrating_back_drops_it(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid), indisvalid FROM pg_index "
            "WHERE indexrelid = 'user_pending'::regclass"
        )
        definition, valid = cursor.fetchone()
    assert definition.endswith("WHERE (delivered_at IS NULL)")
    assert valid  # built concurrently, and finished

    try:
        migrate([SEED])
        assert "user_pending" not in indexes_leading_with_user_id()
    finally:
        migrate(latest())
    assert "user_pending" in indexes_leading_with_user_id()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="CONCURRENTLY is PostgreSQL's")
def test_the_history_index_is_built_concurrently_and_migrating_back_drops_it(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid), indisvalid FROM pg_index "
            "WHERE indexrelid = 'user_history'::regclass"
        )
        definition, valid = cursor.fetchone()
    assert definition.endswith("USING btree (user_id, id)")
    assert valid

    try:
        migrate([("user_messages", "0008_message_seen_at_acknowledged_at")])
        assert "user_history" not in indexes_leading_with_user_id()
    finally:
        migrate(latest())
    assert "user_history" in indexes_leading_with_user_id()


def test_messages_stored_before_categories_get_no_category(transactional_db):
    apps = migrate([("user_messages", "0009_user_history_index")])
    try:
        user = apps.get_model("auth", "User").objects.create(username="alice")
        OldMessage = apps.get_model("user_messages", "Message")
        OldMessage.objects.create(user_id=user.pk, level=20, message="pending")
        OldMessage.objects.create(
            user_id=user.pk, level=20, message="done", delivered_at="2024-01-01T00:00Z"
        )
    finally:
        migrate(latest())

    assert dict(Message.objects.values_list("message", "category")) == {
        "pending": "",
        "done": "",
    }
    assert Message.objects.in_categories([""]).count() == 2


@pytest.mark.skipif(
    connection.vendor not in ("postgresql", "mysql"),
    reason="SQLite cannot give an existing column a database default",
)
def test_a_row_inserted_by_code_older_than_categories_gets_no_category_and_no_actions(
    db, django_user_model
):
    user = django_user_model.objects.create(username="alice")
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        # What django-user-messages 1.1 (or this package before 0010) inserts: no category.
        cursor.execute(
            f"INSERT INTO {qn('user_messages_message')} "
            f"({qn('created_at')}, {qn('user_id')}, {qn('level')}, {qn('message')}, "
            f"{qn('extra_tags')}, {qn('meta')}, {qn('deliver_once')}) "
            "VALUES (%s, %s, 20, 'old', '', '{}', %s)",
            [
                connection.ops.adapt_datetimefield_value(
                    datetime.datetime.now(datetime.timezone.utc)
                ),
                user.pk,
                True,
            ],
        )

    assert list(Message.objects.values_list("message", "category", "actions", "archived_at")) == [
        ("old", "", [], None)
    ]


def test_messages_stored_before_archive_and_actions_are_in_the_inbox_without_actions(
    transactional_db,
):
    apps = migrate([("user_messages", "0011_message_preference")])
    try:
        user = apps.get_model("auth", "User").objects.create(username="alice")
        OldMessage = apps.get_model("user_messages", "Message")
        OldMessage.objects.create(user_id=user.pk, level=20, message="pending")
        OldMessage.objects.create(
            user_id=user.pk, level=20, message="done", delivered_at="2024-01-01T00:00Z"
        )
    finally:
        migrate(latest())

    assert sorted(Message.objects.values_list("message", "actions", "archived_at")) == [
        ("done", [], None),
        ("pending", [], None),
    ]
    assert Message.objects.not_archived().count() == 2
