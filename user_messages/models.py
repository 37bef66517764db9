"""The stored message and every query the package makes on it."""

from __future__ import annotations

import datetime
import functools
import sqlite3
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from django.conf import settings
from django.contrib.messages.storage import base as message_storage
from django.core.exceptions import EmptyResultSet
from django.core.signals import setting_changed
from django.db import OperationalError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import signals
from django.db.models.functions import Coalesce
from django.db.models.sql import UpdateQuery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MessageState(models.TextChoices):
    """Where a stored message is in its life, derived from its columns (never stored)."""

    #: The next consuming read shows it (a sticky one: every read, until acknowledged).
    PENDING = "pending", _("pending")
    #: A deliver-once message that a consuming read showed.
    DELIVERED = "delivered", _("delivered")
    #: Marked done by the user (``acknowledge``...) or by staff in the admin.
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    #: Its expiry passed before it was delivered or acknowledged: it will never be shown.
    EXPIRED = "expired", _("expired")


def distinct_states(states: Iterable[MessageState | str]) -> tuple[MessageState, ...]:
    """``states`` as members, each once, in ``MessageState``'s order: repeats cost nothing.

    Raises ValueError, naming the valid states, for anything that is not one.
    """
    wanted: set[MessageState] = set()
    for state in states:
        try:
            wanted.add(MessageState(state))
        except ValueError:
            raise ValueError(
                f"Unknown message state {state!r}, must be one of: "
                f"{', '.join(member.value for member in MessageState)}."
            ) from None
    return tuple(member for member in MessageState if member in wanted)


def _state_condition(state: MessageState, now: datetime.datetime) -> models.Q:
    """The condition on the columns that makes a message be in ``state`` at ``now``."""
    pending = models.Q(delivered_at__isnull=True)
    unexpired = models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
    # A sticky message is only ever done by acknowledging it; code of django-user-messages 1.1
    # acknowledges by setting delivered_at alone, so that counts too.
    acknowledged = models.Q(acknowledged_at__isnull=False) | models.Q(deliver_once=False)
    if state == MessageState.PENDING:
        return pending & unexpired
    if state == MessageState.EXPIRED:
        return pending & models.Q(expires_at__lte=now)
    if state == MessageState.ACKNOWLEDGED:
        return ~pending & acknowledged
    if state == MessageState.DELIVERED:
        return ~pending & ~acknowledged
    raise ValueError(
        f"Unknown message state {state!r}, must be one of: "
        f"{', '.join(member.name for member in MessageState)}."
    )


def _supports_update_returning(connection: BaseDatabaseWrapper) -> bool:
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        return sqlite3.sqlite_version_info >= (3, 35)
    return False


