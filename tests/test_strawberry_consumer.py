"""What only the Channels HTTP consumer can get wrong: its scope, and a body it receives in parts.

Everything else it answers (the operations, limits, CSRF, GET rules, media types) runs through
the GraphQL suites' ``strawberry-channels`` case (tests/urls_strawberry_channels.py), and under
daphne and uvicorn in tests/test_realtime_e2e.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("strawberry")
pytest.importorskip("channels")

from asgiref.sync import async_to_sync
from channels.testing import ApplicationCommunicator, HttpCommunicator
from django.core.exceptions import ImproperlyConfigured

from tests.strawberry_schema import schema
from user_messages.strawberry import GraphQLHTTPConsumer
from user_messages.strawberry.channels_http import (
    HOST_NOT_ALLOWED,
    NO_AUTH_MIDDLEWARE,
    TOO_LARGE,
    http_consumer,
)

# No database: the consumer refuses these before any query.
pytestmark = pytest.mark.engine_independent

QUERY = json.dumps({"query": "{ myMessageCount }"}).encode()
JSON_HEADERS = [(b"host", b"testserver"), (b"content-type", b"application/json")]


def answer(application: Any, headers: list[tuple[bytes, bytes]], body: bytes = QUERY) -> Any:
    async def scenario() -> Any:
        communicator = HttpCommunicator(application, "POST", "/graphql", body, headers)
        try:
            return await communicator.get_response(timeout=10)
        finally:
            await communicator.wait(timeout=10)

    return async_to_sync(scenario)()


def test_without_auth_middleware_stack_the_consumer_refuses_to_serve() -> None:
    # Served without a user and a session, every request would read as signed out and fail
    # its CSRF check: a routing mistake, raised (the server answers 500 and logs it).
    application = GraphQLHTTPConsumer.as_asgi(schema=schema)
    scope = {"type": "http", "method": "POST", "path": "/graphql", "query_string": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": QUERY}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError(f"nothing is sent: {message}")

    with pytest.raises(ImproperlyConfigured) as raised:
        async_to_sync(application)({**scope, "headers": JSON_HEADERS}, receive, send)

    assert str(raised.value) == NO_AUTH_MIDDLEWARE


def test_a_host_outside_allowed_hosts_is_a_400_as_django_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = answer(
        http_consumer(schema), [(b"host", b"evil.example"), (b"content-type", b"application/json")]
    )

    assert response["status"] == 400
    assert json.loads(response["body"]) == {"errors": [{"message": HOST_NOT_ALLOWED}]}
    assert [record.name for record in caplog.records] == ["django.security.DisallowedHost"]


def test_a_body_arriving_in_parts_is_refused_as_soon_as_it_passes_the_limit(
    settings: Any,
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    async def scenario() -> tuple[Any, Any]:
        communicator = ApplicationCommunicator(
            http_consumer(schema),
            {
                "type": "http",
                "method": "POST",
                "path": "/graphql",
                "query_string": b"",
                # Chunked: no Content-Length to refuse it by.
                "headers": [*JSON_HEADERS, (b"accept", b"application/graphql-response+json")],
            },
        )
        await communicator.send_input(
            {"type": "http.request", "body": b"x" * 600, "more_body": True}
        )
        await communicator.send_input(
            {"type": "http.request", "body": b"x" * 600, "more_body": True}
        )
        # Answered without waiting for the rest of the body, which never comes.
        start = await communicator.receive_output(timeout=10)
        body = await communicator.receive_output(timeout=10)
        await communicator.wait(timeout=10)
        return start, body

    start, body = async_to_sync(scenario)()

    assert start["status"] == 413
    assert (b"Content-Type", b"application/graphql-response+json; charset=utf-8") in start[
        "headers"
    ]
    assert json.loads(body["body"]) == {"errors": [{"message": TOO_LARGE}]}
