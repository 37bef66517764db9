"""The public Python API: send messages to users, read them back, acknowledge them."""

from __future__ import annotations

import asyncio
import datetime
import functools
import itertools
import os
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeGuard, TypeVar, cast, overload

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.messages import api as django_messages
from django.contrib.messages import constants
from django.core.exceptions import SynchronousOnlyOperation
from django.db import models, router, transaction
from django.http import HttpRequest
from django.utils import timezone

from user_messages import cache, validation
from user_messages.categories import declared as declared_categories
from user_messages.conf import conf
from user_messages.signals import _committed_for_async, asend_changed, changed_after_commit

if TYPE_CHECKING:
    from user_messages.models import Message, MessageQuerySet, MessageState

__all__ = [
    "HistoryPage",
    "LazyList",
    "Preference",
    "aacknowledge",
    "aacknowledge_all",
    "aacknowledge_owned",
    "aadd_message",
    "aarchive",
    "aarchive_all",
    "acknowledge",
    "acknowledge_all",
    "acknowledge_owned",
    "add_message",
    "adebug",
    "aerror",
    "aget_messages",
    "ahistory_page",
    "ainfo",
    "apeek_messages",
    "apending_count",
    "apending_counts",
    "apreferences",
    "archive",
    "archive_all",
    "aset_preferences",
    "asuccess",
    "aunarchive",
    "awarning",
    "debug",
    "error",
    "get_messages",
    "history",
    "history_page",
    "info",
    "peek_messages",
    "pending_count",
    "pending_counts",
    "preferences",
    "set_preferences",
    "success",
    "unarchive",
    "warning",
]

#: A recipient: a user instance or a user's primary key (the user need not be loaded).
User = models.Model | int | str | uuid.UUID
#: Many recipients: a QuerySet of users, or a collection of users or primary keys.
Users = models.QuerySet[Any] | list[User] | tuple[User, ...] | set[User] | frozenset[User]

BATCH_SIZE = 1000

P = ParamSpec("P")
R = TypeVar("R")


def _refuse_in_event_loop(name: str, twin: str) -> None:
    """Refuse to run in an event loop's thread, naming the ``a`` twin to await instead.

    The database would refuse a moment later (Django's own guard) without saying what to call;
    this fails before any work, as Django's guard does, and names the way out. Django's escape
    hatch for notebooks (DJANGO_ALLOW_ASYNC_UNSAFE) applies here too.
    """
    # Every page view's read passes here: asking for the loop without the RuntimeError that
    # get_running_loop() raises outside one, and reading the environment only inside a loop,
    # costs a tenth of what the two exceptions did (os.environ.get raises KeyError inside).
    if asyncio._get_running_loop() is None or os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
        return
    raise SynchronousOnlyOperation(
        f"user_messages.api.{name}() cannot be called from an async context: "
        f"use `await user_messages.api.{twin}(...)` instead."
    )