class MessageQuerySet(models.QuerySet["Message"]):
    """Queries on stored messages, named by what they mean to a user of the package."""

    def for_user(self, user: Any) -> MessageQuerySet:
        """Messages of one user, given as an instance or a primary key."""
        if isinstance(user, models.Model):
            return self.filter(user_id=user.pk)
        return self.filter(user_id=user)

    def pending(self) -> MessageQuerySet:
        """Messages not yet delivered (deliver-once) or acknowledged (sticky)."""
        return self.filter(delivered_at__isnull=True)

    def unexpired(self, now: datetime.datetime | None = None) -> MessageQuerySet:
        """Messages without an expiry, or whose expiry lies in the future."""
        now = now or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))

    def expired(self, now: datetime.datetime | None = None) -> MessageQuerySet:
        """Messages whose expiry has passed: they will never be shown."""
        return self.filter(expires_at__lte=now or timezone.now())

    def deliverable(self, now: datetime.datetime | None = None) -> MessageQuerySet:
        """Messages the next ``get_messages`` would show, oldest first."""
        return self.pending().unexpired(now).order_by("pk")

    def delivered_before(self, cutoff: datetime.datetime) -> MessageQuerySet:
        """Delivered or acknowledged messages whose delivery is older than ``cutoff``."""
        return self.filter(delivered_at__lt=cutoff)

    def purgeable(self, cutoff: datetime.datetime, now: datetime.datetime) -> MessageQuerySet:
        """Messages never to be shown again: delivered before ``cutoff``, or expired by ``now``."""
        return self.filter(models.Q(delivered_at__lt=cutoff) | models.Q(expires_at__lte=now))

    def with_state(
        self, *states: MessageState | str, now: datetime.datetime | None = None
    ) -> MessageQuerySet:
        """Messages in any of ``states`` (``MessageState`` members or their values) at ``now``."""
        now = now or timezone.now()
        wanted = distinct_states(states)
        condition = models.Q(pk__in=[])
        for member in wanted:
            condition |= _state_condition(member, now)
        return self.filter(condition)

    def in_categories(self, categories: Iterable[str]) -> MessageQuerySet:
        """Messages in any of ``categories`` (names; ``""`` is the messages of no category)."""
        return self.filter(category__in=list(categories))

    def count_by_category(self) -> dict[str, int]:
        """How many messages of this queryset each category has, in one GROUP BY query.

        Categories without messages are left out.
        """
        rows = self.order_by().values_list("category").annotate(count=models.Count("pk"))
        return dict(rows)

    def history(self) -> MessageQuerySet:
        """Every stored message in this queryset, newest first, as an inbox lists them."""
        return self.order_by("-pk")

    def before(self, pk: int) -> MessageQuerySet:
        """Messages older than the message ``pk``: the next page of a ``history()``."""
        return self.filter(pk__lt=pk)

    def acknowledge(self, now: datetime.datetime | None = None) -> int:
        """Mark the pending messages in this queryset acknowledged; return how many changed.

        They are no longer pending (``delivered_at``, as django-user-messages 1.1 wrote it)
        and ``acknowledged_at`` records when.
        """
        now = now or timezone.now()
        return self.pending().update(delivered_at=now, acknowledged_at=now)

    def archived(self) -> MessageQuerySet:
        """Messages the user removed from their inbox (``archive``)."""
        return self.filter(archived_at__isnull=False)

    def not_archived(self) -> MessageQuerySet:
        """Messages still in the user's inbox: never archived, or unarchived since."""
        return self.filter(archived_at__isnull=True)

    def with_archived(self, archived: bool | None) -> MessageQuerySet:
        """``not_archived()`` for False, ``archived()`` for True, this queryset for None."""
        if archived is None:
            return self
        return self.archived() if archived else self.not_archived()

    def archive(self, now: datetime.datetime | None = None) -> int:
        """Archive the messages in this queryset not archived yet; return how many changed.

        Archiving a message that would still be shown acknowledges it in the same statement, so
        it stops showing and counting; an expired one stays expired.
        """
        now = now or timezone.now()
        return self.not_archived().update(**_archive_assignments(now))

    def archive_returning(self, now: datetime.datetime | None = None) -> list[int]:
        """Archive the messages in this queryset; return the ids of all of them.

        Messages archived before keep their time and are in the result, so archiving is
        idempotent. One UPDATE ... RETURNING where the backend has it (PostgreSQL, SQLite
        3.35+); elsewhere (MariaDB, MySQL) a SELECT of the ids, then the UPDATE.
        """
        now = now or timezone.now()
        return self._update_returning_pks(_archive_assignments(now))

    def unarchive_returning(self) -> list[int]:
        """Put the messages in this queryset back in the inbox; return the ids of all of them.

        What archiving acknowledged stays acknowledged: an unarchived message is history, not
        news. Costs what ``archive_returning`` costs.
        """
        return self._update_returning_pks({"archived_at": None})

    def _update_returning_pks(self, values: dict[str, Any]) -> list[int]:
        """``update(**values)`` on this queryset's rows; the ids of the rows it matched."""
        queryset = self.using(self._write_db()).order_by()
        connection = connections[queryset.db]
        if not _supports_update_returning(connection):
            pks = list(queryset.values_list("pk", flat=True))
            if pks:
                Message._default_manager.using(queryset.db).filter(pk__in=pks).update(**values)
            return pks
        # The ORM writes the UPDATE; RETURNING, which update() cannot ask for, names the rows.
        query = cast("UpdateQuery", queryset.query.chain(UpdateQuery))
        query.add_update_values(values)
        sql, params = query.get_compiler(queryset.db).as_sql()
        if not sql:
            return []
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} RETURNING {qn(str(Message._meta.pk.column))}", params)
            return [row[0] for row in cursor.fetchall()]

    def mark_delivered(self, now: datetime.datetime | None = None) -> int:
        """The name ``acknowledge()`` had before 2.0: marking done is acknowledging."""
        return self.acknowledge(now)

    def _write_db(self) -> str:
        # An explicit .using() wins; otherwise where the router sends writes.
        return self._db or router.db_for_write(self.model)  # type: ignore[attr-defined]

    def deliver(
        self, now: datetime.datetime | None = None, *, limit: int | None = None
    ) -> list[Message]:
        """Return the deliverable messages in this queryset and claim the deliver-once ones.

        Exactly once holds under concurrency: a deliver-once message is returned only by the
        call whose conditional UPDATE changed its row. Costs one query when nothing needs to be
        claimed and two when something does, whatever the number of messages. With ``limit``,
        only the oldest ``limit`` messages are returned; the rest stay pending for the next call.
        """
        now = now or timezone.now()
        # Reading and claiming both happen where writes go: a replica could still show rows
        # that another reader has claimed, or that the user has acknowledged.
        queryset = self.using(self._write_db())

        def deliverable(lock: bool) -> list[Message]:
            selected = queryset.deliverable(now)
            return list((selected.select_for_update() if lock else selected)[:limit])

        return _deliver(connections[queryset.db], deliverable, now)

    def deliver_to(
        self, user: Any, *, limit: int | None, now: datetime.datetime | None = None
    ) -> list[Message]:
        """``for_user(user).deliver(limit=limit)``, its SELECT compiled once per connection.

        Call it on ``Message.objects``: it reads all of the user's messages, whatever this
        queryset filters. See ``deliver_to`` (the module function) for how it is fast.
        """
        if self.query.where:
            raise TypeError(
                "deliver_to() reads all of a user's messages and would ignore this queryset's "
                "filters; call Message.objects.deliver_to(), or deliver() on the filtered queryset."
            )
        return deliver_to(user, limit=limit, now=now, using=self._write_db())

    def insert_for_users(self, users: models.QuerySet[Any], fields: dict[str, Any]) -> int:
        """Store one message with ``fields`` for each user of ``users``; return how many.

        One INSERT ... SELECT: the user rows never leave the database and no Message object
        is built per recipient, which is what makes a broadcast to thousands cheap. Users who
        turned the message's category off are left out by the same statement.
        """
        alias = self._write_db()
        connection = connections[alias]
        try:
            recipients_sql, recipients_params = (
                users.order_by().values("pk").query.get_compiler(using=alias).as_sql()
            )
        except EmptyResultSet:  # users.none(), or a filter Django knows matches nothing
            return 0
        insert, params = _insert_select(connection, self.model(**fields))
        wanted, wanted_params = _wanted_condition(connection, fields.get("category", ""))
        with connection.cursor() as cursor:
            cursor.execute(
                f"{insert} IN ({recipients_sql}){wanted}",
                [*params, *recipients_params, *wanted_params],
            )
            return int(cursor.rowcount)

    def create_for_user(self, user_id: Any, fields: dict[str, Any]) -> Message | None:
        """Store a message with ``fields`` for the user ``user_id``; None if there is none.

        Nor is anything stored (None again) when the user turned the message's category off.

        Where the backend can return columns from an INSERT (PostgreSQL, SQLite 3.35+, MariaDB
        10.5+), this is one INSERT ... SELECT ... RETURNING: the statement that writes is the
        one that finds the user, so an unknown id writes nothing and the user is never loaded.
        Sends ``pre_save`` and ``post_save`` like ``create()``.
        """
        alias = self._write_db()
        connection = connections[alias]
        message = self.model(user_id=user_id, **fields)
        user_pk = _user_pk_field()
        if not connection.features.can_return_columns_from_insert:
            users = user_pk.model._default_manager.using(alias)
            if not users.filter(pk=user_id).exists():
                return None
            if not _wants(alias, user_id, message.category):
                return None
            message.save(using=alias, force_insert=True)
            return message
        # As Model.save() would: receivers written for django-user-messages keep working.
        signals.pre_save.send(
            sender=self.model, instance=message, raw=False, using=alias, update_fields=None
        )
        insert, params = _insert_select(connection, message)
        wanted, wanted_params = _wanted_condition(connection, message.category)
        # Django 6 renamed return_insert_columns() to returning_columns(); the stubs know neither.
        ops: Any = connection.ops
        returning_columns = getattr(ops, "returning_columns", None) or ops.return_insert_columns
        returning, _ = returning_columns([self.model._meta.pk])
        with connection.cursor() as cursor:
            cursor.execute(
                f"{insert} = %s{wanted} {returning}",
                [*params, user_pk.get_db_prep_value(user_id, connection), *wanted_params],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        message.pk = row[0]
        message._state.adding = False
        message._state.db = alias
        signals.post_save.send(
            sender=self.model,
            instance=message,
            created=True,
            update_fields=None,
            raw=False,
            using=alias,
        )
        return message


def _archive_assignments(now: datetime.datetime) -> dict[str, Any]:
    """The SET clause of archiving: acknowledge what would still be shown, record when.

    ``acknowledged_at`` comes before ``delivered_at``: MariaDB and MySQL assign from left to
    right, each assignment seeing the ones before it, and both conditions read the row as it was.
    """
    showing = models.Q(delivered_at__isnull=True) & (
        models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
    )
    return {
        "acknowledged_at": models.Case(
            models.When(showing, then=models.Value(now)), default=models.F("acknowledged_at")
        ),
        "delivered_at": models.Case(
            models.When(showing, then=models.Value(now)), default=models.F("delivered_at")
        ),
        "archived_at": Coalesce("archived_at", models.Value(now)),
    }


def _user_pk_field() -> models.Field[Any, Any]:
    """The primary key of the user model messages point to."""
    user = cast("models.ForeignKey[Any, Any]", Message._meta.get_field("user"))
    return user.target_field


def _insert_select(connection: BaseDatabaseWrapper, template: Message) -> tuple[str, list[Any]]:
    """``INSERT ... SELECT`` of ``template``'s values for users, up to the users' primary key.

    The caller completes the statement with the condition on that key (``= %s``, ``IN (...)``).
    """
    statement = _insert_statements.get(connection)
    if statement is None:
        statement = _insert_statements[connection] = _build_insert_select(connection)
    sql, fields = statement
    params = [
        field.get_db_prep_save(field.pre_save(template, add=True), connection) for field in fields
    ]
    return sql, params


def _build_insert_select(
    connection: BaseDatabaseWrapper,
) -> tuple[str, list[models.Field[Any, Any]]]:
    qn = connection.ops.quote_name
    meta = Message._meta
    user_pk = _user_pk_field()
    recipient_pk = f"recipient.{qn(str(user_pk.column))}"
    columns, values, fields = [], [], []
    for field in meta.concrete_fields:
        if field.primary_key or field.name in _UNSET_ON_INSERT:
            continue
        columns.append(qn(str(field.column)))
        if field.name == "user":
            values.append(recipient_pk)
        else:
            values.append("%s")
            fields.append(field)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {qn(user_pk.model._meta.db_table)} recipient "
        f"WHERE {recipient_pk}"
    )
    return sql, fields


