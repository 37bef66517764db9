"""The two GraphQL stacks the realtime suites run on: ``stack`` is "graphene" or "strawberry".

A suite imports ``pytest_generate_tests`` and ``stack`` from here: each of its tests runs once
per stack, except those marked ``@pytest.mark.stackless`` (what does not touch a socket), which
run once, with graphene's.
"""

from __future__ import annotations

from typing import Any

import pytest

STACKS = ("graphene", "strawberry")

# Why a close of either stack came for a message that is not the protocol. The code (4400) is
# what graphql-transport-ws defines and clients read; the reason is each server's own text.
INVALID_MESSAGE_REASONS = {
    "graphene": {"Invalid message received"},
    "strawberry": {
        "Invalid message received",  # what user_messages.strawberry.channels refuses
        "WebSocket message must be valid JSON",
        "WebSocket message type must be text",
        "Failed to parse message",
    },
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses ``stack`` once per stack, unless it is marked ``stackless``."""
    if "stack" in metafunc.fixturenames and not metafunc.definition.get_closest_marker("stackless"):
        metafunc.parametrize("stack", STACKS, indirect=True)


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> str:
    """The GraphQL stack under test (graphene for a ``stackless`` test)."""
    name: str = getattr(request, "param", "graphene")
    if name == "strawberry":
        pytest.importorskip("strawberry")
    return name


def websocket_application(stack: str) -> Any:
    """The ``"websocket"`` ASGI application of ``stack``, behind AuthMiddlewareStack."""
    if stack == "strawberry":
        from tests.strawberry_schema import schema
        from user_messages.strawberry.channels import websocket_application

        return websocket_application(schema)
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter
    from django.urls import path

    from user_messages.realtime.consumer import GraphQLWSConsumer

    return AuthMiddlewareStack(URLRouter([path("graphql", GraphQLWSConsumer.as_asgi())]))