def _in_thread(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async twin of ``func``: the whole call in ONE thread-sensitive ``sync_to_async``.

    For units that need one connection (a transaction, the claim): a hop per statement would
    switch threads each time, and a transaction must not span them. Changes the unit commits
    at once (autocommit) are announced here with ``messages_changed.asend``; inside a
    transaction they wait for its commit, as the sync function's do.
    """
    unit = sync_to_async(func, thread_sensitive=True)

    @functools.wraps(func)
    async def twin(*args: P.args, **kwargs: P.kwargs) -> R:
        committed: list[list[Any] | None] = []
        token = _committed_for_async.set(committed)
        try:
            return await unit(*args, **kwargs)
        finally:
            _committed_for_async.reset(token)
            # What committed is announced even when the unit failed later, as on_commit would.
            await asend_changed(committed)

    twin.__name__ = twin.__qualname__ = f"a{func.__name__}"
    twin.__doc__ = f"The async twin of ``{func.__name__}``: same arguments, same result."
    return twin


@overload
def add_message(
    user: User,
    level: int,
    message: str,
    extra_tags: str = "",
    *,
    deliver_once: bool = True,
    meta: dict[str, Any] | None = None,
    expires_at: datetime.datetime | None = None,
    category: str = "",
    actions: Sequence[dict[str, str]] | None = None,
) -> Message | None: ...


@overload
def add_message(
    user: Users,
    level: int,
    message: str,
    extra_tags: str = "",
    *,
    deliver_once: bool = True,
    meta: dict[str, Any] | None = None,
    expires_at: datetime.datetime | None = None,
    category: str = "",
    actions: Sequence[dict[str, str]] | None = None,
) -> int: ...


def add_message(
    user: User | Users,
    level: int,
    message: str,
    extra_tags: str = "",
    *,
    deliver_once: bool = True,
    meta: dict[str, Any] | None = None,
    expires_at: datetime.datetime | None = None,
    category: str = "",
    actions: Sequence[dict[str, str]] | None = None,
) -> Message | int | None:
    """Store a message for one user (returns it) or for many users (returns how many).

    ``category`` is ``""`` (none) or a name declared in ``USER_MESSAGES["CATEGORIES"]``;
    any other raises ``ValueError`` before anything is stored. Users who turned the category
    off get nothing: a one-user send returns None, a broadcast does not count them.
    ``actions`` are the message's buttons, at most ``USER_MESSAGES["MAX_ACTIONS"]`` dicts such
    as ``{"label": "Pay now", "url": "/billing/pay/"}``; bad ones raise ``ValueError``
    (``validation.InvalidInput``) before anything is stored.
    """
    _refuse_in_event_loop("add_message", "aadd_message")
    fields = {
        "level": validation.level(level),
        "message": validation.text(message, field="message"),
        "extra_tags": validation.text(extra_tags, field="extra_tags", allow_empty=True),
        "deliver_once": validation.boolean(deliver_once, field="deliver_once"),
        "meta": validation.meta(meta),
        "expires_at": validation.expires_at(expires_at),
        "category": validation.category(category),
        "actions": validation.actions(actions),
    }

    if isinstance(user, models.Model):
        if user.pk is None:
            raise ValueError(f"Cannot send a message to the unsaved user {user!r}.")
        return _send_to_one(user.pk, fields)
    if _is_single_pk(user):
        (user_id,) = _user_ids([user])
        return _send_to_one(user_id, fields)
    return _broadcast(cast("Users", user), fields)


def _send_to_one(user_id: Any, fields: dict[str, Any]) -> Message | None:
    from user_messages.models import Message

    # One statement that writes only if the user exists and wants the category (see
    # create_for_user). The id has been through validation.user_id, so it fits every column.
    stored = Message.objects.create_for_user(user_id, fields)
    if stored is None:
        if fields["category"] and get_user_model()._default_manager.filter(pk=user_id).exists():
            return None  # the user turned the category off
        raise ValueError(f"There is no user with id {user_id!r}.")
    changed_after_commit([user_id], using=stored._state.db)
    return stored


def _broadcast(users: Users, fields: dict[str, Any]) -> int:
    from user_messages.models import Message

    user_model = get_user_model()
    messages = Message.objects.db_manager(router.db_for_write(Message))
    # One transaction: a failure halfway leaves no message of the broadcast behind.
    with transaction.atomic(using=messages.db):
        if isinstance(users, models.QuerySet):
            if not issubclass(users.model, user_model):
                raise TypeError(
                    f"Recipients must be a QuerySet of {user_model._meta.label}, "
                    f"got a QuerySet of {users.model._meta.label}."
                )
            created = messages.insert_for_users(users, fields)
            announced: list[Any] | None = None  # unknown without reading them: everyone
        elif isinstance(users, Iterable) and not isinstance(users, (str, bytes)):
            user_ids = _user_ids(users)
            created = 0
            for batch in _batched(user_ids, BATCH_SIZE):
                recipients = user_model._default_manager.filter(pk__in=batch)
                created += messages.insert_for_users(recipients, fields)
            # Fewer rows than ids: unknown ids, or users who turned the category off.
            missing = _missing_user_ids(user_ids) if created != len(user_ids) else []
            if missing:
                # Raising rolls back what the batches inserted.
                raise ValueError(f"There are no users with ids {missing!r}; nothing was sent.")
            announced = user_ids
        else:
            raise TypeError(
                "Pass a user, a user's primary key, a list of them or a QuerySet of users, "
                f"got {users!r}."
            )
        if created:
            changed_after_commit(announced, using=messages.db)
    return created


def _is_single_pk(value: object) -> TypeGuard[int | str | uuid.UUID]:
    return isinstance(value, (int, str, uuid.UUID)) and not isinstance(value, bool)


def _user_ids(users: Iterable[User]) -> list[Any]:
    """The recipients' primary keys, in order and without repeats (not checked to exist)."""
    user_model = get_user_model()
    ids: dict[Any, None] = {}
    for user in users:
        value: Any
        if isinstance(user, models.Model):
            if not isinstance(user, user_model):
                raise TypeError(
                    f"Recipients must be {user_model._meta.label} instances, got {user!r}."
                )
            value = user.pk
        elif _is_single_pk(user):
            value = user
        else:
            raise TypeError(f"A recipient must be a user or a user's primary key, got {user!r}.")
        ids[validation.user_id(value)] = None
    return list(ids)


def _missing_user_ids(user_ids: list[Any]) -> list[Any]:
    """The ids among ``user_ids`` that name no user."""
    manager = get_user_model()._default_manager
    found: set[Any] = set()
    for batch in _batched(user_ids, BATCH_SIZE):
        found.update(manager.filter(pk__in=batch).values_list("pk", flat=True))
    return [user_id for user_id in user_ids if user_id not in found]


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _shortcut(level: int, name: str) -> Callable[..., Any]:
    def send(
        user: User | Users,
        message: str,
        extra_tags: str = "",
        *,
        deliver_once: bool = True,
        meta: dict[str, Any] | None = None,
        expires_at: datetime.datetime | None = None,
        category: str = "",
        actions: Sequence[dict[str, str]] | None = None,
    ) -> Message | int | None:
        _refuse_in_event_loop(name, f"a{name}")
        # Any: mypy gives up on the overloads with this many unions among the arguments.
        return add_message(  # type: ignore[no-any-return]
            cast("Any", user),
            level,
            message,
            extra_tags,
            deliver_once=deliver_once,
            meta=meta,
            expires_at=expires_at,
            category=category,
            actions=actions,
        )

    send.__name__ = send.__qualname__ = name
    send.__doc__ = f"Store a message of level {name.upper()} (see add_message)."
    return send


debug = _shortcut(constants.DEBUG, "debug")
info = _shortcut(constants.INFO, "info")
success = _shortcut(constants.SUCCESS, "success")
warning = _shortcut(constants.WARNING, "warning")
error = _shortcut(constants.ERROR, "error")


class LazyList(Sequence[Any]):
    """A list read on first use: what ``get_messages`` and ``peek_messages`` return.

    Behaves as the list it reads (``len``, iteration, indexing, ``in``, ``==``, and list
    methods such as ``copy`` or ``append``), and ``isinstance(messages, list)`` holds. Every
    page view builds one, so it is a small class of its own: Django's ``SimpleLazyObject``
    cost ten times as much per page.
    """

    __slots__ = ("_items", "_read")

    def __init__(self, read: Callable[[], list[Any]]) -> None:
        self._read: Callable[[], list[Any]] | None = read
        self._items: list[Any] | None = None

    def _list(self) -> list[Any]:
        items = self._items
        if items is None:
            assert self._read is not None
            items = self._items = self._read()
            self._read = None  # the request and user are no longer needed
        return items

    def __len__(self) -> int:
        return len(self._list())

    def __bool__(self) -> bool:
        return bool(self._list())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())

    def __reversed__(self) -> Iterator[Any]:
        return self._list().__reversed__()

    def __contains__(self, value: object) -> bool:
        return value in self._list()

    def __getitem__(self, index: Any) -> Any:
        return self._list()[index]

    def __eq__(self, other: object) -> bool:
        return self._list() == (other._list() if isinstance(other, LazyList) else other)

    __hash__ = None  # type: ignore[assignment]  # unhashable, as a list is

    def __add__(self, other: list[Any]) -> list[Any]:
        return self._list() + other

    def __radd__(self, other: list[Any]) -> list[Any]:
        return other + self._list()

    def __repr__(self) -> str:
        return repr(self._list())

    def __reduce__(self) -> tuple[type[list[Any]], tuple[list[Any]]]:
        # copy, deepcopy and pickle give the plain list.
        return list, (self._list(),)

    @property  # type: ignore[misc]
    def __class__(self) -> type[Any]:
        # isinstance(messages, list) holds, as it did with django-user-messages' lazy list,
        # without reading: a template debugger inspecting the context consumes nothing.
        return list

    def __getattr__(self, name: str) -> Any:
        # The rest of list's interface (copy, append, sort, ...), read first as well.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._list(), name)