def _wanted_condition(connection: BaseDatabaseWrapper, category: str) -> tuple[str, list[Any]]:
    """The SQL after ``_insert_select``'s condition that leaves out users who do not want
    messages of ``category``: a NOT EXISTS on the preferences (an EXISTS for a category that
    is off by default). Nothing for no category, which nobody can turn off."""
    from user_messages.categories import declared

    if not category:
        return "", []
    declaration = declared().get(category)
    default = True if declaration is None else declaration.default
    if declaration is not None and declaration.critical:
        return "", []
    qn = connection.ops.quote_name
    meta = MessagePreference._meta

    def column(name: str) -> str:
        return qn(str(cast("models.Field[Any, Any]", meta.get_field(name)).column))

    recipient_pk = f"recipient.{qn(str(_user_pk_field().column))}"
    # Default on: a row saying "off" excludes the user. Default off: only a row saying "on"
    # lets the user in.
    sql = (
        f" AND {'NOT ' if default else ''}EXISTS (SELECT 1 FROM {qn(meta.db_table)} preference "
        f"WHERE preference.{column('user')} = {recipient_pk} "
        f"AND preference.{column('category')} = %s AND preference.{column('enabled')} = %s)"
    )
    return sql, [category, not default]


def _wants(alias: str, user_id: Any, category: str) -> bool:
    """Whether the user ``user_id`` gets messages of ``category`` (the condition, in Python)."""
    from user_messages.categories import declared

    declaration = declared().get(category) if category else None
    if declaration is None or declaration.critical:
        return True
    choice = (
        MessagePreference._default_manager.using(alias)
        .filter(user_id=user_id, category=category)
        .values_list("enabled", flat=True)
        .first()
    )
    return declaration.default if choice is None else choice


