"""Channel-layer groups for live updates, and the ``messages_changed`` listener that wakes them.

Every connected socket joins its user's group; each process joins the shared group once, with a
``SharedGroupListener`` that wakes its sockets. A change for a few users is one message per user's
group; a change for "possibly everyone" (a QuerySet broadcast, a long list of recipients) is a
single message to the shared group, which each process hears once, and every socket re-reads its
own count.

Sending happens in the request that made the change, after its commit, so it is bounded: each
group message waits at most ``USER_MESSAGES["LIVE_SEND_TIMEOUT"]`` seconds, and after a failure
the process stops sending for ``LIVE_SEND_PAUSE`` seconds, counting what it does not send
(``lost_announcements``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Coroutine, Iterable
from typing import Any, Protocol

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from user_messages.conf import conf

logger = logging.getLogger(__name__)

#: The group every connected socket joins: a change that may concern anyone is sent here once.
EVERYONE_GROUP = "user_messages.everyone"

#: The group message's type: Channels hands it to the consumer's ``user_messages_changed``.
CHANGED = "user_messages.changed"

#: To a user's group when one of their sessions logged out, with ``sessions``: the digests
#: (``sessions.session_digest``) of the ended session keys. Those sockets close with 4403.
LOGGED_OUT = "user_messages.logged_out"

#: To a user's group when their password or ``is_active`` changed: each socket of the user
#: checks its session again, as Django would on the next request, and closes with 4403 if not.
CREDENTIALS_CHANGED = "user_messages.credentials_changed"

#: Channels' and channels_redis' default ``group_expiry``, for a layer that has none.
DEFAULT_GROUP_EXPIRY = 86400

# Channels accepts group names of ASCII letters, digits, "-", "_" and "." shorter than 100.
_GROUP_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

# Sends scheduled from inside an event loop, kept referenced until they finish.
_pending_sends: set[asyncio.Task[None]] = set()


def user_group(user_id: Any) -> str:
    """The group name for one user's sockets, valid for Channels whatever the primary key is."""
    text = str(user_id)
    if not _GROUP_SAFE.match(text):
        # A UUID or a string key with other characters: a digest keeps names valid and distinct.
        text = "h" + hashlib.sha256(text.encode()).hexdigest()[:40]
    return f"user_messages.user.{text}"


def groups_for(user_ids: list[Any] | None) -> list[str]:
    """The groups to notify for these users; None (possibly everyone) is the shared group."""
    if user_ids is None:
        return [EVERYONE_GROUP]
    return list(dict.fromkeys(user_group(user_id) for user_id in user_ids))


def on_messages_changed(sender: Any, user_ids: list[Any] | None, **kwargs: Any) -> None:
    """Listener of ``messages_changed``: announce the change on the channel layer."""
    announce(user_ids)


def announce(user_ids: list[Any] | None) -> None:
    """Wake the sockets of these users (None: of everyone); log, never raise, if the layer fails."""
    send_to_groups(groups_for(user_ids), {"type": CHANGED}, "announce a change")


def send_to_groups(groups: list[str], message: dict[str, Any], what: str) -> None:
    """Send ``message`` to each group, waiting at most ``LIVE_SEND_TIMEOUT`` seconds for each.

    Never raises: a layer that fails or does not answer in time pauses sending (see
    ``lost_announcements``), and what was not sent is counted.
    """
    layer = get_channel_layer()
    if layer is None or not groups:
        return
    breaker = _breaker_of(layer)
    if not breaker.may_send(len(groups)):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # Called from async code (the signal is sync, the caller is not): AsyncToSync would
        # refuse to block this loop, so the sends run on it instead.
        task = loop.create_task(_send(layer, groups, message, what, breaker))
        _pending_sends.add(task)
        task.add_done_callback(_pending_sends.discard)
        return
    started = time.monotonic()
    try:
        if _server_loop() is not None or isinstance(layer, InMemoryChannelLayer):
            # A sync view of an ASGI server: async_to_sync runs the send on the server's loop,
            # whose connections are open (and where an in-memory layer's sockets listen).
            async_to_sync(_send)(layer, groups, message, what, breaker)
        else:
            _sender.run(_send(layer, groups, message, what, breaker))
    except Exception as error:
        # What caused it has happened (a commit, a logout); a layer that is down loses the live
        # push, never that.
        breaker.failed(len(groups), what, groups[0], error, started)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop whose ``sync_to_async`` thread this is, as ``async_to_sync`` finds it."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


class _SenderLoop:
    """The event loop this process's sync code sends on: one thread, started at the first send.

    Outside an ASGI server's threads (WSGI, a command, a task queue) ``async_to_sync`` would run
    each send on a new event loop, and channels_redis keeps its
    connections per loop: every send opened a Redis connection and closed it again, 1.3 ms of
    the 1.6 ms a send took (p50 on the measuring machine; 0.25 ms on a kept loop). Here the
    connections stay open between sends, as they do in an ASGI server's loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` on the loop and wait for it (it bounds its own wait)."""
        asyncio.run_coroutine_threadsafe(coroutine, self._running_loop()).result()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # After a fork (a pre-forking server that imported and sent before forking) the
            # thread is gone: the child starts its own.
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="user_messages-sender", daemon=True
                ).start()
            return self._loop


