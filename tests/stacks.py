"""What tests share about the two GraphQL stacks (the ``stack`` fixture of tests/conftest.py)."""

from __future__ import annotations

from typing import Any

#: The Accept header of the test clients, as current GraphQL clients (urql) send it: the
#: GraphQL-over-HTTP media type, whose status codes say what failed (400 without ``data`` for
#: a request error). Tests of ``application/json`` send their own Accept.
GRAPHQL_ACCEPT = {"Accept": "application/graphql-response+json, application/json;q=0.9"}

# Why a close of either stack came for a message that is not the protocol. The code (4400) is
# what graphql-transport-ws defines and clients read; the reason is each server's own text.
INVALID_MESSAGE_REASONS = {
    "graphene": {"Invalid message received"},
    "strawberry": {
        "Invalid message received",  # what user_messages.strawberry.channels refuses
        "WebSocket message must be valid JSON",
        "WebSocket message type must be text",
        "Failed to parse message",
        "Subprotocol not acceptable",
    },
}


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