#: Columns a new message leaves NULL: what happened to it since.
_UNSET_ON_INSERT = frozenset({"delivered_at", "seen_at", "acknowledged_at", "archived_at"})

#: The text of ``_insert_select`` per connection: it depends on the backend and the models only.
_insert_statements: weakref.WeakKeyDictionary[
    BaseDatabaseWrapper, tuple[str, list[models.Field[Any, Any]]]
] = weakref.WeakKeyDictionary()


def _deliver(
    connection: BaseDatabaseWrapper,
    deliverable: Callable[[bool], list[Message]],
    now: datetime.datetime,
) -> list[Message]:
    """The delivery rule: what ``deliverable(lock)`` reads on ``connection``, claimed once."""
    alias = connection.alias
    if _supports_update_returning(connection):
        # A plain read, then one UPDATE ... RETURNING that claims the deliver-once rows
        # still pending and records when sticky ones were first seen. A concurrent reader that
        # claimed a row first makes our UPDATE skip it, and RETURNING tells us so, with no lock
        # held across the two statements. Sticky rows already seen need no write at all.
        messages = deliverable(False)
        if not messages:  # the common case: one statement, nothing more to do
            return messages
        marked = _to_mark(messages)
        if not marked:
            return messages
        claimed = _claim(connection, marked, now)
        shown = []
        for message in messages:
            if message.deliver_once:
                if message.pk not in claimed:
                    continue
                message.delivered_at = now
            if message.seen_at is None and message.pk in claimed:
                message.seen_at = now
            shown.append(message)
        return shown
    # Without UPDATE ... RETURNING (MariaDB, MySQL) we lock the pending rows while we read
    # them. A concurrent reader waits for our commit and its locking read then sees the
    # rows delivered. Under READ COMMITTED (Django's default on MySQL) this takes no gap
    # locks, so senders are never blocked. Two readers of one user can still lock the same
    # rows through different indexes and deadlock; InnoDB then rolls one back entirely, so
    # when the transaction is ours alone, reading again is safe.
    attempts = 1 if connection.in_atomic_block else 3
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(using=alias, savepoint=False):
                messages = deliverable(True)
                marked = _to_mark(messages)
                if marked:
                    for message in messages:
                        if message.deliver_once:
                            message.delivered_at = now
                        if message.seen_at is None:
                            message.seen_at = now
                    Message._default_manager.using(alias).filter(pk__in=marked).update(
                        **_claim_assignments(now)
                    )
            return messages
        except OperationalError as error:
            if attempt == attempts or error.args[:1] != (_MYSQL_DEADLOCK,):
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


