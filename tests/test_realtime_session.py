"""The socket follows Django's rules for who may use it: the CSRF origin check at the handshake,
and the session it opened with for as long as it stays open (logout, password, deactivation).

The origin table runs through Django's CSRF middleware on a real POST and through the consumer;
the session tests drive the consumer with WebsocketCommunicator, then end to end through daphne,
Redis and the real graphql-ws client, with the logout or change made in another process.
"""

from __future__ import annotations

import asyncio
import http.client
import http.cookiejar
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import include, path

from tests import test_realtime as realtime
from tests import test_realtime_e2e as e2e
from tests.test_realtime import (  # fresh_channel_layer: autouse, a new layer per test
    COUNT_CHANGED,
    closed_with,
    fresh_channel_layer,  # noqa: F401
    next_count,
    other_tasks,
    run,
    send,
)
from user_messages import api
from user_messages.realtime import groups, sessions
from user_messages.realtime.groups import CREDENTIALS_CHANGED, LOGGED_OUT, user_group

# The fixtures of the end-to-end tests, shared: pytest finds them as attributes of this module.
node = e2e.node
project_env = e2e.project_env
redis_env = e2e.redis_env
start = e2e.start
# The "application" fixture (the sockets of a test go to its stack's consumer), under its own
# name: pytest 9 registers an imported fixture under the attribute that holds it.
application = realtime.application

# Django's own password change views (their templates link to the admin).
urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

STRONG_PASSWORD = "a-long-new-password-4711"
TOKEN = "a" * 32  # a CSRF secret of the right shape, sent as cookie and header alike


# The Origin check: one table through Django's CSRF check on a POST and through the socket.

TRUSTED = ["https://*.example.com", "http://localhost:3000"]
TRUSTING = {"CSRF_TRUSTED_ORIGINS": TRUSTED}
PROXY_PROTO = {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}
PROXY_HOST = {
    **PROXY_PROTO,
    "USE_X_FORWARDED_HOST": True,
    "ALLOWED_HOSTS": ["testserver", "app.example.org"],
}
FORWARDED = {"x-forwarded-proto": "https", "x-forwarded-host": "app.example.org"}

ORIGINS = [
    # (Origin, Host, wss/https, other headers, settings, accepted)
    ("http://testserver", "testserver", False, {}, {}, True),
    ("https://testserver", "testserver", False, {}, {}, False),  # https for an http site
    ("http://testserver", "testserver", True, {}, {}, False),
    ("https://testserver", "testserver", True, {}, {}, True),
    ("http://127.0.0.1:1", "127.0.0.1:8000", False, {}, {}, False),  # another port
    ("http://127.0.0.1:8000", "127.0.0.1:8000", False, {}, {}, True),
    ("http://localhost:3000", "localhost:8000", False, {}, {}, False),  # a dev server's page
    ("http://localhost:3000", "localhost:8000", False, {}, TRUSTING, True),
    ("http://[::1]:8000", "[::1]:8000", False, {}, {"ALLOWED_HOSTS": ["[::1]"]}, True),
    ("http://testserver:80", "testserver", False, {}, {}, False),  # Django compares text
    ("HTTP://TESTSERVER", "testserver", False, {}, {}, False),
    ("http://evil.example", "testserver", False, {}, {}, False),
    ("http://testserver.evil.example", "testserver", False, {}, {}, False),
    ("null", "testserver", False, {}, {}, False),
    ("http://[", "testserver", False, {}, {}, False),  # urlsplit raises
    ("http://evil.example", "evil.example", False, {}, {}, False),  # Host not allowed: 400
    ("https://eu.example.com", "testserver", True, {}, TRUSTING, True),
    ("http://eu.example.com", "testserver", False, {}, TRUSTING, False),
    ("https://example.com.evil.example", "testserver", True, {}, TRUSTING, False),
    ("https://testserver", "testserver", False, {"x-forwarded-proto": "https"}, PROXY_PROTO, True),
    ("https://testserver", "testserver", False, {"x-forwarded-proto": "https"}, {}, False),
    ("https://app.example.org", "10.0.0.5:8000", False, FORWARDED, PROXY_HOST, True),
    ("https://app.example.org", "10.0.0.5:8000", False, FORWARDED, PROXY_PROTO, False),
]  # fmt: skip


def post_status(
    client: Client, origin: str, host: str, secure: bool, headers: dict[str, str]
) -> int:
    """The status of a POST that only the Origin can fail: the CSRF token is right."""
    client.cookies["csrftoken"] = TOKEN
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    response = client.post(
        "/graphql",
        {"query": "{ __typename }"},
        content_type="application/json",
        secure=secure,
        HTTP_HOST=host,
        HTTP_ORIGIN=origin,
        HTTP_X_CSRFTOKEN=TOKEN,
        **meta,  # type: ignore[arg-type]
    )
    return response.status_code


