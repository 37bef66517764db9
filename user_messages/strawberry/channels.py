"""Live updates on Strawberry: its own graphql-transport-ws handler on Channels, with our rules.

Strawberry speaks the protocol (``strawberry.channels.GraphQLWSConsumer`` and its
graphql-transport-ws handler); this module adds what the graphene consumer of
``user_messages.realtime`` does around it, through the same code (``LiveSocket``):

- the Origin checked at the handshake as Django's CSRF check would (refused: HTTP 403);
- at connection_init, 4403 for a user who is not signed in, and the socket's ``LiveContext``
  (``info.context.live``) joined to its user's group and the process's shared-group listener;
- 4403 when the session ends (logout, password change, deactivation, expiry), 4503 when the
  channel layer fails, and the groups left however the socket ends;
- a subscribe checked off the event loop (the HTTP views' document limits, subscriptions only,
  a root that selects a field) before Strawberry runs it, and every frame a client can send
  answered with an ``error`` or a 44xx close, never 1011.

Route it behind Channels' ``AuthMiddlewareStack``::

    application = ProtocolTypeRouter(
        {"http": django_asgi_app, "websocket": websocket_application(schema)}
    )
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import path
from graphql import GraphQLError
from strawberry.channels import GraphQLWSConsumer as StrawberryGraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.unset import UNSET, UnsetType

from user_messages.conf import conf
from user_messages.realtime.consumer import (
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    NOT_SIGNED_IN,
    LiveContext,
    LiveSocket,
    _origin_allowed,
    check_subscription,
    close_reason,
    log_refusal,
    refuse_origin,
    too_many_subscriptions,
)

logger = logging.getLogger(__name__)

__all__ = ["GraphQLWSConsumer", "StrawberryLiveContext", "websocket_application"]

_INVALID = "Invalid message received"


@dataclass
class StrawberryLiveContext:
    """``info.context`` of a subscription served by ``GraphQLWSConsumer``."""

    #: The socket's user, count reader and change wake-ups (``myMessageCount`` reads them).
    live: LiveContext
    #: The consumer, as Strawberry's own context names it.
    request: Any
    ws: Any
    #: The connection_init payload.
    connection_params: Any = field(default=None)


class _Unavailable(Exception):
    """on_ws_connect closed the socket (the channel layer failed): no acknowledgement."""


class _TransportWSHandler(BaseGraphQLTransportWSHandler[StrawberryLiveContext, None]):
    """Strawberry's graphql-transport-ws handler, refusing what it would crash on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.view.protocol = self  # type: ignore[attr-defined]

    async def handle_message(self, message: Any) -> None:
        # Strawberry reads message["type"] and the subscribe payload's keys trusting their
        # shapes: a list, a number or a payload of the wrong type raises TypeError, which
        # would end the handler's task. The protocol's answer to a malformed message is 4400.
        if not _well_formed(message):
            await self.handle_invalid_message(_INVALID)
            return
        try:
            await super().handle_message(message)
        except Exception:
            # A fault of ours, not of the message: logged, and closed as graphql-ws defines
            # rather than ending the handler, which would leave the socket open and deaf.
            logger.exception("user_messages: handling a %r message failed", message["type"])
            await self.websocket.close(INTERNAL_SERVER_ERROR, "Internal server error")

    async def handle_connection_init(self, message: Any) -> None:
        with contextlib.suppress(_Unavailable):  # closed with 4503 already
            await super().handle_connection_init(message)

    async def handle_subscribe(self, message: Any) -> None:
        # Strawberry's refusals first (4401, 4409), then ours: the same limit and checks, and
        # the same errors, as the graphene consumer's.
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)
            return
        if len(self.operations) >= conf.WEBSOCKET_MAX_SUBSCRIPTIONS:
            await self._send_errors(message["id"], [too_many_subscriptions(len(self.operations))])
            return
        schema = self.schema._schema  # type: ignore[attr-defined]
        try:
            document, errors = await check_subscription(schema, message["payload"])
        except Exception:
            # A fault of ours: the client still gets an answer for this id, the socket stays.
            logger.exception("user_messages: starting subscription %r failed", message["id"])
            document, errors = None, [GraphQLError("Internal server error.")]
        if document is None:
            await self._send_errors(message["id"], errors)
            return
        await super().handle_subscribe(message)

    async def _send_errors(self, operation_id: str, errors: list[GraphQLError]) -> None:
        await self.send_message(
            {"id": operation_id, "type": "error", "payload": [error.formatted for error in errors]}
        )