#: PostgreSQL's deadlock_detected: the statement was rolled back; it may be retried.
_POSTGRESQL_DEADLOCK = "40P01"


def _claim(connection: BaseDatabaseWrapper, pks: list[int], now: datetime.datetime) -> set[int]:
    """``_claim_returning``, again when PostgreSQL chose the claim as a deadlock victim.

    Two readers of one user may update the same rows in different physical orders (a row's
    newer version moves), and PostgreSQL then cancels one UPDATE. It wrote nothing, so when the
    statement is its own transaction, claiming again is exactly once: it takes only what is
    still pending. Inside the caller's transaction, the whole transaction is lost: theirs to redo.
    """
    attempts = 1 if connection.in_atomic_block else 3
    for attempt in range(1, attempts + 1):
        try:
            return _claim_returning(connection.alias, pks, now)
        except OperationalError as error:
            deadlock = getattr(error.__cause__, "sqlstate", None) == _POSTGRESQL_DEADLOCK
            if attempt == attempts or not deadlock:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _to_mark(messages: list[Message]) -> list[int]:
    """What a consuming read writes to: deliver-once messages and sticky ones never seen."""
    return [m.pk for m in messages if m.deliver_once or m.seen_at is None]


def _claim_assignments(now: datetime.datetime) -> dict[str, Any]:
    """The claim's SET clause as ORM expressions: what ``_claim_returning`` writes in SQL."""
    return {
        "delivered_at": models.Case(
            models.When(deliver_once=True, then=models.Value(now)),
            default=models.F("delivered_at"),
        ),
        "seen_at": Coalesce("seen_at", models.Value(now)),
    }


