"""ASGI on Strawberry: Django for HTTP, the package's Strawberry consumer for WebSocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django_application = get_asgi_application()  # before importing the consumer

from channels.routing import ProtocolTypeRouter

from mysite.schema import schema
from user_messages.strawberry.channels import websocket_application

application = ProtocolTypeRouter(
    {"http": django_application, "websocket": websocket_application(schema)}
)