def get_messages(
    *,
    request: HttpRequest | None = None,
    user: User | None = None,
    categories: Iterable[str] | None = None,
) -> LazyList:
    """A lazy list: the request's django.contrib.messages, then the user's stored messages.

    Nothing runs until the list is used. Using it consumes what it shows: Django's messages
    are marked used and deliver-once messages delivered; sticky ones stay until acknowledged.
    ``categories`` (None: all) keeps the messages of those categories only, and consumes only
    them; Django's messages have no category, so they come only when ``""`` is among them.
    """
    _check_source(request, user)
    chosen = validation.categories(categories)
    return LazyList(lambda: _read(request, user, consume=True, categories=chosen))


def peek_messages(
    *,
    request: HttpRequest | None = None,
    user: User | None = None,
    categories: Iterable[str] | None = None,
) -> LazyList:
    """The lazy list ``get_messages`` would give, consuming nothing (for badges and previews)."""
    _check_source(request, user)
    chosen = validation.categories(categories)
    return LazyList(lambda: _read(request, user, consume=False, categories=chosen))


def _check_source(request: HttpRequest | None, user: User | None) -> None:
    if (request is None) == (user is None):
        raise TypeError("Pass exactly one of request= or user=.")


def _read(
    request: HttpRequest | None,
    user: User | None,
    *,
    consume: bool,
    categories: list[str] | None = None,
) -> list[Any]:
    from user_messages.models import Message, deliver_to

    if consume:
        _refuse_in_event_loop("get_messages", "aget_messages")
    else:
        _refuse_in_event_loop("peek_messages", "apeek_messages")
    messages: list[Any] = []
    recipient = user
    if request is not None and (categories is None or "" in categories):
        storage = django_messages.get_messages(request)
        was_used = getattr(storage, "used", False)
        messages.extend(storage)
        if not consume and hasattr(storage, "used"):
            # Django's documented way to keep messages after iterating them. Restoring the old
            # value keeps an earlier consuming read of the same request in force.
            storage.used = was_used
    if request is not None:
        request_user = getattr(request, "user", None)
        if request_user is not None and request_user.is_authenticated:
            recipient = request_user
    if recipient is not None and categories != []:
        user_id = _pk(recipient)
        nothing_pending, version = cache.lookup(user_id)
        if not nothing_pending:
            limit = conf.MAX_MESSAGES_PER_READ
            if consume and categories is None:
                # Every page view's read: no QuerySet is built (see deliver_to).
                stored = deliver_to(user_id, limit=limit)
            else:
                mine = Message.objects.for_user(user_id)
                if categories is not None:
                    mine = mine.in_categories(categories)
                stored = mine.deliver(limit=limit) if consume else list(mine.deliverable()[:limit])
            if consume and stored and any(message.deliver_once for message in stored):
                changed_after_commit([user_id])
            # Nothing in some categories says nothing of the others.
            if not stored and categories is None:
                cache.remember_nothing_pending(user_id, version)
            messages.extend(stored)
    return messages