#: MySQL/MariaDB's ER_LOCK_DEADLOCK: the transaction was rolled back; it may be retried.
_MYSQL_DEADLOCK = 1213


def deliver_to(
    user: Any,
    *,
    limit: int | None,
    now: datetime.datetime | None = None,
    using: str | None = None,
) -> list[Message]:
    """What ``get_messages`` shows of ``user``: ``Message.objects.for_user(user).deliver()``.

    The read of every page view, so it skips building a QuerySet: the ORM compiles the SELECT
    the first time on each connection and later calls reuse its SQL with the new user and time
    (see ``_HotSelect``). Runs where the router sends writes unless ``using`` says otherwise.
    """
    # The ORM's preparation (a naive time made aware, with its warning) once, here.
    now = timezone.now() if now is None else _compared_field("expires_at").get_prep_value(now)
    connection = connections[using or router.db_for_write(Message)]
    user_id = user.pk if isinstance(user, models.Model) else user

    def deliverable(lock: bool) -> list[Message]:
        return _HotSelect.run(connection, user_id, now, limit, lock=lock)

    return _deliver(connection, deliverable, now)


def _claim_returning(alias: str, pks: Iterable[int], now: datetime.datetime) -> set[int]:
    """Claim the deliver-once rows among ``pks`` and mark all of them seen; return which changed.

    Rows no longer pending are left alone: a deliver-once row another reader claimed first is
    not in the result, so it is not shown twice.
    """
    connection = connections[alias]
    statement = _claim_statements.get(connection)
    if statement is None:
        statement = _claim_statements[connection] = _build_claim(connection)
    head, tail = statement
    pks = list(pks)
    value = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(f"{head}{', '.join(['%s'] * len(pks))}{tail}", [value, value, *pks])
        return {row[0] for row in cursor.fetchall()}


def _build_claim(connection: BaseDatabaseWrapper) -> tuple[str, str]:
    """``_claim_returning``'s statement, up to and after its list of primary keys."""
    # The ORM's update() only returns a count, which cannot tell whose rows a concurrent
    # reader took. This statement is the conditional update of the ORM plus RETURNING. Sticky
    # rows keep delivered_at NULL (they stay pending); COALESCE keeps the first time seen.
    qn = connection.ops.quote_name
    meta = Message._meta

    def column(name: str) -> str:
        return qn(str(cast("models.Field[Any, Any]", meta.get_field(name)).column))

    pk, delivered_at, seen_at = column("id"), column("delivered_at"), column("seen_at")
    head = (
        f"UPDATE {qn(meta.db_table)} SET "
        f"{delivered_at} = CASE WHEN {column('deliver_once')} THEN %s ELSE {delivered_at} END, "
        f"{seen_at} = COALESCE({seen_at}, %s) "
        f"WHERE {pk} IN ("
    )
    return head, f") AND {delivered_at} IS NULL RETURNING {pk}"


#: The text of ``_claim_returning`` per connection, built once: it depends on the backend and
#: the model only, and every delivering read runs it.
_claim_statements: weakref.WeakKeyDictionary[BaseDatabaseWrapper, tuple[str, str]] = (
    weakref.WeakKeyDictionary()
)


