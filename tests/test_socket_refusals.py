"""Why a socket was refused is logged at WARNING, on both stacks, where runserver shows it.

Python's last-resort handler prints WARNING and above of a logger the project does not
configure, so these lines reach runserver's and daphne's output without any LOGGING setting
(tests/test_docs_tutorial.py reads one there).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AbstractBaseUser

from tests import test_realtime as realtime
from tests.test_realtime import (  # fresh_channel_layer: autouse, a new layer per test
    closed_with,
    connected,
    fresh_channel_layer,  # noqa: F401
    run,
    socket,
)

application = realtime.application
alice = realtime.alice
LOGGER = "user_messages.realtime.consumer"


def refusals(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [
        (record.name, record.levelno, record.getMessage())
        for record in caplog.records
        if "refused" in record.getMessage()
    ]


def handshake(headers: list[tuple[bytes, bytes]]) -> bool:
    accepted: list[bool] = []

    async def scenario() -> None:
        communicator = WebsocketCommunicator(
            realtime.APPLICATION, "/graphql", headers=headers, subprotocols=["graphql-transport-ws"]
        )
        connected_, _ = await communicator.connect()
        accepted.append(connected_)
        if connected_:
            await communicator.disconnect()

    run(scenario)
    return accepted[0]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (
            [(b"host", b"testserver")],
            "no Origin header (a browser sends one; a script must send its page's origin)",
        ),
        (
            [(b"host", b"testserver"), (b"origin", b"http://evil.example")],
            "Origin 'http://evil.example' is neither http://testserver nor in"
            " CSRF_TRUSTED_ORIGINS (behind a proxy: SECURE_PROXY_SSL_HEADER,"
            " USE_X_FORWARDED_HOST)",
        ),
        (
            [(b"host", b"elsewhere.example"), (b"origin", b"http://elsewhere.example")],
            "the Host header 'elsewhere.example' is not in ALLOWED_HOSTS",
        ),
    ],
    ids=["no-origin", "other-origin", "unknown-host"],
)
def test_a_handshake_refused_for_its_origin_logs_why_at_warning(
    db: None,
    application: None,
    caplog: pytest.LogCaptureFixture,
    headers: list[tuple[bytes, bytes]],
    why: str,
) -> None:
    assert handshake(headers) is False

    assert refusals(caplog) == [
        (LOGGER, logging.WARNING, f"user_messages: WebSocket /graphql refused (403): {why}")
    ]


def test_a_socket_without_a_signed_in_user_is_closed_4403_and_the_log_says_why(
    db: None, application: None, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        communicator = await database_sync_to_async(socket)(None)
        assert (await communicator.connect())[0] is True
        await communicator.send_json_to({"type": "connection_init"})
        assert await closed_with(communicator) == (4403, "Forbidden")

    run(scenario)

    assert refusals(caplog) == [
        (
            LOGGER,
            logging.WARNING,
            "user_messages: WebSocket /graphql refused (4403): no signed-in user at"
            " connection_init (no session cookie, a session that ended, or a socket routed"
            " without AuthMiddlewareStack)",
        )
    ]


def test_an_accepted_socket_logs_no_refusal(
    alice: AbstractBaseUser, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        communicator = await connected(alice)
        await communicator.disconnect()

    run(scenario)

    assert refusals(caplog) == []


def test_a_client_that_does_not_offer_graphql_transport_ws_is_told_in_the_log(
    db: None, application: None, caplog: pytest.LogCaptureFixture, stack: str
) -> None:
    async def scenario() -> None:
        communicator = await database_sync_to_async(socket)(None, subprotocols=("graphql-ws",))
        await communicator.connect()
        code, _ = await closed_with(communicator)
        assert code == 4406

    run(scenario)

    logged: Any = refusals(caplog)
    if stack == "strawberry":
        # Strawberry answers this itself, before the package's code runs.
        assert logged == []
    else:
        assert logged == [
            (
                LOGGER,
                logging.WARNING,
                "user_messages: WebSocket /graphql refused (4406): the client did not offer"
                " the graphql-transport-ws subprotocol",
            )
        ]