def history(
    user: User, *, categories: Iterable[str] | None = None, archived: bool | None = False
) -> MessageQuerySet:
    """Every stored message of ``user``, newest first, whatever its state; consumes nothing.

    Delivered, acknowledged and expired messages stay in it until ``purge_user_messages``
    deletes them. Filter it with ``.with_state(...)``; page it with ``.before(pk)``.
    ``categories`` (None: all) keeps the messages of those categories only. ``archived``:
    False (the inbox) leaves archived messages out, True lists only them, None both.
    """
    from user_messages.models import Message

    messages = Message.objects.for_user(_pk(user)).with_archived(validation.archived(archived))
    chosen = validation.categories(categories)
    if chosen is not None:
        messages = messages.in_categories(chosen)
    return messages.history()


class HistoryPage(NamedTuple):
    """One page of a user's history: ``messages`` (newest first) and ``has_next_page``."""

    messages: list[Message]
    has_next_page: bool

    @staticmethod
    def cursor(message: Message) -> str:
        """The opaque cursor to pass as ``after`` for the messages older than ``message``."""
        return validation.make_history_cursor(message.pk)


def history_page(
    user: User,
    *,
    first: int = 20,
    after: str | None = None,
    states: Iterable[MessageState | str] | None = None,
    categories: Iterable[str] | None = None,
    archived: bool | None = False,
) -> HistoryPage:
    """A page of ``history(user)``: at most ``first`` messages older than the cursor ``after``.

    One query however deep the page (keyset on the id, never OFFSET). ``first`` may be at most
    ``USER_MESSAGES["MAX_HISTORY_PAGE"]``; a bad ``first`` or ``after`` raises
    ``validation.InvalidInput``. A cursor of another user's message only sets where the page
    starts: the page holds ``user``'s messages alone. ``states`` and ``categories`` (None: all)
    filter by state and by category; ``archived`` as in ``history``.
    """
    _refuse_in_event_loop("history_page", "ahistory_page")
    first, query = _history_page_rows(user, first, after, states, categories, archived)
    rows = list(query)
    return HistoryPage(messages=rows[:first], has_next_page=len(rows) > first)


