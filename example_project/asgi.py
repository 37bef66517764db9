"""ASGI entry point: HTTP through Django, and the GraphQL WebSocket at the same path /graphql.

GRAPHQL_STACK (example_project/settings.py) picks the stack: graphene's socket is the package's
consumer, Strawberry's is Strawberry's own with the package's rules (user_messages.strawberry).
GRAPHQL_HTTP=channels (with Strawberry) answers /graphql over HTTP with the package's Channels
consumer instead of the Django view.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
# Set up Django (apps, models) before importing anything that uses them.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402


def _websocket_application() -> Any:
    # Either consumer refuses a handshake whose Origin Django's CSRF check would refuse, and
    # AuthMiddlewareStack gives it the session's user.
    if settings.GRAPHQL_STACK == "strawberry":
        from example_project.strawberry_schema import schema
        from user_messages.strawberry.channels import websocket_application

        return websocket_application(schema)
    from user_messages.realtime.consumer import GraphQLWSConsumer

    return AuthMiddlewareStack(URLRouter([path("graphql", GraphQLWSConsumer.as_asgi())]))


def _http_application() -> Any:
    if settings.GRAPHQL_HTTP == "channels":
        # [channels-http]
        from django.urls import re_path

        from example_project.strawberry_schema import schema
        from user_messages.strawberry.channels_http import http_consumer

        # /graphql to the package's consumer (behind AuthMiddlewareStack), the rest to Django.
        http = URLRouter([path("graphql", http_consumer(schema)), re_path(r"", django_application)])
        # [/channels-http]
        return http
    return django_application


application = ProtocolTypeRouter(
    {"http": _http_application(), "websocket": _websocket_application()}
)