async def handshake_accepted(origin: str, host: str, secure: bool, headers: dict[str, str]) -> bool:
    scheme = "wss" if secure else "ws"

    async def with_scheme(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await realtime.APPLICATION({**scope, "scheme": scheme}, receive, send)

    communicator = WebsocketCommunicator(
        with_scheme,
        "/graphql",
        headers=[
            (b"host", host.encode()),
            (b"origin", origin.encode()),
            *((name.encode(), value.encode()) for name, value in headers.items()),
        ],
        subprotocols=["graphql-transport-ws"],
    )
    accepted, _ = await communicator.connect(timeout=10)
    if accepted:
        await communicator.disconnect()
    return bool(accepted)


@pytest.mark.parametrize(("origin", "host", "secure", "headers", "overrides", "accepted"), ORIGINS)
def test_the_socket_accepts_an_origin_exactly_when_djangos_csrf_check_accepts_it_on_a_post(
    db: None,
    application: None,
    settings: Any,
    origin: str,
    host: str,
    secure: bool,
    headers: dict[str, str],
    overrides: dict[str, Any],
    accepted: bool,
) -> None:
    for name, value in overrides.items():
        setattr(settings, name, value)

    status = post_status(Client(enforce_csrf_checks=True), origin, host, secure, headers)
    socket_accepted = run_async(handshake_accepted, origin, host, secure, headers)

    assert (status == 200, socket_accepted) == (accepted, accepted), status


def run_async(function: Callable[..., Any], *args: Any) -> Any:
    result: list[Any] = []

    async def scenario() -> None:
        result.append(await function(*args))

    run(scenario)
    return result[0]


def test_the_socket_refuses_a_missing_origin_that_a_post_over_http_may_omit(
    db: None, application: None
) -> None:
    # The one difference, on purpose: every browser sends Origin with a WebSocket handshake,
    # while Django lets a plain-http POST without one through on its token alone.
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = TOKEN
    response = client.post(
        "/graphql",
        {"query": "{ __typename }"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=TOKEN,
    )
    assert response.status_code == 200

    async def scenario() -> None:
        communicator = WebsocketCommunicator(
            realtime.APPLICATION,
            "/graphql",
            headers=[(b"host", b"testserver")],
            subprotocols=["graphql-transport-ws"],
        )
        assert (await communicator.connect(timeout=10))[0] is False

    run(scenario)


@pytest.mark.xdist_group("shared-servers")  # one worker starts each shared server once
@pytest.mark.parametrize(
    ("username", "origin"),
    [
        ("another_port", "http://127.0.0.1:1"),
        ("https_for_an_http_site", "https://127.0.0.1:{port}"),
        ("a_dev_servers_page", "http://localhost:3000"),
    ],
)
@pytest.mark.engine_independent  # the example project on its own SQLite database
def test_daphne_refuses_the_origins_django_refuses_on_a_post(
    node: str, project_env: dict[str, str], start: Any, username: str, origin: str
) -> None:
    _, cookie = e2e.signed_in(project_env, username)
    server = start()
    origin = origin.format(port=server.port)

    client = e2e.live_client(start, node, server, origin=origin, cookie=cookie)

    assert client.next_event() == {"socketError": "Unexpected server response: 403"}
    assert client.next_event() == {"closed": 1006}
    assert form_post_status(server, cookie, "/graphql", {}, origin=origin) == 403


# Sessions that end: WebsocketCommunicator, in-memory layer.


@pytest.fixture
def alice(
    transactional_db: None, application: None, make_user: Callable[..., AbstractBaseUser]
) -> AbstractBaseUser:
    return make_user("alice")


def signed_in(user: AbstractBaseUser) -> Client:
    """A client with a session of its own for ``user`` (a browser, or a tab of one)."""
    client = Client()
    client.force_login(user)
    return client


async def live(client: Client) -> WebsocketCommunicator:
    """A socket authenticated by ``client``'s session, subscribed, its first count read."""
    cookie = client.cookies["sessionid"].value
    communicator = WebsocketCommunicator(
        realtime.APPLICATION,
        "/graphql",
        headers=[
            (b"host", b"testserver"),
            (b"origin", b"http://testserver"),
            (b"cookie", f"sessionid={cookie}".encode()),
        ],
        subprotocols=["graphql-transport-ws"],
    )
    assert await communicator.connect(timeout=10) == (True, "graphql-transport-ws")
    await communicator.send_json_to({"type": "connection_init"})
    assert await communicator.receive_json_from(timeout=10) == {"type": "connection_ack"}
    await communicator.send_json_to({"type": "subscribe", "id": "1", "payload": COUNT_CHANGED})
    await next_count(communicator)
    return communicator


async def still_live(communicator: WebsocketCommunicator, user: AbstractBaseUser) -> None:
    """The socket is open and hears a send: its count goes up by one."""
    before = await database_sync_to_async(api.pending_count)(user)
    await send(user, "Still listening?")
    assert await next_count(communicator) == before + 1


def test_logout_closes_the_sockets_of_that_session_and_no_other(alice: AbstractBaseUser) -> None:
    tab, other_browser = signed_in(alice), signed_in(alice)

    async def scenario() -> None:
        first_tab = await live(tab)
        second_tab = await live(tab)  # the same session: the same browser
        elsewhere = await live(other_browser)

        await sync_to_async(tab.logout)()

        assert await closed_with(first_tab) == (4403, "Session ended")
        assert await closed_with(second_tab) == (4403, "Session ended")
        # As Django's logout ends only the session it runs in.
        await still_live(elsewhere, alice)
        await elsewhere.disconnect()

    run(scenario)


def test_a_password_change_closes_every_socket_of_the_user(
    alice: AbstractBaseUser, settings: Any
) -> None:
    # Django's own view: it saves the password, then update_session_auth_hash keeps the
    # changing session signed in under a new key. The socket holds the old key, which Django
    # no longer accepts, so it closes too; a page load (or a new client) opens a fresh one.
    settings.ROOT_URLCONF = __name__
    changer, other_browser = signed_in(alice), signed_in(alice)

    async def scenario() -> None:
        own = await live(changer)
        elsewhere = await live(other_browser)

        response = await sync_to_async(changer.post)(
            "/accounts/password_change/",
            {
                "old_password": "pw",
                "new_password1": STRONG_PASSWORD,
                "new_password2": STRONG_PASSWORD,
            },
        )
        assert response.status_code == 302

        assert await closed_with(elsewhere) == (4403, "Session ended")
        assert await closed_with(own) == (4403, "Session ended")
        # The changing browser stays signed in, over HTTP and on a new socket.
        assert (await sync_to_async(changer.get)("/accounts/password_change/")).status_code == 200
        fresh = await live(changer)
        await still_live(fresh, alice)
        await fresh.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda user: user.set_password(STRONG_PASSWORD), id="set_password"),
        pytest.param(lambda user: setattr(user, "is_active", False), id="deactivated"),
    ],
)
def test_a_user_saved_with_a_new_password_or_inactive_loses_their_sockets(
    alice: AbstractBaseUser, change: Callable[[AbstractBaseUser], None]
) -> None:
    tab = signed_in(alice)

    def save_changed() -> None:
        # Loaded afresh, as a view, the admin or `manage.py shell` would.
        user = get_user_model().objects.get(pk=alice.pk)
        change(user)
        user.save()

    async def scenario() -> None:
        ws = await live(tab)
        await database_sync_to_async(save_changed)()
        assert await closed_with(ws) == (4403, "Session ended")

    run(scenario)