def _history_page_rows(
    user: User,
    first: int,
    after: str | None,
    states: Iterable[MessageState | str] | None,
    categories: Iterable[str] | None,
    archived: bool | None,
) -> tuple[int, MessageQuerySet]:
    """The checked page size and the page's rows, one more than the page to tell if more follow."""
    first = validation.page_size(first, maximum=conf.MAX_HISTORY_PAGE)
    messages = history(user, categories=categories, archived=archived)
    if after is not None:
        messages = messages.before(validation.history_cursor(after))
    if states is not None:
        messages = messages.with_state(*states)
    return first, messages[: first + 1]


def _acknowledgeable(user: User, now: datetime.datetime) -> MessageQuerySet:
    # What the user would be shown: an expired message stays EXPIRED, it was never done.
    from user_messages.models import Message

    return Message.objects.for_user(user).unexpired(now)


def acknowledge(user: User, ids: Iterable[int | str]) -> int:
    """Mark these stored messages of ``user`` done; return how many changed.

    Ids of other users' messages, unknown ids, expired messages and messages already done
    are ignored.
    """
    _refuse_in_event_loop("acknowledge", "aacknowledge")
    pks = list(dict.fromkeys(_message_ids(ids)))
    now = timezone.now()
    changed = 0
    for batch in _batched(pks, BATCH_SIZE):
        changed += _acknowledgeable(user, now).filter(pk__in=batch).acknowledge(now)
    if changed:
        changed_after_commit([_pk(user)])
    return changed


def acknowledge_owned(user: User, ids: Iterable[int | str]) -> list[int]:
    """Acknowledge ``user``'s messages among ``ids``; return which ids are ``user``'s.

    The result includes messages acknowledged before, so acknowledging is idempotent; ids of
    other users' messages are left out exactly like unknown ids, so they reveal nothing.
    """
    from user_messages.models import Message

    _refuse_in_event_loop("acknowledge_owned", "aacknowledge_owned")
    pks = list(dict.fromkeys(_message_ids(ids)))
    now = timezone.now()
    found: set[int] = set()
    changed = 0
    for batch in _batched(pks, BATCH_SIZE):
        owned = Message.objects.for_user(user).filter(pk__in=batch)
        found.update(owned.values_list("pk", flat=True))
        changed += _acknowledgeable(user, now).filter(pk__in=batch).acknowledge(now)
    if changed:
        changed_after_commit([_pk(user)])
    return [pk for pk in pks if pk in found]


