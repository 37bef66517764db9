"""GraphQL subscriptions over WebSocket: the graphql-transport-ws protocol on a Channels consumer.

The protocol is the one the ``graphql-ws`` client and Apollo's ``GraphQLWsLink`` speak (see
PROTOCOL.md in the enisdenjo/graphql-ws repository). Only ``subscription`` operations are served:
queries and mutations go over HTTP POST, where Django's CSRF protection applies.

Route it at the same path as the HTTP view, behind Channels' ``AuthMiddlewareStack``::

    URLRouter([path("graphql", GraphQLWSConsumer.as_asgi())])
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Coroutine
from inspect import isawaitable
from typing import Any

import graphql
from asgiref.sync import sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import InterfaceError, OperationalError, close_old_connections
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    create_source_event_stream,
    execute,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode
from graphql.utilities import get_operation_ast

from user_messages.conf import conf
from user_messages.graphql_limits import check_off_loop, variable_list_errors
from user_messages.realtime.groups import (
    CHANGED,
    CREDENTIALS_CHANGED,
    EVERYONE_GROUP,
    LOGGED_OUT,
    SharedGroupListener,
    end_tasks,
    layer_answered,
    renewal_period,
    shared_group_listener,
    user_group,
)
from user_messages.realtime.sessions import session_digest, session_still_holds

logger = logging.getLogger(__name__)

__all__ = [
    "GRAPHQL_TRANSPORT_WS",
    "GraphQLWSConsumer",
    "LiveContext",
    "LiveSocket",
    "check_subscription",
    "close_reason",
    "too_many_subscriptions",
]

#: The WebSocket subprotocol a client must offer.
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"

# Close codes of the graphql-transport-ws protocol.
BAD_REQUEST = 4400  # a message that is not JSON or not a protocol message
UNAUTHORIZED = 4401  # subscribe before the connection was acknowledged
FORBIDDEN = 4403  # connection_init from a user who is not signed in, or the session ended
SUBPROTOCOL_NOT_ACCEPTABLE = 4406  # the client did not offer graphql-transport-ws
CONNECTION_INIT_TIMEOUT = 4408  # no connection_init within WEBSOCKET_INIT_TIMEOUT seconds
SUBSCRIBER_EXISTS = 4409  # a subscribe whose id is already running
TOO_MANY_INIT_REQUESTS = 4429  # a second connection_init
INTERNAL_SERVER_ERROR = 4500  # a fault of the server's handling a message (a bug, logged)
# The channel layer failed: come back later. Not WebSocket's 1013 (Try Again Later): daphne's
# autobahn lets an application close only with 1000 or 3000-4999 and sends 1011 instead, which
# graphql-ws treats as fatal. graphql-ws retries, with its backoff, every 4xxx code it does not
# list as fatal (see shouldRetryConnectOrThrow in its client); 4503 mirrors HTTP's 503.
SERVICE_UNAVAILABLE = 4503

# What this socket's channel-layer receive hands to dispatch when the layer failed.
_LAYER_FAILED = "user_messages.layer_failed"


class LiveContext:
    """``info.context`` of a subscription: the signed-in user, their count, and change wake-ups."""

    def __init__(self, *, user: Any, scope: dict[str, Any]) -> None:
        self.user = user
        self.scope = scope
        self._wakeups: set[asyncio.Event] = set()

    async def pending_count(self, categories: list[str] | None = None) -> int:
        """The user's pending count, read with those other sockets of this process ask for.

        ``categories`` (checked names; None: all) counts those categories only.
        """
        return await _count_reader().count(self.user.pk, categories)

    @contextlib.asynccontextmanager
    async def message_changes(self) -> AsyncIterator[AsyncIterator[None]]:
        """Registered on entry: iterate to wait until the user's messages may have changed."""
        # One flag per subscription, not a queue: changes that arrive while the subscriber is
        # busy (reading, or sending to a slow client) fold into one wake-up, so memory per
        # connection stays bounded however fast messages are sent.
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        try:
            yield _wakeups(wakeup)
        finally:
            self._wakeups.discard(wakeup)

    def changed(self) -> None:
        """Wake every subscription of this connection."""
        for wakeup in self._wakeups:
            wakeup.set()


async def _wakeups(wakeup: asyncio.Event) -> AsyncIterator[None]:
    while True:
        await wakeup.wait()
        wakeup.clear()
        yield None