def test_a_deleted_user_loses_their_sockets(alice: AbstractBaseUser) -> None:
    tab = signed_in(alice)

    async def scenario() -> None:
        ws = await live(tab)
        await database_sync_to_async(get_user_model().objects.filter(pk=alice.pk).delete)()
        assert await closed_with(ws) == (4403, "Session ended")

    run(scenario)


def test_signing_in_elsewhere_and_other_saves_leave_the_sockets_open(
    alice: AbstractBaseUser,
) -> None:
    tab = signed_in(alice)

    def sign_in_and_edit() -> None:
        # login() saves last_login with update_fields; an edit of the profile saves it all.
        assert Client().login(username="alice", password="pw")
        user = get_user_model().objects.get(pk=alice.pk)
        user.first_name = "Alice"  # type: ignore[attr-defined]
        user.save()

    async def scenario() -> None:
        ws = await live(tab)
        await database_sync_to_async(sign_in_and_edit)()
        await still_live(ws, alice)
        # A close the sign-in or the save made the socket decide would come before the count
        # of a later send: the sentinel.
        await still_live(ws, alice)
        await ws.disconnect()

    run(scenario)


def test_saving_a_user_reads_its_row_once_and_a_last_login_update_not_at_all(
    alice: AbstractBaseUser, django_assert_num_queries: Any
) -> None:
    user = get_user_model().objects.get(pk=alice.pk)

    with django_assert_num_queries(1):  # the UPDATE: sign-ins cost nothing more
        user.save(update_fields=["last_login"])
    with django_assert_num_queries(2):  # the stored password and is_active, then the UPDATE
        user.first_name = "Alice"  # type: ignore[attr-defined]
        user.save()