def acknowledge_all(user: User) -> int:
    """Mark every pending stored message of ``user`` acknowledged; return how many changed.

    The count is what ``pending_count`` said just before: expired messages stay expired.
    """
    _refuse_in_event_loop("acknowledge_all", "aacknowledge_all")
    now = timezone.now()
    changed = _acknowledgeable(user, now).acknowledge(now)
    if changed:
        changed_after_commit([_pk(user)])
    return changed


def archive(user: User, ids: Iterable[int | str]) -> list[int]:
    """Remove ``user``'s messages among ``ids`` from their inbox; return which ids are ``user``'s.

    A message that would still be shown is acknowledged too: it stops showing and counting.
    The result includes messages archived before, so archiving is idempotent; ids of other
    users' messages are left out exactly like unknown ids, so they reveal nothing. One
    statement per thousand ids (two on MariaDB and MySQL, which cannot return updated rows).
    """
    _refuse_in_event_loop("archive", "aarchive")
    now = timezone.now()
    return _owned_update(user, ids, lambda owned: owned.archive_returning(now))


def unarchive(user: User, ids: Iterable[int | str]) -> list[int]:
    """Put ``user``'s messages among ``ids`` back in their inbox; return which ids are ``user``'s.

    What archiving acknowledged stays acknowledged. Ownership and cost as in ``archive``.
    """
    _refuse_in_event_loop("unarchive", "aunarchive")
    return _owned_update(user, ids, lambda owned: owned.unarchive_returning())


def _owned_update(
    user: User, ids: Iterable[int | str], update: Callable[[MessageQuerySet], list[int]]
) -> list[int]:
    """``update`` on ``user``'s messages among ``ids``, a batch at a time; the ids it matched."""
    from user_messages.models import Message

    pks = list(dict.fromkeys(_message_ids(ids)))
    found: set[int] = set()
    for batch in _batched(pks, BATCH_SIZE):
        found.update(update(Message.objects.for_user(user).filter(pk__in=batch)))
    if found:
        changed_after_commit([_pk(user)])
    return [pk for pk in pks if pk in found]


def archive_all(user: User) -> int:
    """Archive every message in ``user``'s inbox (acknowledging the pending ones); return how many.

    One statement, however many messages.
    """
    from user_messages.models import Message

    _refuse_in_event_loop("archive_all", "aarchive_all")
    changed = Message.objects.for_user(user).archive()
    if changed:
        changed_after_commit([_pk(user)])
    return changed


def _pk(user: User) -> Any:
    return user.pk if isinstance(user, models.Model) else user


def pending_count(user: User, *, categories: Iterable[str] | None = None) -> int:
    """How many stored messages ``user`` would be shown next (expired ones do not count).

    ``categories`` (None: all) counts the messages of those categories only.
    """
    _refuse_in_event_loop("pending_count", "apending_count")
    return _pending(user, categories).count()


def _pending(user: User, categories: Iterable[str] | None = None) -> MessageQuerySet:
    """``user``'s pending unexpired messages, of ``categories`` only unless None (checked)."""
    from user_messages.models import Message

    messages = Message.objects.for_user(user).pending().unexpired()
    chosen = validation.categories(categories)
    if chosen is not None:
        messages = messages.in_categories(chosen)
    return messages


def pending_counts(user: User) -> dict[str, int]:
    """``pending_count`` of every category at once: each declared one, then ``""``; one query.

    Categories stored but no longer declared count under their own names.
    """

    _refuse_in_event_loop("pending_counts", "apending_counts")
    counts = dict.fromkeys([*declared_categories(), ""], 0)
    counts.update(_pending(user).count_by_category())
    return counts


class Preference(NamedTuple):
    """A declared category as one user has it: what ``preferences`` returns."""

    category: str
    label: str
    description: str
    critical: bool
    enabled: bool


def preferences(user: User) -> list[Preference]:
    """Every declared category, in the setting's order, and whether ``user`` gets it; one query.

    A category the user never chose is on or off as its ``default`` says; a critical one is
    always on.
    """
    from user_messages.models import MessagePreference

    _refuse_in_event_loop("preferences", "apreferences")
    declared = declared_categories()
    if not declared:
        return []
    chosen = dict(
        MessagePreference.objects.filter(
            user_id=_pk(user), category__in=list(declared)
        ).values_list("category", "enabled")
    )
    return [
        Preference(
            category=name,
            label=str(category.label),
            description=str(category.description),
            critical=category.critical,
            enabled=True if category.critical else chosen.get(name, category.default),
        )
        for name, category in declared.items()
    ]