_sender = _SenderLoop()


def layer_answered(layer: Any, started: float) -> None:
    """An operation on ``layer`` begun at ``started`` (``time.monotonic()``) succeeded.

    Ends an outage of this process's sends to it at once, instead of after the pause.
    """
    _breaker_of(layer).succeeded(started)


def lost_announcements() -> int:
    """How many group messages this process could not send since it started, for monitoring.

    One per group a message was meant for (a change for three users counts three): those
    that failed or timed out, and those skipped while sending was paused after a failure.
    """
    return _lost.count


class _LostCount:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self, count: int) -> None:
        with self._lock:
            self.count += count


_lost = _LostCount()


class _Breaker:
    """Whether this process sends to the channel layer, and what it lost while it could not.

    One per layer instance (a changed CHANNEL_LAYERS setting makes new ones). Closed: every
    message is sent. After a failure: paused for ``LIVE_SEND_PAUSE`` seconds, then one trial at
    a time. One warning when an outage starts, with its cause, and one when a send succeeds
    again, with what was lost meanwhile: never a line per send.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Monotonic time the outage began; None while the layer answers.
        self._failing_since: float | None = None
        self._paused_until = 0.0
        self._lost_in_outage = 0

    def may_send(self, count: int) -> bool:
        """Whether to send ``count`` group messages now; if not, they are counted lost."""
        if self._failing_since is None:
            return True
        with self._lock:
            if self._failing_since is None:
                return True
            now = time.monotonic()
            if now < self._paused_until:
                _lost.add(count)
                self._lost_in_outage += count
                return False
            # This send is the trial: the others keep skipping while it runs.
            self._paused_until = now + conf.LIVE_SEND_PAUSE
            return True

    def failed(
        self, count: int, what: str, group: str, error: BaseException, started: float
    ) -> None:
        """``count`` group messages were not sent, from ``group`` on, because of ``error``."""
        _lost.add(count)
        with self._lock:
            first = self._failing_since is None
            if first:
                self._failing_since = started
                self._lost_in_outage = 0
            self._lost_in_outage += count
            pause = conf.LIVE_SEND_PAUSE
            self._paused_until = time.monotonic() + pause
        if first:
            logger.warning(
                "user_messages: could not %s on %s (%s): live updates pause; the channel layer "
                "is tried again every %s s, and what is not sent meanwhile is counted by "
                "user_messages.realtime.groups.lost_announcements()",
                what,
                group,
                _cause(error),
                pause,
            )

    def succeeded(self, started: float) -> None:
        """A send that began at ``started`` reached the layer: an outage before it is over."""
        if self._failing_since is None:
            return
        with self._lock:
            since = self._failing_since
            if since is None or started < since:
                return  # it began before the outage did: the layer may still be down
            self._failing_since = None
            self._paused_until = 0.0
            lost = self._lost_in_outage
        logger.warning(
            "user_messages: the channel layer answers again after %.1f s; %d group messages "
            "were not sent meanwhile",
            time.monotonic() - since,
            lost,
        )


def _cause(error: BaseException) -> str:
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)) and not str(error):
        return f"no answer within {conf.LIVE_SEND_TIMEOUT} s"
    return f"{type(error).__name__}: {error}"


_breakers: weakref.WeakKeyDictionary[Any, _Breaker] = weakref.WeakKeyDictionary()
_breakers_lock = threading.Lock()


#: For a layer class that takes no weak reference: one breaker for all of them.
_unreferenced_breaker = _Breaker()


def _breaker_of(layer: Any) -> _Breaker:
    with _breakers_lock:
        try:
            breaker = _breakers.get(layer)
            if breaker is None:
                breaker = _breakers[layer] = _Breaker()
        except TypeError:
            return _unreferenced_breaker
        return breaker


async def _send(
    layer: Any, groups: list[str], message: dict[str, Any], what: str, breaker: _Breaker
) -> None:
    started = time.monotonic()
    timeout = conf.LIVE_SEND_TIMEOUT
    for index, group in enumerate(groups):
        try:
            await asyncio.wait_for(layer.group_send(group, message), timeout)
        except Exception as error:
            # The rest would wait on the same layer: they are lost with this one.
            breaker.failed(len(groups) - index, what, group, error, started)
            return
    breaker.succeeded(started)


#: How often end_tasks() cancels a task again that goes on after a cancel.
RECANCEL_SECONDS = 0.1


async def end_tasks(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again while one goes on.

    redis-py can lose a cancel that lands while it reads a command's reply (redis/redis-py#2028,
    #2551): the task goes on into channels_redis's next blocking pop, and whatever waits for it
    (an instance ending, a server stopping) waits forever. Cancelled again, it ends at its next
    wait. The tasks' exceptions are retrieved, as ``gather(return_exceptions=True)`` would.
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_SECONDS)
    for task in tasks:
        if not task.cancelled():
            task.exception()


def renewal_period(layer: Any) -> float:
    """How often a member joins its groups again: half the layer's ``group_expiry``."""
    # A channel layer drops a member group_expiry seconds after it joined (a day by default),
    # which is how it forgets channels that never left. A member that stays longer would stop
    # hearing of changes without a word; joining again renews the membership.
    return max(getattr(layer, "group_expiry", DEFAULT_GROUP_EXPIRY) / 2, 1)


