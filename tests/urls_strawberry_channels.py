"""tests/urls_strawberry.py with /graphql answered by the package's Channels HTTP consumer.

Django's test client cannot speak ASGI to a consumer, so /graphql is a small bridge: it hands
the client's request, as an ASGI HTTP request, to ``http_consumer(schema)`` (the consumer
behind Channels' real ``AuthMiddlewareStack``) with Channels' ``HttpCommunicator``, and hands
the consumer's answer back. The consumer decides everything: the user from the session cookie,
CSRF, the rules and the answer. The same consumer serves a real daphne in
tests/test_strawberry_consumer.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from unittest import mock

from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import (  # type: ignore[attr-defined]
    CSRF_SESSION_KEY,
    _get_new_csrf_string,
)
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.strawberry_schema import schema
from tests.urls_strawberry import urlpatterns as sync_urlpatterns
from user_messages.strawberry.channels_http import http_consumer

APPLICATION = http_consumer(schema)


@contextlib.contextmanager
def _transaction_kept() -> Iterator[None]:
    """What Django's test client does around a request: no closing of the test's connection.

    The test's transaction lives on this thread's connection, where the consumer's database
    work runs too; Django's and Channels' connection hygiene would close it mid-test.
    """
    disconnected = [
        signal
        for signal in (request_started, request_finished)
        if signal.disconnect(close_old_connections)
    ]

    async def kept() -> None:
        return None

    try:
        with (
            mock.patch("channels.consumer.aclose_old_connections", kept),
            mock.patch("channels.generic.http.aclose_old_connections", kept),
        ):
            yield
    finally:
        for signal in disconnected:
            signal.connect(close_old_connections)


def _session_token(request: HttpRequest) -> str:
    """The CSRF token kept in the client's session (CSRF_USE_SESSIONS), made if it has none."""
    session = request.session
    if CSRF_SESSION_KEY not in session:
        session[CSRF_SESSION_KEY] = _get_new_csrf_string()
        session.save()
    token: str = session[CSRF_SESSION_KEY]
    return token


@csrf_exempt  # the consumer checks
async def through_the_consumer(request: HttpRequest) -> HttpResponse:
    """The client's request, answered by the consumer."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers.setdefault("host", "testserver")
    if getattr(request, "_dont_enforce_csrf_checks", False):
        # Django's test client skips the CSRF check unless asked; the consumer never does, so
        # the bridge sends what a page that passes it sends: the token in the header.
        if settings.CSRF_USE_SESSIONS:
            headers.setdefault("x-csrftoken", await sync_to_async(_session_token)(request))
        token = request.COOKIES.get(settings.CSRF_COOKIE_NAME)
        if token is None and not settings.CSRF_USE_SESSIONS:
            token = _get_new_csrf_string()
            cookie = f"{settings.CSRF_COOKIE_NAME}={token}"
            headers["cookie"] = f"{headers['cookie']}; {cookie}" if "cookie" in headers else cookie
        if token is not None:
            headers.setdefault("x-csrftoken", token)
    query = request.META.get("QUERY_STRING", "")
    communicator = HttpCommunicator(
        APPLICATION,
        request.method or "GET",
        f"{request.path}?{query}" if query else request.path,
        body=request.read(),
        headers=[
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
        ],
    )
    communicator.scope["client"] = ("127.0.0.1", 50000)
    communicator.scope["server"] = ("testserver", 80)
    communicator.scope["scheme"] = request.scheme
    with _transaction_kept():
        answer = await communicator.get_response(timeout=30)
    await communicator.wait(timeout=30)
    response = HttpResponse(answer["body"], status=answer["status"])
    for name, value in answer["headers"]:
        name, value = name.decode("latin-1"), value.decode("latin-1")
        if name.lower() == "set-cookie":
            response.cookies.update(SimpleCookie(value))
        else:
            response[name] = value
    return response


urlpatterns: list[Any] = [
    *(pattern for pattern in sync_urlpatterns if getattr(pattern, "name", None) != "graphql"),
    path("graphql", through_the_consumer, name="graphql"),
]