#: What a socket asks a count of: a user's id, and the categories (None: all) as a frozenset.
_CountKey = tuple[Any, frozenset[str] | None]


async def _apending_counts(keys: list[_CountKey]) -> dict[_CountKey, int]:
    """Pending counts of these users in one query, as ``api.pending_count`` counts them.

    Counted per user, and per category when some socket asked for only some categories.
    Through the async ORM: the query runs in Channels' one thread-sensitive thread (one hop,
    as ``database_sync_to_async`` made), and that thread's connection stays open for the next
    read instead of being checked and closed around each one (see ``_read_counts``).
    """
    from user_messages.models import Message

    user_ids = list(dict.fromkeys(user_id for user_id, _ in keys))
    pending = Message.objects.filter(user_id__in=user_ids).pending().unexpired().order_by()
    if all(categories is None for _, categories in keys):
        totals = {
            user_id: count
            async for user_id, count in pending.values_list("user_id").annotate(count=Count("pk"))
        }
        return {key: totals.get(key[0], 0) for key in keys}
    by_category: dict[Any, dict[str, int]] = {}
    async for user_id, category, count in pending.values_list("user_id", "category").annotate(
        count=Count("pk")
    ):
        by_category.setdefault(user_id, {})[category] = count
    return {
        (user_id, categories): sum(
            count
            for category, count in by_category.get(user_id, {}).items()
            if categories is None or category in categories
        )
        for user_id, categories in keys
    }


async def _read_counts(keys: list[_CountKey]) -> dict[_CountKey, int]:
    """``_apending_counts``, read again once on a fresh connection if the held one failed.

    The connection held between reads can go stale: the database restarted, a pooler or the
    server closed it while idle. Django replaces a connection only when asked to
    (``close_old_connections``), which ``database_sync_to_async`` did around every read, at
    the price of a reconnect (``CONN_MAX_AGE`` 0) or a health-check query per read. Here it is
    asked only after a failure, and the read runs again on a new connection.
    """
    try:
        return await _apending_counts(keys)
    except (InterfaceError, OperationalError):
        logger.info("user_messages: a count read failed; reading again on a new connection")
        await sync_to_async(close_old_connections)()
        return await _apending_counts(keys)


class _CountReader:
    """Reads the counts the sockets of one process ask for, many users per query.

    A broadcast wakes every socket at once; one query per socket would cost as many queries as
    connected users. Requests that arrive while a read runs wait for the next one, which asks
    for all of them (at most MAX_USERS per query).
    """

    MAX_USERS = 500

    def __init__(self) -> None:
        self._waiting: dict[_CountKey, list[asyncio.Future[int]]] = {}
        self._reading: asyncio.Task[None] | None = None
        self._callers = 0  # count() calls not returned yet

    async def count(self, user_id: Any, categories: list[str] | None = None) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        key = (user_id, None if categories is None else frozenset(categories))
        self._waiting.setdefault(key, []).append(future)
        if self._reading is None:
            self._reading = asyncio.create_task(self._read_all())
        reading = self._reading
        self._callers += 1
        try:
            return await future
        finally:
            self._callers -= 1
            if not self._callers and not reading.done():
                # No caller waits any more (cancelled: all at once when daphne stops). The read
                # serves no one, and left running it would outlive their sockets and be
                # destroyed pending with the event loop. A caller from now on starts a new read.
                self._reading = None
                reading.cancel()
                await asyncio.wait([reading])

    async def _read_all(self) -> None:
        try:
            while self._waiting:
                keys = list(itertools.islice(self._waiting, self.MAX_USERS))
                batch = {key: self._waiting.pop(key) for key in keys}
                try:
                    # The one thread-sensitive thread, as Channels does by default: grouped,
                    # these reads are few, and they share its one connection.
                    counts = await _read_counts(keys)
                except Exception as error:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for key, futures in batch.items():
                    for future in futures:
                        # A subscription cancelled meanwhile has cancelled its future.
                        if not future.done():
                            future.set_result(counts.get(key, 0))
        finally:
            if self._reading is asyncio.current_task():
                self._reading = None


_count_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _CountReader] = (
    weakref.WeakKeyDictionary()
)


def _count_reader() -> _CountReader:
    loop = asyncio.get_running_loop()
    reader = _count_readers.get(loop)
    if reader is None:
        reader = _count_readers[loop] = _CountReader()
    return reader


