"""The floor of `bench`'s send -> event latency: a live count with no GraphQL stack at all.

The least any live count costs on this deployment: Channels' session auth, the package's group
fan-out through the same channel layer, one count query and one frame. It speaks only the part
of graphql-transport-ws the bench's graphql-ws client uses (init/ack, one subscribe, ping/pong),
answers every subscribe with the count whatever its document, and checks nothing else: it is a
yardstick for the bench, never something to serve.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from user_messages import api  # noqa: E402
from user_messages.realtime.groups import user_group  # noqa: E402


class FloorConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Joins the user's group and sends the pending count at once and on each change."""

    subscription_id: str | None = None

    async def connect(self) -> None:
        """Accept a signed-in user's socket with the protocol's subprotocol."""
        if not self.scope["user"].is_authenticated:
            await self.close(code=4403)
            return
        await self.accept("graphql-transport-ws")

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The few frames the bench's client sends."""
        kind = content.get("type")
        if kind == "connection_init":
            await self.send_json({"type": "connection_ack"})
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe":
            self.subscription_id = content["id"]
            await self.channel_layer.group_add(user_group(self.scope["user"].pk), self.channel_name)
            await self.send_count()

    async def disconnect(self, code: int) -> None:
        """Leave the group, as the package's consumers do."""
        if self.subscription_id is None:
            return
        await self.channel_layer.group_discard(user_group(self.scope["user"].pk), self.channel_name)

    async def user_messages_changed(self, event: dict[str, Any]) -> None:
        """The package's fan-out: a change for this user (or everyone)."""
        await self.send_count()

    async def send_count(self) -> None:
        """One count query, one ``next`` frame."""
        count = await database_sync_to_async(api.pending_count)(self.scope["user"])
        await self.send_json(
            {
                "type": "next",
                "id": self.subscription_id,
                "payload": {"data": {"myMessageCount": count}},
            }
        )


application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AuthMiddlewareStack(URLRouter([path("graphql", FloorConsumer.as_asgi())])),
    }
)
