"""ASGI entry point: HTTP through Django, and the GraphQL WebSocket at the same path /graphql."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
# Set up Django (apps, models) before importing anything that uses them.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from user_messages.realtime.consumer import GraphQLWSConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # The consumer refuses a handshake whose Origin is not in ALLOWED_HOSTS or
        # CSRF_TRUSTED_ORIGINS; AuthMiddlewareStack gives it the session's user.
        "websocket": AuthMiddlewareStack(URLRouter([path("graphql", GraphQLWSConsumer.as_asgi())])),
    }
)