def set_preferences(user: User, choices: dict[str, bool]) -> list[Preference]:
    """Turn categories on (True) or off (False) for ``user``; return ``preferences(user)``.

    All or nothing: an undeclared category, a value that is not a bool, or turning a critical
    category off raises ``ValueError`` (``validation.InvalidInput``) before anything changes.
    """
    from user_messages.models import MessagePreference

    _refuse_in_event_loop("set_preferences", "aset_preferences")
    user_id = _pk(user)
    if isinstance(user, models.Model) and user_id is None:
        raise ValueError(f"Cannot set the preferences of the unsaved user {user!r}.")
    clean = validation.preference_choices(choices)
    declared = declared_categories()
    back_to_default = [name for name, on in clean.items() if on == declared[name].default]
    changed = [
        MessagePreference(user_id=user_id, category=name, enabled=on)
        for name, on in clean.items()
        if on != declared[name].default
    ]
    preferences_ = MessagePreference.objects.db_manager(router.db_for_write(MessagePreference))
    with transaction.atomic(using=preferences_.db):
        if back_to_default:
            preferences_.filter(user_id=user_id, category__in=back_to_default).delete()
        if changed:
            # An upsert: two requests choosing at once must not collide on the unique pair.
            features = transaction.get_connection(preferences_.db).features
            preferences_.bulk_create(
                changed,
                update_conflicts=True,
                update_fields=["enabled"],
                unique_fields=(
                    ["user", "category"] if features.supports_update_conflicts_with_target else None
                ),
            )
    return preferences(user_id)


def _message_ids(ids: Iterable[int | str]) -> list[int]:
    if isinstance(ids, (str, bytes, int)):
        raise TypeError(f"ids must be an iterable of message ids, got {ids!r}.")
    return [validation.message_id(value) for value in ids]


# The async twins. Sends, consuming reads and acknowledges need one connection for their
# transaction or claim: each runs whole in one thread. Plain reads use the async ORM.

aadd_message = _in_thread(add_message)
adebug = _in_thread(debug)
ainfo = _in_thread(info)
asuccess = _in_thread(success)
awarning = _in_thread(warning)
aerror = _in_thread(error)


def _evaluated(func: Callable[P, LazyList]) -> Callable[P, list[Any]]:
    @functools.wraps(func)
    def evaluated(*args: P.args, **kwargs: P.kwargs) -> list[Any]:
        return list(func(*args, **kwargs))

    return evaluated


aget_messages = _in_thread(_evaluated(get_messages))
aget_messages.__doc__ = (
    "The async twin of ``get_messages``: the same messages as a list, read and consumed at once."
)
apeek_messages = _in_thread(_evaluated(peek_messages))
apeek_messages.__doc__ = (
    "The async twin of ``peek_messages``: the same messages as a list, read at once."
)
aacknowledge = _in_thread(acknowledge)
aacknowledge_owned = _in_thread(acknowledge_owned)
aacknowledge_all = _in_thread(acknowledge_all)
aarchive = _in_thread(archive)
aunarchive = _in_thread(unarchive)
aarchive_all = _in_thread(archive_all)
apending_counts = _in_thread(pending_counts)
apreferences = _in_thread(preferences)
aset_preferences = _in_thread(set_preferences)


async def apending_count(user: User, *, categories: Iterable[str] | None = None) -> int:
    """The async twin of ``pending_count``: the same count, through the async ORM."""
    return await _pending(user, categories).acount()


async def ahistory_page(
    user: User,
    *,
    first: int = 20,
    after: str | None = None,
    states: Iterable[MessageState | str] | None = None,
    categories: Iterable[str] | None = None,
    archived: bool | None = False,
) -> HistoryPage:
    """The async twin of ``history_page``: the same page, through the async ORM."""
    first, rows = _history_page_rows(user, first, after, states, categories, archived)
    page = [message async for message in rows]
    return HistoryPage(messages=page[:first], has_next_page=len(page) > first)