#: Group joins and leaves one process runs at once. A server stopping ends all its sockets
#: together (2,000 leaving at once ran out of redis-py's pool of 1,000 connections: "Too many
#: connections", and the members stayed in Redis), as a reconnect storm joins them together.
GROUP_CONCURRENCY = 100

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _group_slots() -> asyncio.Semaphore:
    """This event loop's bound on concurrent group joins and leaves."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(GROUP_CONCURRENCY)
    return slots


def _origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether Django's CSRF check would accept this handshake's Origin on a POST to this host."""
    return _origin_refusal(scope) is None


def _origin_refusal(scope: dict[str, Any]) -> str | None:
    """Why Django's CSRF check would refuse this handshake's Origin, or None if it accepts it."""
    request = _handshake_request(scope)
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None:
        # Browsers send one with every WebSocket: no Origin, no browser page.
        return "no Origin header (a browser sends one; a script must send its page's origin)"
    try:
        host = request.get_host()
    except DisallowedHost:
        # Django answers 400 to any request for a host not in ALLOWED_HOSTS.
        return f"the Host header {request.META.get('HTTP_HOST')!r} is not in ALLOWED_HOSTS"
    # Django's own rule, not a copy of it: the scheme, host and port of the request (proxy
    # settings included), or CSRF_TRUSTED_ORIGINS with its wildcards. _origin_verified is the
    # same in Django 4.2 to 6.1, and tests/test_realtime_session.py runs a table of origins
    # through it and through a real POST, so a Django that changes it fails a test.
    middleware = CsrfViewMiddleware(_no_response)
    if middleware._origin_verified(request):  # type: ignore[attr-defined]
        return None
    return (
        f"Origin {origin!r} is neither {request.scheme}://{host} nor in CSRF_TRUSTED_ORIGINS"
        " (behind a proxy: SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST)"
    )


def log_refusal(scope: dict[str, Any], code: int, why: str) -> None:
    """Log at WARNING why a socket was refused: runserver and daphne print it by default."""
    # Python's last-resort handler prints WARNING and above when the project configures no
    # logging for this logger, so a developer sees the reason without setting anything up.
    logger.warning("user_messages: WebSocket %s refused (%s): %s", scope.get("path", ""), code, why)


def refuse_origin(scope: dict[str, Any]) -> bool:
    """Log and return True when the handshake's Origin must be refused (HTTP 403)."""
    refusal = _origin_refusal(scope)
    if refusal is not None:
        log_refusal(scope, 403, refusal)
    return refusal is not None


NOT_SIGNED_IN = (
    "no signed-in user at connection_init (no session cookie, a session that ended, or a"
    " socket routed without AuthMiddlewareStack)"
)


def _handshake_request(scope: dict[str, Any]) -> HttpRequest:
    """The handshake as Django sees an HTTP request: META from the headers, ws/wss as http/s."""
    # ASGI's WebSocket scope differs from an HTTP one in the method, which the handshake has
    # (GET), and the scheme: "ws" or "wss", "ws" when absent (daphne never sets it).
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return ASGIRequest({**scope, "type": "http", "method": "GET", "scheme": scheme}, io.BytesIO())


def _no_response(request: HttpRequest) -> HttpResponse:
    raise AssertionError("only the CSRF middleware's origin check is used")