class BroadcastMember(Protocol):
    """A socket a ``SharedGroupListener`` wakes."""

    def broadcast_heard(self) -> None:
        """A change that may concern anyone: re-read."""

    def broadcasts_lost(self) -> None:
        """The listener failed: the socket would not hear of broadcasts any more."""


class SharedGroupListener:
    """This process's one member of ``EVERYONE_GROUP``: hears a broadcast once, wakes every socket.

    With each socket a member, a broadcast reached a process as one message per socket: a copy
    per channel in channels_redis, a receive and a Channels dispatch each, which cost more CPU
    than re-reading the count. One listener per event loop and layer hears it once and wakes its
    sockets in memory. It joins with the first socket and leaves with the last: the last socket
    out awaits its end, so no task of it outlives the sockets (servers cancel them at shutdown).
    """

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        #: True once the listener stopped hearing; its sockets are told, and a new one replaces it.
        self.failed = False
        self._members: set[BroadcastMember] = set()
        self._channel = ""
        self._in_group = False
        self._joining: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Task[None] | None = None

    async def add(self, member: BroadcastMember) -> None:
        """Wake ``member`` at each broadcast; return once the process is in the shared group.

        Raises what the layer raised if the process could not join; call ``remove`` in any case,
        then ``stopped``.
        """
        self._members.add(member)
        if self._joining is None:
            self._joining = asyncio.create_task(self._join())
        # Shielded: a socket cancelled while it waits must not cancel the join others wait for.
        await asyncio.shield(self._joining)

    def remove(self, member: BroadcastMember) -> None:
        """Stop waking ``member``; with the last one out, start leaving the shared group."""
        self._members.discard(member)
        if not self._members and self._stopping is None:
            # At once: a socket that arrives meanwhile gets a listener of its own.
            self._detach()
            self._stopping = asyncio.create_task(self._stop())

    async def stopped(self) -> None:
        """Wait until the process left the shared group, if its last socket is out."""
        # Every socket that ends with the last one waits, not just the last: servers wait for
        # their instances at shutdown (daphne only until the first one ends), not for our task.
        if self._stopping is not None:
            await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        await end_tasks(task for task in (self._joining, *self._tasks) if task is not None)
        if self._in_group:
            self._in_group = False
            try:
                await self.layer.group_discard(EVERYONE_GROUP, self._channel)
            except Exception:
                logger.warning("user_messages: could not leave %s", [EVERYONE_GROUP], exc_info=True)

    async def _join(self) -> None:
        # The layer's default prefix, as the sockets' channels have: channels_redis receives for
        # one prefix at a time, so a channel of another prefix would wait for the sockets' reads.
        self._channel = await self.layer.new_channel()
        # Marked before the add: cancelled while waiting for Redis, the add may have been done,
        # and the listener must leave then. A failed add is not a membership.
        self._in_group = True
        try:
            await self.layer.group_add(EVERYONE_GROUP, self._channel)
        except Exception:
            self._in_group = False
            self._fail()  # the sockets waiting in add() get the exception and close themselves
            raise
        self._spawn(self._hear())
        self._spawn(self._stay())

    async def _hear(self) -> None:
        try:
            while True:
                message = await self.layer.receive(self._channel)
                if message.get("type") == CHANGED:
                    for member in list(self._members):
                        member.broadcast_heard()
        except Exception:
            logger.warning("user_messages: the channel layer failed", exc_info=True)
            self._fail()

    async def _stay(self) -> None:
        period = renewal_period(self.layer)
        while True:
            await asyncio.sleep(period)
            try:
                await self.layer.group_add(EVERYONE_GROUP, self._channel)
            except Exception:
                logger.warning(
                    "user_messages: could not join %s again", [EVERYONE_GROUP], exc_info=True
                )
                self._fail()
                return

    def layer_failed(self) -> None:
        """A socket's receive from the layer failed: the process's may have lost messages too."""
        self._fail()

    def _fail(self) -> None:
        """Deaf from now on: tell the sockets, and let the next socket start a new listener."""
        if self.failed:
            return
        self.failed = True
        self._detach()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()  # awaited by the last socket's remove()
        for member in list(self._members):
            member.broadcasts_lost()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _detach(self) -> None:
        listeners = _listeners.get(asyncio.get_running_loop(), {})
        if listeners.get(self.layer) is self:
            del listeners[self.layer]


_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, SharedGroupListener]] = (
    weakref.WeakKeyDictionary()
)


def shared_group_listener(layer: Any) -> SharedGroupListener:
    """This event loop's listener to the shared group on ``layer``, created if there is none."""
    listeners = _listeners.setdefault(asyncio.get_running_loop(), {})
    listener = listeners.get(layer)
    if listener is None:
        listener = listeners[layer] = SharedGroupListener(layer)
    return listener