def _well_formed(message: Any) -> bool:
    """Whether Strawberry's handler can read ``message`` without raising."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    kind = message["type"]
    if kind == "connection_init":
        return isinstance(message.get("payload", {}), (dict, type(None)))
    if kind == "complete":
        return isinstance(message.get("id"), str)
    if kind != "subscribe":
        return True  # ping, pong, or a type Strawberry closes 4400 for itself
    operation_id = message.get("id")
    payload = message.get("payload")
    return (
        isinstance(operation_id, str)
        and bool(operation_id)
        and isinstance(payload, dict)
        and isinstance(payload.get("query"), str)
        and isinstance(payload.get("variables"), (dict, type(None)))
        and isinstance(payload.get("operationName"), (str, type(None)))
        and isinstance(payload.get("extensions"), (dict, type(None)))
    )


class GraphQLWSConsumer(  # type: ignore[misc]
    LiveSocket, StrawberryGraphQLWSConsumer[StrawberryLiveContext, None]
):
    """Strawberry's graphql-transport-ws consumer, serving ``myMessageCount`` to signed-in users."""

    graphql_transport_ws_handler_class = _TransportWSHandler
    protocol: _TransportWSHandler | None = None

    def __init__(
        self,
        schema: BaseSchema,
        *,
        subscription_protocols: Sequence[str] = (GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout: datetime.timedelta | None = None,
        max_subscriptions_per_connection: int | None = None,
        **kwargs: Any,
    ) -> None:
        # Only graphql-transport-ws: Strawberry's legacy graphql-ws handler would bypass the
        # checks above. The timeouts and limits are the package's settings, as on graphene.
        super().__init__(
            schema,
            subscription_protocols=subscription_protocols,
            connection_init_wait_timeout=connection_init_wait_timeout
            or datetime.timedelta(seconds=conf.WEBSOCKET_INIT_TIMEOUT),
            # Strawberry's own limit stays off: the handler applies WEBSOCKET_MAX_SUBSCRIPTIONS.
            max_subscriptions_per_connection=max_subscriptions_per_connection,
            **kwargs,
        )

    async def connect(self) -> None:
        if refuse_origin(self.scope):
            # Refusing the handshake (HTTP 403): another site's page must not open a socket
            # that the browser authenticates with this site's session cookie.
            await self.close()
            return
        self._live = LiveContext(user=self.scope.get("user"), scope=self.scope)
        # Strawberry runs the protocol in a task of its own; ours, so that __call__ cancels
        # and awaits it however the instance ends, and a fault in it closes with 4500.
        self.run_task = self._spawn(self._serve())

    def is_websocket_origin_allowed(self, request: Any, origin: str) -> bool:
        """Strawberry 0.338+ asks this for a cross-origin handshake: Django's rule, as connect."""
        # Strawberry's own check accepts only allowed_origins for another origin; the package's
        # rule (CSRF_TRUSTED_ORIGINS, proxy settings) already ran in connect().
        return _origin_allowed(request.scope)

    async def _serve(self) -> None:
        try:
            await self.run(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("user_messages: the Strawberry WebSocket handler failed")
            if not self._closing:
                await self._close(INTERNAL_SERVER_ERROR, "Internal server error")

    async def disconnect(self, code: int) -> None:
        if self.run_task is None:
            return  # refused at the handshake
        # Strawberry's handler ends its operations as the client's disconnect reaches it.
        self.message_queue.put_nowait({"message": None, "disconnected": True})
        await asyncio.gather(self.run_task, return_exceptions=True)

    async def get_context(self, request: Any, response: Any) -> StrawberryLiveContext:
        return StrawberryLiveContext(live=self._live, request=request, ws=request)

    async def on_ws_connect(self, context: StrawberryLiveContext) -> UnsetType:
        user = self._live.user
        if user is None or not user.is_authenticated:
            log_refusal(self.scope, FORBIDDEN, NOT_SIGNED_IN)
            raise ConnectionRejectionError  # Strawberry closes 4403 "Forbidden"
        if not await self._go_live():
            raise _Unavailable
        self._acknowledged = True  # Strawberry sends connection_ack next
        self._check_sessions()
        return cast("UnsetType", UNSET)  # a connection_ack without a payload, as graphene's

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except (RecursionError, ValueError) as error:
            # Nested deeper than Python's recursion limit, or an integer longer than
            # sys.get_int_max_str_digits(): refused as any undecodable text (4400).
            raise json.JSONDecodeError(str(error), "", 0) from None

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        if self._closing:
            return  # a subscription's last result racing the close it lost to
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        # Strawberry's handler closes too (4400, 4408, 4429...): from then on nothing is sent.
        self._closing = True
        self._stop()
        await super().close(code=code, reason=None if reason is None else close_reason(reason))

    def _stop(self) -> None:
        super()._stop()
        # Strawberry's operations are tasks of its handler: cancelled, nothing more is sent.
        if self.protocol is not None:
            for operation in list(self.protocol.operations.values()):
                if operation.task is not None:
                    operation.task.cancel()


def websocket_application(schema: BaseSchema, *, route: str = "graphql") -> Any:
    """The ASGI application for ``"websocket"``: the consumer at ``route``, with sessions."""
    return AuthMiddlewareStack(URLRouter([path(route, GraphQLWSConsumer.as_asgi(schema=schema))]))