class LiveSocket(AsyncWebsocketConsumer):  # type: ignore[misc]
    """What a GraphQL WebSocket consumer of either stack does around its protocol.

    The socket's ``LiveContext`` in its user's group and counted by the process's shared-group
    listener, the groups renewed and left however the instance ends, a channel-layer failure
    closed with 4503, and the session rechecked (4403 once it ended). A subclass speaks the
    protocol: it sets ``_live``, calls ``_go_live()`` at connection_init, ``_check_sessions()``
    once acknowledged, and sends nothing once ``_closing``.
    """

    #: The channel-layer groups joined, which __call__ leaves as the instance ends.
    groups: list[str]
    _acknowledged = False
    _layer_failed = False
    #: The key of the session the socket was authenticated with, and its digest.
    _session_key: str | None = None
    _session_digest: str | None = None
    _closing = False
    #: The process's listener to the shared group this socket counts in, which __call__ leaves.
    _broadcasts: SharedGroupListener | None = None
    #: What the subscriptions of this socket read and wait on; set by the subclass.
    _live: LiveContext

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            # A server stopping cancels every instance. daphne then waits for them with
            # asyncio.gather(), which returns as soon as the first one ends cancelled: the loop
            # stopped while other sockets were still leaving their groups in Redis. Ended
            # normally once cleaned up (below), each instance is waited for.
            task = asyncio.current_task()
            if task is not None and hasattr(task, "uncancel"):  # Python 3.11+
                task.uncancel()
        finally:
            broadcasts, self._broadcasts = self._broadcasts, None
            # Out of the listener's sockets before any wait, so that sockets ending together
            # all see the last one out, and all wait for the process to leave the shared group.
            if broadcasts is not None:
                broadcasts.remove(self)
            # However the instance ends: the client's disconnect, an exception, or a cancel.
            # daphne cancels every instance when it stops, and Channels then calls no
            # disconnect(): a task left pending would be destroyed with the event loop ("Task
            # was destroyed but it is pending!"). Awaited, so they end before the instance.
            await end_tasks(list(self._tasks))
            # Here, not in websocket_disconnect, which Channels skips after an exception or a
            # cancel: a channel left in its groups stays there until group_expiry (a day by
            # default), and channels_redis buffers every change sent to it in this process.
            await self._leave_groups()
            if broadcasts is not None:
                await broadcasts.stopped()

    async def _leave_groups(self) -> None:
        """Leave the groups joined; a failure (the layer down) is logged, never raised."""
        groups = self.groups
        self.groups = []
        if not groups or self.channel_layer is None:
            return
        try:
            for group in groups:
                async with _group_slots():
                    await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:
            logger.warning("user_messages: could not leave %s", groups, exc_info=True)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task of this socket's: __call__ cancels and awaits it when the instance ends."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # Channels' __call__ sets channel_receive to the layer's receive and awaits it beside the
    # client's: an error from it (Redis down) would end the application, which daphne closes
    # with 1011, a code graphql-ws does not retry. The property hands it _receive_from_layer.
    @property
    def channel_receive(self) -> Any:
        return self._receive_from_layer

    @channel_receive.setter
    def channel_receive(self, receive: Any) -> None:
        self._layer_receive = receive

    async def _receive_from_layer(self) -> dict[str, Any]:
        if self._layer_failed:
            await asyncio.Future()  # never: the socket closes, and Channels cancels this wait
        # In a task of its own, which a cancel of this one ends however long that takes (end_tasks):
        # Channels cancels this wait once when the instance ends, and waits for it.
        receiving = asyncio.ensure_future(self._layer_receive())
        try:
            return await asyncio.shield(receiving)
        except asyncio.CancelledError:
            await end_tasks([receiving])
            raise
        except Exception:
            logger.warning("user_messages: the channel layer failed", exc_info=True)
            self._layer_failed = True
            if self._broadcasts is not None:
                # channels_redis receives for every socket of the process on one connection:
                # whatever it lost, any of them may have missed, and a socket whose next receive
                # went through (Redis back, or Sentinel's new primary) would keep a stale count.
                # All of them close (4503), and count again when graphql-ws reconnects them.
                self._broadcasts.layer_failed()
            return {"type": _LAYER_FAILED}

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' own leaves the groups, and raises if that fails (Redis down): __call__
        # leaves them instead, however the instance ends.
        await self.disconnect(message.get("code"))
        raise StopConsumer

    def _stop(self) -> None:
        """Closing: stop the init timeout and the subscriptions, so nothing more is sent."""
        current = asyncio.current_task()
        for task in self._tasks:
            # The init timeout closes the socket itself: cancelled, it could not send the close.
            if task is not current:
                task.cancel()

    async def _close(self, code: int, reason: str) -> None:
        self._closing = True
        self._stop()
        await self.close(code=code, reason=close_reason(reason))

    async def _go_live(self) -> bool:
        """At connection_init of a signed-in user: join the groups; False if closed instead.

        Closes with 4503 (and returns False) when the channel layer fails.
        """
        # A socket authenticated otherwise (a middleware of the host's) has no session to check.
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key:
            self._session_key = session_key
            self._session_digest = session_digest(session_key)
        if self.channel_layer is None:
            return True
        groups = [user_group(self._live.user.pk)]
        try:
            await self._join(groups)
        except Exception:
            # Without its groups the socket would never hear of a change: close it with a
            # code graphql-ws retries (unlike 1011 and 4500), not serve stale counts.
            logger.warning("user_messages: could not join %s", groups, exc_info=True)
            await self._close(SERVICE_UNAVAILABLE, "Try again later")
            return False
        # Broadcasts reach the process once, not each socket: see SharedGroupListener.
        self._broadcasts = shared_group_listener(self.channel_layer)
        try:
            await self._broadcasts.add(self)
        except Exception:
            logger.warning("user_messages: could not join %s", [EVERYONE_GROUP], exc_info=True)
            await self._close(SERVICE_UNAVAILABLE, "Try again later")
            return False
        if self._layer_failed or self._broadcasts.failed:
            # Joined, but this socket's receive from the layer failed before: as deaf.
            await self._close(SERVICE_UNAVAILABLE, "Try again later")
            return False
        self._spawn(self._stay_in(groups))
        return True

    def _check_sessions(self) -> None:
        """Once acknowledged: recheck the session every WEBSOCKET_SESSION_RECHECK seconds."""
        if self._session_key is not None:
            self._spawn(self._recheck_session())

    async def _stay_in(self, groups: list[str]) -> None:
        """Join ``groups`` again each half ``group_expiry``, for as long as the socket is open."""
        period = renewal_period(self.channel_layer)
        while True:
            await asyncio.sleep(period)
            try:
                await self._join(groups)
            except Exception:
                # As at connection_init: a socket that cannot stay in its groups would go deaf.
                logger.warning("user_messages: could not join %s again", groups, exc_info=True)
                await self._close(SERVICE_UNAVAILABLE, "Try again later")
                return

    async def _join(self, groups: list[str]) -> None:
        """Join (or join again) ``groups``; ``self.groups``, which the socket leaves, lists each."""
        started = time.monotonic()
        for group in groups:
            # Listed before the add: cancelled while waiting for Redis, the add may have been
            # done, and the socket must leave the group then. A failed add is not listed.
            listed = group in self.groups
            if not listed:
                self.groups.append(group)
            try:
                async with _group_slots():
                    await self.channel_layer.group_add(group, self.channel_name)
            except Exception:
                if not listed:
                    self.groups.remove(group)
                raise
        # The layer answers: senders of this process need not wait out their pause (sockets
        # reconnecting after an outage are the first to know).
        layer_answered(self.channel_layer, started)

    async def _recheck_session(self) -> None:
        """Check the session again at least every WEBSOCKET_SESSION_RECHECK seconds."""
        # For sessions that end without a signal: expired, or their rows deleted.
        while (period := conf.WEBSOCKET_SESSION_RECHECK) is not None:
            # Between half and all of the period: sockets opened together (every tab of a
            # site reconnecting after a deploy) spread their checks over time.
            await asyncio.sleep(period * random.uniform(0.5, 1))
            await self._check_session()

    async def _check_session(self) -> None:
        """Close with 4403 unless the session still authenticates the user, as for HTTP."""
        assert self._session_key is not None
        try:
            holds = await session_still_holds(self._session_key, self._live.user.pk)
        except Exception:
            # The database is down: the next check, or the next change, asks again.
            logger.warning("user_messages: could not check a socket's session", exc_info=True)
            return
        if not holds:
            await self._close(FORBIDDEN, "Session ended")

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == CHANGED:
            # Channels' dispatch first closes stale database connections in its one
            # thread-sensitive thread; a wake-up touches no connection, and a broadcast wakes
            # every socket of the process at once, so that hop would serialise them all.
            await self.user_messages_changed(message)
            return
        if message["type"] == _LAYER_FAILED:
            # Acknowledged, the socket would stop hearing of changes: closed as at a failed
            # join (unless the listener's failure closes it already). Before that,
            # connection_init closes it.
            if self._acknowledged and not self._closing:
                await self._close(SERVICE_UNAVAILABLE, "Try again later")
            return
        # By name, not through the base class's dispatch: Strawberry's hands every type it
        # does not know to its own listeners instead of to a handler method.
        if message["type"] == LOGGED_OUT:
            await self.user_messages_logged_out(message)
            return
        if message["type"] == CREDENTIALS_CHANGED:
            await self.user_messages_credentials_changed(message)
            return
        await super().dispatch(message)

    # Channels names the handler after the group message's type, groups.CHANGED.
    async def user_messages_changed(self, event: dict[str, Any]) -> None:
        """A group message (type ``user_messages.changed``): wake this socket's subscriptions."""
        self._live.changed()

    async def user_messages_logged_out(self, event: dict[str, Any]) -> None:
        """A session of the user logged out (groups.LOGGED_OUT): close if it is this one's."""
        if self._session_digest is not None and self._session_digest in event["sessions"]:
            await self._close(FORBIDDEN, "Session ended")

    async def user_messages_credentials_changed(self, event: dict[str, Any]) -> None:
        """The user's password or is_active changed (groups.CREDENTIALS_CHANGED): check."""
        if self._session_key is not None and self._acknowledged:
            # In a task: the check waits for a database thread, and the socket's other
            # messages must not wait for it.
            self._spawn(self._check_session())

    def broadcast_heard(self) -> None:
        """The process heard a broadcast (SharedGroupListener): wake this socket's subscriptions."""
        self._live.changed()

    def broadcasts_lost(self) -> None:
        """The process's shared-group listener failed: close, as when this socket's layer fails."""
        # Before the acknowledgement, connection_init sees the failure and closes the socket.
        if self._acknowledged and not self._closing:
            self._closing = True
            self._spawn(self._close(SERVICE_UNAVAILABLE, "Try again later"))


