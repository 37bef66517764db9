"""The tutorial's ASGI application: Django for HTTP, the package's consumer for WebSocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django_application = get_asgi_application()  # before importing the consumer

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from user_messages.realtime.consumer import GraphQLWSConsumer

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AuthMiddlewareStack(URLRouter([path("graphql", GraphQLWSConsumer.as_asgi())])),
    }
)