def _db_value(field_name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    """``value`` as the ORM passes it to the driver in a lookup on ``field_name``."""
    target = _compared_field(field_name)
    return target.get_db_prep_value(target.get_prep_value(value), connection, prepared=True)


@functools.cache
def _compared_field(field_name: str) -> models.Field[Any, Any]:
    # A foreign key compares its target's value. Cached: a page view asks twice.
    field = Message._meta.get_field(field_name)
    return cast("models.Field[Any, Any]", getattr(field, "target_field", field))


@dataclass(frozen=True)
class _HotSelect:
    """The deliverable SELECT of one user as the ORM compiled it, to run again with new values.

    Building the query (filters, Q objects, the compiler) costs several times what the database
    needs to answer it. The ORM compiles it once per connection (each thread has its own), limit
    and lock; later reads put the new user id and time in place of the first ones. The SQL stays
    the ORM's: tests compare it with a fresh compile on every backend. The ORM's converters
    (JSON ``meta``, aware datetimes) are applied to each row as ``list(queryset)`` would.
    """

    sql: str
    params: tuple[Any, ...]
    user_at: int
    now_at: int
    attnames: tuple[str, ...]
    fields: slice
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]

    #: Per connection, keyed by (limit, lock). Cleared when a setting changes (override_settings
    #: of USE_TZ, TIME_ZONE, DATABASES ... in tests), so no stale SQL is ever served.
    cache: ClassVar[
        weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[Any, _HotSelect | None]]
    ] = weakref.WeakKeyDictionary()

    @classmethod
    def run(
        cls,
        connection: BaseDatabaseWrapper,
        user_id: Any,
        now: datetime.datetime,
        limit: int | None,
        *,
        lock: bool,
    ) -> list[Message]:
        """The deliverable messages of ``user_id`` at ``now``, oldest first, at most ``limit``."""
        statements = cls.cache.get(connection)
        if statements is None:
            statements = cls.cache[connection] = {}
        key = (limit, lock)
        if key not in statements:
            statements[key] = cls.compile(connection.alias, user_id, now, limit, lock=lock)
        statement = statements[key]
        if statement is None:  # the ORM's SQL has a shape we do not know how to reuse
            return list(cls.queryset(connection.alias, user_id, now, limit, lock=lock))
        return statement.execute(connection, user_id, now)

    @staticmethod
    def queryset(
        alias: str, user_id: Any, now: datetime.datetime, limit: int | None, *, lock: bool
    ) -> models.QuerySet[Message]:
        """The QuerySet whose SQL is reused: what ``deliver()`` runs for one user."""
        queryset = Message.objects.using(alias).for_user(user_id).deliverable(now)
        return (queryset.select_for_update() if lock else queryset)[:limit]

    @classmethod
    def compile(
        cls, alias: str, user_id: Any, now: datetime.datetime, limit: int | None, *, lock: bool
    ) -> _HotSelect | None:
        """Let the ORM compile the SELECT and find where the user id and the time go."""
        compiler = cls.queryset(alias, user_id, now, limit, lock=lock).query.get_compiler(alias)
        sql, params = compiler.as_sql()
        connection = compiler.connection
        positions = {}
        for name, value in (("user", user_id), ("expires_at", now)):
            prepared = _db_value(name, value, connection)
            matches = [i for i, param in enumerate(params) if _same(param, prepared)]
            if len(matches) != 1:
                return None
            positions[name] = matches[0]
        if len(params) != len(positions):
            return None
        select_fields = compiler.klass_info["select_fields"]
        fields = slice(select_fields[0], select_fields[-1] + 1)
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        return cls(
            sql=sql,
            params=tuple(params),
            user_at=positions["user"],
            now_at=positions["expires_at"],
            attnames=tuple(column.target.attname for column, _, _ in compiler.select[fields]),
            fields=fields,
            converters=tuple(
                (i, tuple(c), expression) for i, (c, expression) in converters.items()
            ),
        )

    def parameters(
        self, connection: BaseDatabaseWrapper, user_id: Any, now: datetime.datetime
    ) -> list[Any]:
        """The statement's parameters for another user and time (``now`` already prepared)."""
        params = list(self.params)
        params[self.user_at] = _db_value("user", user_id, connection)
        params[self.now_at] = _compared_field("expires_at").get_db_prep_value(
            now, connection, prepared=True
        )
        return params

    def execute(
        self, connection: BaseDatabaseWrapper, user_id: Any, now: datetime.datetime
    ) -> list[Message]:
        """Run the statement; build the messages as the ORM's iterable would."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.parameters(connection, user_id, now))
            rows = cursor.fetchall()
        messages = []
        for row in rows:
            if self.converters:
                row = list(row)
                for position, converters, expression in self.converters:
                    value = row[position]
                    for convert in converters:
                        value = convert(value, expression, connection)
                    row[position] = value
            messages.append(Message.from_db(connection.alias, self.attnames, row[self.fields]))
        return messages


def _same(param: Any, prepared: Any) -> bool:
    # A bool equals 1 in Python; only a parameter of the same type can be the one we look for.
    return type(param) is type(prepared) and param == prepared


def _forget_hot_statements(**kwargs: Any) -> None:
    _HotSelect.cache.clear()
    _insert_statements.clear()
    _claim_statements.clear()


setting_changed.connect(_forget_hot_statements, dispatch_uid="user_messages_hot_statements")


class Message(models.Model):
    """A message stored for one user, shown the next time that user is seen."""

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), blank=True, null=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        verbose_name=_("user"),
        related_name="+",
        # The index user_delivered_at starts with user_id and serves every lookup by user;
        # a second index on user_id alone only slowed inserts (a third of a broadcast's time).
        db_index=False,
    )
    level = models.IntegerField(_("level"))
    message = models.TextField(_("message"))
    extra_tags = models.TextField(_("extra tags"), blank=True)
    meta = models.JSONField(_("meta data"), default=dict, blank=True)
    deliver_once = models.BooleanField(_("deliver once"), default=True)
    expires_at = models.DateTimeField(_("expires at"), blank=True, null=True)
    # delivered_at keeps its 1.1 meaning, "no longer pending"; these two say what happened.
    seen_at = models.DateTimeField(_("seen at"), blank=True, null=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), blank=True, null=True)
    # A name declared in USER_MESSAGES["CATEGORIES"]; "" is none, as on every row older than it.
    category = models.CharField(_("category"), max_length=64, blank=True, default="")
    # When the user removed it from their inbox (None: it is in the inbox). Not a state: an
    # archived message is still pending, delivered, acknowledged or expired.
    archived_at = models.DateTimeField(_("archived at"), blank=True, null=True)
    # Buttons shown with the message: a list of {"label": ..., "url": ...} dicts, checked by
    # validation.actions when sent; [] on every row older than it.
    actions = models.JSONField(_("actions"), default=list, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        indexes = [
            # django-user-messages 1.1 declared this as an expression index, which Django
            # silently skips on MariaDB; a plain index on the columns exists everywhere.
            models.Index(fields=["user", "delivered_at"], name="user_delivered_at"),
            # A user's history, newest first, a page at a time (id < cursor): user_delivered_at
            # orders a user's rows by delivered_at first, so it would need a sort.
            models.Index(fields=["user", "id"], name="user_history"),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        # Templates print a message with {{ message }}, as they do Django's own messages.
        return self.message

    def state_at(self, now: datetime.datetime) -> MessageState:
        """The message's state at ``now``: the same rule as ``with_state()``, in Python."""
        if self.delivered_at is None:
            if self.expires_at is not None and self.expires_at <= now:
                return MessageState.EXPIRED
            return MessageState.PENDING
        if self.acknowledged_at is not None or not self.deliver_once:
            return MessageState.ACKNOWLEDGED
        return MessageState.DELIVERED

    @property
    def state(self) -> MessageState:
        """The message's state now (see ``MessageState``)."""
        return self.state_at(timezone.now())

    @property
    def level_tag(self) -> str:
        """The level's tag (``info``, ``error`` ...), honouring ``MESSAGE_TAGS``."""
        # Read through the module: Django rebinds LEVEL_TAGS when MESSAGE_TAGS changes.
        return str(message_storage.LEVEL_TAGS.get(self.level, ""))

    @property
    def tags(self) -> str:
        """Extra tags followed by the level tag, as on Django's messages."""
        return " ".join(tag for tag in (self.extra_tags, self.level_tag) if tag)


class MessagePreference(models.Model):
    """A user's choice for one category, stored only where it differs from the default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        verbose_name=_("user"),
        related_name="+",
        # The unique constraint starts with user_id and serves every lookup by user.
        db_index=False,
    )
    category = models.CharField(_("category"), max_length=64)
    enabled = models.BooleanField(_("enabled"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "category"], name="user_messages_one_preference"
            )
        ]
        verbose_name = _("message preference")
        verbose_name_plural = _("message preferences")

    def __str__(self) -> str:
        return f"{self.category}: {'on' if self.enabled else 'off'}"
