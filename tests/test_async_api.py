"""The async twins of the Python API give the sync functions' answers, at the same cost.

Each case runs through both forms: ``sync`` calls ``api.name(...)``, ``async`` awaits
``api.aname(...)`` from an event loop (``async_to_sync``, which runs the twins' thread units on
this thread's connection, as Django's ASGI handler runs them on the request's).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import django
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from user_messages import api, validation
from user_messages.models import Message
from user_messages.signals import messages_changed

FORMS = ["sync", "async"]

#: The public functions of api that have an async twin.
TWINNED = sorted(name for name in api.__all__ if f"a{name}" in api.__all__)


def call(form: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """``api.name(...)`` in the sync form, ``await api.aname(...)`` in the async one."""
    if form == "sync":
        result = getattr(api, name)(*args, **kwargs)
        return list(result) if isinstance(result, api.LazyList) else result
    return async_to_sync(getattr(api, f"a{name}"))(*args, **kwargs)


def counted(form: str, name: str, *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """The answer and how many queries it took."""
    with CaptureQueriesContext(connection) as queries:
        result = call(form, name, *args, **kwargs)
    return result, len(queries)


def texts(messages: list[Any]) -> list[str]:
    return [str(message) for message in messages]


def test_every_public_function_has_an_async_twin_with_its_signature():
    functions = {
        name
        for name in api.__all__
        if inspect.isfunction(getattr(api, name))
        and not (name.startswith("a") and name[1:] in api.__all__)
    }
    # history() runs no query: it returns a QuerySet, which async code iterates with `async for`.
    assert functions - {"history"} == set(TWINNED)
    for name in TWINNED:
        twin = getattr(api, f"a{name}")
        assert inspect.iscoroutinefunction(twin), name
        assert twin.__name__ == f"a{name}"
        assert twin.__doc__.startswith(f"The async twin of ``{name}``"), name
        sync_parameters = inspect.signature(getattr(api, name)).parameters
        assert inspect.signature(twin).parameters == sync_parameters, name


@pytest.mark.parametrize("form", FORMS)
def test_a_message_sent_to_one_user_is_read_once_in_either_form(form, user):
    sent = call(form, "add_message", user, 20, "Hello", "tag", meta={"k": 1})
    sticky = call(form, "warning", user.pk, "sticky", deliver_once=False)

    assert isinstance(sent, Message)
    assert (sent.meta, sent.extra_tags) == ({"k": 1}, "tag")
    assert call(form, "pending_count", user) == 2
    assert texts(call(form, "peek_messages", user=user)) == ["Hello", "sticky"]
    (first, reads_first), (second, reads_second) = (
        counted(form, "get_messages", user=user),
        counted(form, "get_messages", user=user.pk),
    )
    assert (texts(first), texts(second)) == (["Hello", "sticky"], ["sticky"])
    assert [m.pk for m in first] == [sent.pk, sticky.pk]
    assert call(form, "pending_count", user) == 1
    # The same statements whichever form reads: SELECT + claim, then the sticky one's SELECT.
    assert (reads_first, reads_second) == (2, 1)


@pytest.mark.parametrize("form", FORMS)
def test_nothing_pending_costs_one_query_in_either_form(form, user):
    assert counted(form, "get_messages", user=user) == ([], 1)
    assert counted(form, "peek_messages", user=user) == ([], 1)
    assert counted(form, "pending_count", user) == (0, 1)


@pytest.mark.parametrize("form", FORMS)
def test_each_level_shortcut_stores_its_level_in_either_form(form, user):
    for name, level in [
        ("debug", 10),
        ("info", 20),
        ("success", 25),
        ("warning", 30),
        ("error", 40),
    ]:
        assert call(form, name, user, name).level == level
    assert texts(call(form, "get_messages", user=user)) == [
        "debug",
        "info",
        "success",
        "warning",
        "error",
    ]


@pytest.mark.parametrize("form", FORMS)
def test_a_broadcast_returns_how_many_in_either_form(form, make_user, django_user_model):
    alice, bob = make_user("alice"), make_user("bob")

    assert call(form, "info", [alice, bob.pk], "to a list") == 2
    assert call(form, "info", django_user_model.objects.all(), "to a queryset") == 2
    assert texts(call(form, "get_messages", user=bob)) == ["to a list", "to a queryset"]


@pytest.mark.parametrize("form", FORMS)
def test_bad_input_raises_the_same_error_in_either_form(form, user):
    with pytest.raises(ValueError, match=r"^There is no user with id 999999\.$"):
        call(form, "info", 999999, "nobody")
    with pytest.raises(ValueError, match=r"^There are no users with ids \[999999\]; nothing"):
        call(form, "info", [user, 999999], "nobody")
    with pytest.raises(TypeError, match=r"^Pass exactly one of request= or user=\.$"):
        call(form, "get_messages")
    with pytest.raises(TypeError, match=r"^ids must be an iterable of message ids, got 5\.$"):
        call(form, "acknowledge", user, 5)
    with pytest.raises(validation.InvalidInput):
        call(form, "history_page", user, first=0)
    assert Message.objects.count() == 0


@pytest.mark.parametrize("form", FORMS)
def test_acknowledging_gives_the_same_answers_in_either_form(form, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    mine = [api.warning(alice, f"m{i}", deliver_once=False).pk for i in range(4)]
    theirs = api.info(bob, "theirs").pk

    assert call(form, "acknowledge", alice, [mine[0], theirs, mine[0]]) == 1
    assert call(form, "acknowledge_owned", alice, [str(mine[0]), mine[1], theirs]) == mine[:2]
    assert call(form, "acknowledge_all", alice) == 2
    assert call(form, "pending_count", alice) == 0
    assert call(form, "pending_count", bob) == 1


@pytest.mark.parametrize("form", FORMS)
def test_archiving_gives_the_same_answers_in_either_form(form, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    mine = [api.warning(alice, f"m{i}", deliver_once=False).pk for i in range(4)]
    theirs = api.info(bob, "theirs").pk

    assert call(form, "archive", alice, [mine[0], theirs, str(mine[1]), mine[0]]) == mine[:2]
    assert call(form, "pending_count", alice) == 2
    assert call(form, "unarchive", alice, [mine[1], theirs, 10**12]) == [mine[1]]
    assert call(form, "archive_all", alice) == 3
    page = call(form, "history_page", alice, archived=True)
    assert [m.pk for m in page.messages] == mine[::-1]
    assert call(form, "history_page", alice).messages == []
    assert call(form, "pending_count", bob) == 1


@pytest.mark.parametrize("form", FORMS)
def test_actions_and_bad_actions_are_the_same_in_either_form(form, user):
    pay = {"label": "Pay now", "url": "/billing/pay/"}

    assert call(form, "info", user, "Invoice due", actions=[pay]).actions == [pay]
    assert call(form, "add_message", [user], 20, "to a list", actions=[pay]) == 1
    with pytest.raises(ValueError, match=r"^An action's url must be a path on this site"):
        call(form, "warning", user, "bad", actions=[{"label": "Go", "url": "javascript:x"}])
    assert [m.actions for m in call(form, "get_messages", user=user)] == [[pay], [pay]]


@pytest.mark.parametrize("form", FORMS)
def test_history_pages_are_the_same_in_either_form(form, user):
    sent = [api.info(user, f"m{i}").pk for i in range(5)]
    api.acknowledge(user, sent[:1])

    page, queries = counted(form, "history_page", user, first=2)
    assert ([m.pk for m in page.messages], page.has_next_page, queries) == (sent[:2:-1], True, 1)
    cursor = api.HistoryPage.cursor(page.messages[-1])
    rest = call(form, "history_page", user, first=5, after=cursor)
    assert ([m.pk for m in rest.messages], rest.has_next_page) == (sent[2::-1], False)
    done = call(form, "history_page", user, states=["acknowledged"])
    assert [m.pk for m in done.messages] == sent[:1]


CATEGORIES = {
    "billing": {"label": "Billing"},
    "security": {"label": "Security", "critical": True},
    "news": {"label": "News", "default": False},
}


@pytest.mark.parametrize("form", FORMS)
def test_reads_filtered_by_category_are_the_same_in_either_form(form, user, settings):
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}
    billing = [api.info(user, f"b{i}", category="billing").pk for i in range(3)]
    plain = api.info(user, "plain").pk
    api.info(user, "secure", category="security")

    assert call(form, "pending_count", user, categories=["billing", ""]) == 4
    assert call(form, "pending_counts", user) == {"billing": 3, "security": 1, "news": 0, "": 1}
    page, queries = counted(form, "history_page", user, first=2, categories=["billing"])
    assert ([m.pk for m in page.messages], page.has_next_page, queries) == (
        billing[:0:-1],
        True,
        1,
    )
    page = call(form, "history_page", user, categories=[""], states=["pending"])
    assert [m.pk for m in page.messages] == [plain]
    assert [m.pk for m in call(form, "get_messages", user=user, categories=["billing"])] == billing
    assert call(form, "pending_count", user, categories=["billing"]) == 0
    with pytest.raises(validation.InvalidInput):
        call(form, "pending_count", user, categories=["unknown"])
    with pytest.raises(validation.InvalidInput):
        call(form, "history_page", user, categories=["unknown"])


@pytest.mark.parametrize("form", FORMS)
def test_preferences_are_the_same_in_either_form(form, user, settings):
    settings.USER_MESSAGES = {"CATEGORIES": CATEGORIES}

    chosen = call(form, "set_preferences", user, {"billing": False, "news": True})
    assert [(p.category, p.enabled) for p in chosen] == [
        ("billing", False),
        ("security", True),
        ("news", True),
    ]
    assert call(form, "preferences", user) == chosen
    assert call(form, "info", user, "not for me", category="billing") is None
    with pytest.raises(validation.InvalidInput):
        call(form, "set_preferences", user, {"security": False})
    assert call(form, "preferences", user) == chosen


@pytest.mark.parametrize("form", FORMS)
def test_a_request_reads_its_session_messages_then_the_users_in_either_form(form, rf, user):
    from django.contrib.messages import add_message as add_session_message
    from django.contrib.messages.storage.cookie import CookieStorage

    request = rf.get("/")
    request.user = user
    request._messages = CookieStorage(request)
    add_session_message(request, 20, "from the session")
    api.info(user, "stored")

    assert texts(call(form, "peek_messages", request=request)) == ["from the session", "stored"]
    assert texts(call(form, "get_messages", request=request)) == ["from the session", "stored"]
    assert request._messages.used


@pytest.mark.parametrize("form", FORMS)
def test_a_change_inside_a_transaction_is_announced_once_it_commits(
    form, user, django_capture_on_commit_callbacks
):
    heard: list[Any] = []

    def listener(user_ids: Any, **kwargs: Any) -> None:
        heard.append(user_ids)

    messages_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            call(form, "info", user, "hello")
            call(form, "get_messages", user=user)
            assert heard == []
        assert len(callbacks) == 2
    finally:
        messages_changed.disconnect(listener)
    assert heard == [[user.pk], [user.pk]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(django.VERSION < (5, 0), reason="async receivers came with Django 5.0")
def test_an_async_twin_in_autocommit_announces_with_asend_on_its_event_loop(user):
    heard: list[tuple[Any, bool]] = []

    async def listener(user_ids: Any, **kwargs: Any) -> None:
        # An async receiver awaited on the caller's loop, after the row is there to read.
        exists = await Message.objects.filter(user=user).aexists()
        heard.append((user_ids, exists))

    async def send_and_read() -> None:
        try:
            await api.ainfo(user, "hello")
            assert heard == [([user.pk], True)]
            await api.aget_messages(user=user)
        finally:
            # The ORM's thread keeps its connection open: close it, as a request's end would.
            await sync_to_async(connections.close_all)()

    messages_changed.connect(listener)
    try:
        asyncio.run(send_and_read())
    finally:
        messages_changed.disconnect(listener)
    assert heard == [([user.pk], True), ([user.pk], True)]


@transaction.atomic
def send_then_fail(user: Any) -> None:
    async_to_sync(api.ainfo)(user, "rolled back")
    raise RuntimeError("rolled back")


@pytest.mark.django_db(transaction=True)
def test_an_async_twin_inside_the_callers_transaction_announces_after_commit(user):
    heard: list[Any] = []

    def listener(user_ids: Any, **kwargs: Any) -> None:
        heard.append(user_ids)

    messages_changed.connect(listener)
    try:
        with transaction.atomic():
            async_to_sync(api.ainfo)(user, "hello")
            assert heard == []
        assert heard == [[user.pk]]
        with pytest.raises(RuntimeError, match=r"^rolled back$"):
            send_then_fail(user)
        assert heard == [[user.pk]]
    finally:
        messages_changed.disconnect(listener)


SYNC_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("add_message", lambda user: api.add_message(user, 20, "x")),
    ("info", lambda user: api.info(user, "x")),
    ("error", lambda user: api.error([user], "x")),
    ("get_messages", lambda user: list(api.get_messages(user=user))),
    ("peek_messages", lambda user: len(api.peek_messages(user=user))),
    ("pending_count", lambda user: api.pending_count(user)),
    ("history_page", lambda user: api.history_page(user)),
    ("acknowledge", lambda user: api.acknowledge(user, [1])),
    ("acknowledge_owned", lambda user: api.acknowledge_owned(user, [1])),
    ("acknowledge_all", lambda user: api.acknowledge_all(user)),
    ("archive", lambda user: api.archive(user, [1])),
    ("unarchive", lambda user: api.unarchive(user, [1])),
    ("archive_all", lambda user: api.archive_all(user)),
    ("pending_counts", lambda user: api.pending_counts(user)),
    ("preferences", lambda user: api.preferences(user)),
    ("set_preferences", lambda user: api.set_preferences(user, {})),
]


@pytest.mark.parametrize(("name", "sync_call"), SYNC_CALLS, ids=[name for name, _ in SYNC_CALLS])
def test_a_sync_function_called_in_an_event_loop_fails_naming_its_twin(name, sync_call, user):
    async def in_the_loop() -> None:
        sync_call(user.pk)

    with pytest.raises(SynchronousOnlyOperation) as raised:
        async_to_sync(in_the_loop)()

    assert str(raised.value) == (
        f"user_messages.api.{name}() cannot be called from an async context: "
        f"use `await user_messages.api.a{name}(...)` instead."
    )
    assert Message.objects.count() == 0


def test_get_messages_in_an_event_loop_fails_only_when_the_list_is_read(user):
    async def build_but_never_read() -> None:
        api.get_messages(user=user)  # a template that never shows messages stays fine

    async_to_sync(build_but_never_read)()


def test_history_is_a_queryset_async_code_iterates(user):
    sent = api.info(user, "hello")

    async def read() -> list[int]:
        return [message.pk async for message in api.history(user)]

    assert async_to_sync(read)() == [sent.pk]


def test_strawberrys_own_async_view_answers_the_packages_fields(alice, user, settings):
    pytest.importorskip("strawberry")
    settings.ROOT_URLCONF = "tests.urls_strawberry_async"
    api.info(user, "Hello.")
    query = "{ myMessageCount myMessages { message } myMessageHistory(first: 5) { pendingCount } }"

    response = alice.post("/graphql-plain-async", {"query": query}, content_type="application/json")

    assert response.json() == {
        "data": {
            "myMessageCount": 1,
            "myMessages": [{"message": "Hello."}],
            "myMessageHistory": {"pendingCount": 1},
        }
    }
    assert api.pending_count(user) == 0