def test_a_session_that_ends_without_a_signal_closes_at_the_next_recheck(
    alice: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {"WEBSOCKET_SESSION_RECHECK": 1}
    tab, other_browser = signed_in(alice), signed_in(alice)

    async def scenario() -> None:
        ws = await live(tab)
        elsewhere = await live(other_browser)
        # What `clearsessions` does to an expired session, or a "sign out everywhere else"
        # that deletes rows: no signal any socket hears.
        key = tab.cookies["sessionid"].value
        await database_sync_to_async(Session.objects.filter(session_key=key).delete)()

        started = time.monotonic()
        assert await closed_with_in(ws, timeout=5) == (4403, "Session ended")
        assert time.monotonic() - started < 1.5
        # The other session passed its checks meanwhile.
        await still_live(elsewhere, alice)
        await elsewhere.disconnect()

    run(scenario)


def test_without_the_recheck_a_deleted_session_keeps_its_socket(
    alice: AbstractBaseUser, settings: Any
) -> None:
    settings.USER_MESSAGES = {"WEBSOCKET_SESSION_RECHECK": None}
    tab = signed_in(alice)

    async def scenario() -> None:
        ws = await live(tab)
        key = tab.cookies["sessionid"].value
        await database_sync_to_async(Session.objects.filter(session_key=key).delete)()
        assert await ws.receive_nothing(timeout=1.5)
        await still_live(ws, alice)
        await ws.disconnect()

    run(scenario)


async def closed_with_in(communicator: WebsocketCommunicator, timeout: float) -> tuple[int, str]:
    frame = await communicator.receive_output(timeout=timeout)
    assert frame["type"] == "websocket.close", frame
    return frame["code"], frame.get("reason", "")


def test_a_session_check_in_flight_when_the_instance_is_cancelled_ends_with_it(
    alice: AbstractBaseUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the count read: the process's shared check, in flight when daphne stops, ends with
    # the sockets it checks for, or it would be destroyed pending with the event loop.
    reading, release = threading.Event(), threading.Event()
    sessions_holding = sessions._sessions_holding

    def slow_sessions_holding(batch: list[tuple[str, Any]]) -> set[tuple[str, Any]]:
        reading.set()
        release.wait(timeout=10)
        return sessions_holding(batch)

    tab = signed_in(alice)

    async def scenario() -> None:
        ws = await live(tab)
        monkeypatch.setattr(sessions, "_sessions_holding", slow_sessions_holding)
        layer = channel_layers["default"]
        await layer.group_send(user_group(alice.pk), {"type": CREDENTIALS_CHANGED})
        assert await asyncio.to_thread(reading.wait, 5)  # the check waits on its queries

        try:
            ws.future.cancel()
            await asyncio.wait([ws.future])

            assert ws.future.exception() is None  # ended once cleaned up
            assert other_tasks() == set()
        finally:
            release.set()

    run(scenario)


def test_the_logout_message_names_the_session_by_a_digest_not_its_key(
    alice: AbstractBaseUser, settings: Any
) -> None:
    # The session key is a bearer secret: it does not travel through Redis.
    tab = signed_in(alice)
    key = tab.cookies["sessionid"].value
    heard: list[dict[str, Any]] = []

    async def scenario() -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(user_group(alice.pk), channel)
        await sync_to_async(tab.logout)()
        heard.append(await asyncio.wait_for(layer.receive(channel), timeout=5))

    run(scenario)
    assert heard == [{"type": LOGGED_OUT, "sessions": [sessions.session_digest(key)]}]
    assert key not in repr(heard)


def test_a_session_check_costs_two_queries_and_changes_no_session(
    alice: AbstractBaseUser,
    django_assert_num_queries: Any,
) -> None:
    tab = signed_in(alice)
    key = tab.cookies["sessionid"].value
    alice.set_password(STRONG_PASSWORD)
    alice.save()
    before = list(Session.objects.values_list("session_key", "session_data"))

    with django_assert_num_queries(2):  # the session, the user
        assert sessions.session_holds(key, alice.pk) is False

    # get_user flushes a session whose hash no longer matches; the check flushes only a copy.
    assert list(Session.objects.values_list("session_key", "session_data")) == before


def test_logout_and_a_password_change_succeed_and_log_when_the_channel_layer_is_down(
    alice: AbstractBaseUser, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    caplog.set_level(logging.WARNING, logger="user_messages.realtime.groups")
    tab = signed_in(alice)
    key = tab.cookies["sessionid"].value
    lost = groups.lost_announcements()

    tab.logout()
    alice.set_password(STRONG_PASSWORD)
    alice.save()

    assert not Session.objects.filter(session_key=key).exists()
    assert get_user_model().objects.get(pk=alice.pk).check_password(STRONG_PASSWORD)
    group = user_group(alice.pk)
    # One line for the outage: the password change's notice is counted lost, not tried.
    assert [record.getMessage().split(" (")[0] for record in caplog.records] == [
        f"user_messages: could not close the sockets of a session on {group}",
    ]
    assert groups.lost_announcements() == lost + 2


# End to end: daphne with Redis, the real graphql-ws client, the change made in another process.


def form_post_status(
    server: e2e.Daphne,
    cookie: str,
    path: str,
    fields: dict[str, str],
    *,
    origin: str | None = None,
) -> int:
    """POST a form to ``server`` as a browser does (CSRF cookie and token); its status."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("Cookie", cookie)]
    opener.open(f"{server.origin}/spa/", timeout=10).read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            "POST",
            path,
            body=urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{cookie}; csrftoken={token}",
                "Origin": origin or server.origin,
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()


def another_session(env: dict[str, str], user_id: str) -> str:
    """A second session of an existing user: the Cookie header of another browser."""
    return e2e.database_shell(
        env,
        "from django.contrib.auth.models import User\n"
        "from django.test import Client\n"
        "client = Client()\n"
        f"client.force_login(User.objects.get(pk={int(user_id)}))\n"
        "print('sessionid=' + client.cookies['sessionid'].value)",
    ).splitlines()[-1]


def closes_4403_within(client: e2e.LiveClient, seconds: float) -> float:
    """Wait for the 4403 close; how long it took."""
    started = time.monotonic()
    assert client.next_event(timeout=seconds) == {"closed": 4403}
    took = time.monotonic() - started
    assert client.next_event() == {"error": "closed"}
    return took


@pytest.mark.engine_independent  # the example project on its own SQLite database
def test_logout_in_another_process_closes_that_sessions_socket_and_no_other(
    node: str, redis_env: dict[str, str], start: Any
) -> None:
    erin, cookie = e2e.signed_in(redis_env, "erin")
    other_cookie = another_session(redis_env, erin)
    sockets_process, logout_process = start(redis_env), start(redis_env)
    client = e2e.live_client(
        start, node, sockets_process, origin=sockets_process.origin, cookie=cookie
    )
    elsewhere = e2e.live_client(
        start, node, sockets_process, origin=sockets_process.origin, cookie=other_cookie
    )
    assert client.next_event() == {"count": 0}
    assert elsewhere.next_event() == {"count": 0}

    assert form_post_status(logout_process, cookie, "/accounts/logout/", {}) in (200, 302)

    closes_4403_within(client, seconds=10)
    logout_process.send_message(other_cookie, erin, "Still signed in there.")
    assert elsewhere.next_event() == {"count": 1}


@pytest.mark.engine_independent  # the example project on its own SQLite database
def test_a_password_change_in_another_process_closes_the_users_other_sessions(
    node: str, redis_env: dict[str, str], start: Any
) -> None:
    frank, cookie = e2e.signed_in(redis_env, "frank", password="pw")
    other_cookie = another_session(redis_env, frank)
    sockets_process, web_process = start(redis_env), start(redis_env)
    elsewhere = e2e.live_client(
        start, node, sockets_process, origin=sockets_process.origin, cookie=other_cookie
    )
    assert elsewhere.next_event() == {"count": 0}

    status = form_post_status(
        web_process,
        cookie,
        "/accounts/password_change/",
        {"old_password": "pw", "new_password1": STRONG_PASSWORD, "new_password2": STRONG_PASSWORD},
    )
    assert status == 302

    closes_4403_within(elsewhere, seconds=10)


@pytest.mark.engine_independent  # the example project on its own SQLite database
def test_deactivating_a_user_in_a_shell_closes_their_socket(
    node: str, redis_env: dict[str, str], start: Any
) -> None:
    grace, cookie = e2e.signed_in(redis_env, "grace")
    server = start(redis_env)
    client = e2e.live_client(start, node, server, origin=server.origin, cookie=cookie)
    assert client.next_event() == {"count": 0}

    e2e.shell(
        redis_env,
        "from django.contrib.auth.models import User\n"
        f"user = User.objects.get(pk={int(grace)})\n"
        "user.is_active = False\n"
        "user.save()",
    )

    closes_4403_within(client, seconds=10)