class GraphQLWSConsumer(LiveSocket, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Serves GraphQL subscriptions with graphql-transport-ws to signed-in users."""

    #: The schema to run; None: graphene-django's GRAPHENE["SCHEMA"].
    schema: Any = None

    async def connect(self) -> None:
        if refuse_origin(self.scope):
            # Refusing the handshake (HTTP 403): another site's page must not open a socket
            # that the browser authenticates with this site's session cookie.
            await self.close()
            return
        self._acknowledged = False
        self._init_received = False
        self._subscriptions: dict[str, asyncio.Task[None]] = {}
        self._live = LiveContext(user=self.scope.get("user"), scope=self.scope)
        if GRAPHQL_TRANSPORT_WS not in self.scope.get("subprotocols", []):
            log_refusal(
                self.scope,
                SUBPROTOCOL_NOT_ACCEPTABLE,
                f"the client did not offer the {GRAPHQL_TRANSPORT_WS} subprotocol",
            )
            await self.accept()
            await self.close(code=SUBPROTOCOL_NOT_ACCEPTABLE)
            return
        await self.accept(subprotocol=GRAPHQL_TRANSPORT_WS)
        self._init_timeout = self._spawn(self._close_unless_initialised())

    def _stop(self) -> None:
        super()._stop()
        self._subscriptions.clear()

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(conf.WEBSOCKET_INIT_TIMEOUT)
        if not self._init_received:
            await self._close(CONNECTION_INIT_TIMEOUT, "Connection initialisation timeout")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):
            # RecursionError: arrays or objects nested deeper than Python's recursion limit.
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        handler = {
            "connection_init": self._on_connection_init,
            "ping": self._on_ping,
            "pong": self._on_pong,
            "subscribe": self._on_subscribe,
            "complete": self._on_complete,
        }.get(kind if isinstance(kind, str) else "")
        if handler is None:
            await self._close(BAD_REQUEST, "Invalid message received")
            return
        assert isinstance(message, dict)
        try:
            await handler(message)
        except OSError:
            # The server could not send: the client left meanwhile (uvicorn raises its
            # ClientDisconnected, an OSError, seen in a reconnect storm). Its disconnect
            # follows; there is no one to answer.
            return
        except Exception:
            # A fault of ours, not of the message: logged, and closed as graphql-ws defines
            # rather than ending the instance, which the server would close with 1011.
            logger.exception("user_messages: handling a %r message failed", kind)
            await self._close(INTERNAL_SERVER_ERROR, "Internal server error")

    async def _on_connection_init(self, message: dict[str, Any]) -> None:
        if self._init_received:
            await self._close(TOO_MANY_INIT_REQUESTS, "Too many initialisation requests")
            return
        self._init_received = True
        self._init_timeout.cancel()
        user = self._live.user
        if user is None or not user.is_authenticated:
            log_refusal(self.scope, FORBIDDEN, NOT_SIGNED_IN)
            await self._close(FORBIDDEN, "Forbidden")
            return
        if not await self._go_live():
            return
        self._acknowledged = True
        await self.send_json({"type": "connection_ack"})
        self._check_sessions()

    async def _on_ping(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    async def _on_pong(self, message: dict[str, Any]) -> None:
        pass

    async def _on_subscribe(self, message: dict[str, Any]) -> None:
        if not self._acknowledged:
            await self._close(UNAUTHORIZED, "Unauthorized")
            return
        operation_id = message.get("id")
        payload = message.get("payload")
        if (
            not isinstance(operation_id, str)
            or not operation_id
            or not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
            or not isinstance(payload.get("variables", None), (dict, type(None)))
            or not isinstance(payload.get("operationName", None), (str, type(None)))
        ):
            await self._close(BAD_REQUEST, "Invalid message received")
            return
        if operation_id in self._subscriptions:
            await self._close(SUBSCRIBER_EXISTS, f"Subscriber for {operation_id} already exists")
            return
        if len(self._subscriptions) >= conf.WEBSOCKET_MAX_SUBSCRIPTIONS:
            await self._send_errors(
                operation_id, [too_many_subscriptions(len(self._subscriptions))]
            )
            return
        try:
            result = await self._start(payload)
        except GraphQLError as error:
            # graphql-core's validate() raises for some documents instead of reporting: its
            # single-root-field rule evaluates @include(if: $var) with no variables.
            result = ExecutionResult(data=None, errors=[error])
        except Exception:
            # graphql-core raised where it should have returned errors: the client still gets
            # an answer for this id, and the socket stays open.
            logger.exception("user_messages: starting subscription %r failed", operation_id)
            result = _failed("Internal server error.")
        if isinstance(result, ExecutionResult):
            await self._send_errors(operation_id, result.errors or [])
            return
        task = self._spawn(self._run(operation_id, result))
        self._subscriptions[operation_id] = task

    async def _on_complete(self, message: dict[str, Any]) -> None:
        operation_id = message.get("id")
        if not isinstance(operation_id, str):
            await self._close(BAD_REQUEST, "Invalid message received")
            return
        task = self._subscriptions.pop(operation_id, None)
        if task is not None:
            task.cancel()

    async def _start(self, payload: dict[str, Any]) -> AsyncIterator[Any] | ExecutionResult:
        """The subscription's result stream, or an ExecutionResult holding why it cannot run."""
        schema = self._schema()
        document, errors = await check_subscription(schema, payload)
        if document is None:
            return ExecutionResult(data=None, errors=errors)
        operation_name = payload.get("operationName")
        variables = payload.get("variables")
        events = await create_source_event_stream(
            schema,
            document,
            context_value=self._live,
            variable_values=variables,
            operation_name=operation_name,
        )
        if isinstance(events, ExecutionResult):
            return events

        # What graphql-core's subscribe() returns, but run in the task that iterates it:
        # subscribe() waits for each event in two tasks of its own, which it cancels at the end
        # but does not await, so they could outlive the socket.
        async def results() -> AsyncIterator[ExecutionResult]:
            try:
                async for event in events:
                    result = execute(
                        schema,
                        document,
                        event,
                        context_value=self._live,
                        variable_values=variables,
                        operation_name=operation_name,
                    )
                    yield await result if isawaitable(result) else result
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()

        return results()

    def _schema(self) -> GraphQLSchema:
        schema = self.schema
        if schema is None:
            from graphene_django.settings import graphene_settings

            schema = graphene_settings.SCHEMA
        return getattr(schema, "graphql_schema", schema)  # type: ignore[no-any-return]

    async def _run(self, operation_id: str, stream: AsyncIterator[Any]) -> None:
        try:
            async for result in stream:
                await self.send_json(
                    {"type": "next", "id": operation_id, "payload": result.formatted}
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("user_messages: subscription %r failed", operation_id)
            await self._send_errors(operation_id, [GraphQLError("Internal server error.")])
            self._subscriptions.pop(operation_id, None)
            return
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
        if self._subscriptions.pop(operation_id, None) is not None:
            await self.send_json({"type": "complete", "id": operation_id})

    async def _send_errors(self, operation_id: str, errors: list[GraphQLError]) -> None:
        await self.send_json(
            {"type": "error", "id": operation_id, "payload": [error.formatted for error in errors]}
        )


async def check_subscription(
    schema: GraphQLSchema, payload: dict[str, Any]
) -> tuple[DocumentNode | None, list[GraphQLError]]:
    """A subscribe payload's document if it is a subscription that can run, else its errors.

    Both stacks' consumers ask this before running anything: the document limits of the HTTP
    views, run off the event loop (other sockets' frames are answered while a document is
    checked), one subscription operation, no list variable over ``MAX_LIST_LENGTH`` entries,
    and a root that selects a field.
    """
    query: str = payload["query"]
    try:
        document, errors = await check_off_loop(schema, query)
    except GraphQLError as error:
        # graphql-core's validate() raises for some documents instead of reporting: its
        # single-root-field rule evaluates @include(if: $var) with no variables.
        return None, [error]
    if document is None or errors:
        return None, errors
    operation_name = payload.get("operationName")
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None, _errors(f"No single operation named {operation_name!r} in the document.")
    if operation.operation != OperationType.SUBSCRIPTION:
        return None, _errors(
            f"This WebSocket serves subscriptions only, got a {operation.operation.value}: "
            "send queries and mutations with HTTP POST to the GraphQL view."
        )
    list_errors = variable_list_errors(schema, document, operation_name, payload.get("variables"))
    if list_errors:
        return None, list_errors
    if not _selects_a_field(schema, document, operation, payload.get("variables")):
        # graphql-core would fail with "coroutine raised StopIteration": nothing to run.
        return None, _errors(
            "The subscription selects no field: @skip or @include left its root empty."
        )
    errors = _argument_errors(schema, document, operation, payload.get("variables"))
    if errors:
        return None, errors
    return document, []


def too_many_subscriptions(running: int) -> GraphQLError:
    """The error for a subscribe beyond ``WEBSOCKET_MAX_SUBSCRIPTIONS`` on one connection."""
    return GraphQLError(
        f"This connection already runs {running} subscriptions, the most "
        "USER_MESSAGES['WEBSOCKET_MAX_SUBSCRIPTIONS'] allows: complete one before starting "
        "another."
    )


def close_reason(reason: str) -> str:
    """``reason`` cut to fit a close frame: at most 123 bytes of UTF-8, no lone surrogate."""
    # A client's long subscription id, or one with a lone surrogate ("\ud800" is valid JSON),
    # is part of some reasons, and must not make the close fail.
    return reason.encode(errors="replace")[:123].decode(errors="ignore")


def _errors(message: str) -> list[GraphQLError]:
    return [GraphQLError(message)]


def _root_fields(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
) -> tuple[dict[str, list[Any]], dict[str, Any]] | None:
    """The operation's root fields once @skip and @include apply (response key -> field
    nodes) and the coerced variables; None if the variables are invalid (then
    create_source_event_stream reports that)."""
    root_type = schema.subscription_type
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list) or root_type is None:
        return None
    fragments: dict[str, Any] = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    collect: Any = collect_fields  # its signature changed in graphql-core 3.3
    if graphql.version_info < (3, 3):
        fields = collect(schema, fragments, coerced, root_type, operation.selection_set)
        return dict(fields), coerced
    # 3.3 (Strawberry 0.328 and later): fragments with their variables' signatures (None: the
    # experimental fragment variables, which the schema does not enable), and the operation.
    from graphql.execution.collect_fields import FragmentDetails  # type: ignore[attr-defined]

    details = {name: FragmentDetails(fragment) for name, fragment in fragments.items()}
    grouped = collect(schema, details, coerced, root_type, operation).grouped_field_set
    # 3.3 groups FieldDetails, whose node is the field.
    return {key: [item.node for item in items] for key, items in grouped.items()}, coerced


def _selects_a_field(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
) -> bool:
    """Whether the operation's root selects a field once @skip and @include apply (or the
    variables are invalid: create_source_event_stream reports that)."""
    found = _root_fields(schema, document, operation, variables)
    return found is None or bool(found[0])


def _argument_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
) -> list[GraphQLError]:
    """What the root field's arguments break of the package's rules (its categories)."""
    # Imported here: graphql_rules imports the models, and this module loads before apps may.
    from user_messages.graphql_rules import categories_argument

    found = _root_fields(schema, document, operation, variables)
    root_type = schema.subscription_type
    if found is None or root_type is None:
        return []
    fields, coerced = found
    errors = []
    for nodes in fields.values():
        node = nodes[0]
        field = root_type.fields.get(node.name.value)
        if field is None or "categories" not in field.args:
            continue
        arguments = get_argument_values(field, node, coerced)
        try:
            # Checked here, before anything runs, so that both stacks answer with an error
            # message: a stream that raised later would be a "next" on one and not the other.
            categories_argument(arguments.get("categories"))
        except GraphQLError as error:
            errors.append(error)
    return errors


def _failed(message: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message)])
