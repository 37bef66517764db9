"""Sockets end with the session they opened with: logout, a password change, deactivation.

A socket is authenticated once, by the session cookie of its handshake. Django checks a session
on every HTTP request (``django.contrib.auth.get_user``); a socket asks the same question again:

- when the session logs out: ``user_logged_out`` sends the digest of the session key to the
  user's group, and the socket holding that key closes at once (4403), with no query;
- when the user's password or ``is_active`` changes (a user saved, compared with its row just
  before), or the user is deleted: a message to the user's group after commit, and each
  socket of the user checks its session in a database thread;
- every ``WEBSOCKET_SESSION_RECHECK`` seconds at most (jittered), for what ends without a
  signal: an expired session, a session row deleted, a password written with ``update()``.

The checks of one process are grouped into one thread hop each, like the count reads. A channel
layer that fails never fails the logout or the save: the failure is logged, as for a send.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import weakref
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.db import transaction
from django.http import HttpRequest

from user_messages.realtime.groups import (
    CREDENTIALS_CHANGED,
    LOGGED_OUT,
    send_to_groups,
    user_group,
)

logger = logging.getLogger(__name__)

# The user fields whose change can end a session, and the mark pre_save leaves for post_save.
_CREDENTIALS = ("password", "is_active")
_ENDS_SESSIONS = "_user_messages_ends_sessions"


def session_digest(session_key: str) -> str:
    """What a LOGGED_OUT message names a session by: the key itself is a secret."""
    return hashlib.sha256(session_key.encode()).hexdigest()


# Receivers (connected in UserMessagesConfig.ready when Channels is installed).


def on_user_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Close the sockets of the session that logged out (only that one, as Django logs out)."""
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if user is None or not session_key:
        return
    # Sent now, not after commit: logout() flushes the session right after this signal, and a
    # socket that re-read it meanwhile would still find it; the digest needs no read.
    send_to_groups(
        [user_group(user.pk)],
        {"type": LOGGED_OUT, "sessions": [session_digest(session_key)]},
        "close the sockets of a session",
    )


def on_user_saving(
    sender: Any,
    instance: Any,
    raw: bool = False,
    using: str | None = None,
    update_fields: Any = None,
    **kwargs: Any,
) -> None:
    """Before a user is saved: note whether the save ends sessions (a new password, inactive)."""
    if raw or instance._state.adding:
        return
    columns = {field.attname for field in sender._meta.concrete_fields}
    # What this save writes: the loaded fields (a deferred one is not saved), or update_fields.
    names = [name for name in _CREDENTIALS if name in columns and name in instance.__dict__]
    if update_fields is not None:
        names = [name for name in names if name in update_fields]
    if not names:
        return  # login's last_login update, for one: it must not close the user's other sockets
    # Read from the row, not remembered when the user was loaded: a page view loads its user,
    # and a post_init receiver would cost every one of them; a user is saved far less often.
    stored = sender._base_manager.using(using).filter(pk=instance.pk).values(*names).first()
    if stored is None:
        return
    if ("password" in stored and stored["password"] != instance.password) or (
        "is_active" in stored and stored["is_active"] and not instance.is_active
    ):
        instance.__dict__[_ENDS_SESSIONS] = True


def on_user_saved(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    """A saved password change or deactivation: the user's sockets check their sessions."""
    if instance.__dict__.pop(_ENDS_SESSIONS, False):
        _after_commit(instance.pk, using)


def on_user_deleted(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    """A deleted user's sessions hold no more: the user's sockets check theirs."""
    _after_commit(instance.pk, using)


def _after_commit(user_id: Any, using: str | None) -> None:
    message = {"type": CREDENTIALS_CHANGED}
    transaction.on_commit(
        lambda: send_to_groups(
            [user_group(user_id)], message, "ask the sockets of a user to check their sessions"
        ),
        using=using,
    )


# The check a socket runs.


class _Session(dict[str, Any]):
    """A copy of a session's data that ``get_user`` may change without touching the store."""

    def cycle_key(self) -> None:
        pass  # get_user accepted a hash made with SECRET_KEY_FALLBACKS: the session holds

    def flush(self) -> None:
        self.clear()


def session_holds(session_key: str, user_id: Any) -> bool:
    """Whether ``django.contrib.auth.get_user`` still finds this user in this session."""
    engine = import_module(settings.SESSION_ENGINE)
    # load() gives {} for a session that is gone or expired.
    request = HttpRequest()
    request.session = _Session(engine.SessionStore(session_key).load())  # type: ignore[assignment]
    # get_user, not a copy of it: the backend's get_user (ModelBackend refuses an inactive
    # user), the session hash, SECRET_KEY_FALLBACKS, all as for an HTTP request. On a stale
    # session it would flush or cycle the key of a real store; here it changes only the copy.
    user = get_user(request)
    return bool(user.is_authenticated and user.pk == user_id)


def _sessions_holding(sessions: list[tuple[str, Any]]) -> set[tuple[str, Any]]:
    return {session for session in sessions if session_holds(*session)}


class _SessionChecker:
    """Checks the sessions the sockets of one process ask about, many per thread hop.

    Sockets opened together (every tab reconnecting after a deploy) would otherwise re-check
    together, each in a hop of its own through the one thread-sensitive thread.
    """

    MAX_SESSIONS = 100

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, Any], list[asyncio.Future[bool]]] = {}
        self._reading: asyncio.Task[None] | None = None
        self._callers = 0

    async def holds(self, session_key: str, user_id: Any) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((session_key, user_id), []).append(future)
        if self._reading is None:
            self._reading = asyncio.create_task(self._read_all())
        reading = self._reading
        self._callers += 1
        try:
            return await future
        finally:
            self._callers -= 1
            if not self._callers and not reading.done():
                # No socket waits any more (all cancelled as daphne stops): as the count
                # reader, end the read rather than leave it pending with the event loop.
                self._reading = None
                reading.cancel()
                await asyncio.wait([reading])

    async def _read_all(self) -> None:
        try:
            while self._waiting:
                sessions = list(itertools.islice(self._waiting, self.MAX_SESSIONS))
                batch = {session: self._waiting.pop(session) for session in sessions}
                try:
                    holding = await database_sync_to_async(_sessions_holding)(sessions)
                except Exception as error:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for session, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(session in holding)
        finally:
            if self._reading is asyncio.current_task():
                self._reading = None


_checkers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SessionChecker] = (
    weakref.WeakKeyDictionary()
)


async def session_still_holds(session_key: str, user_id: Any) -> bool:
    """``session_holds``, asked in a database thread together with the other sockets'."""
    loop = asyncio.get_running_loop()
    checker = _checkers.get(loop)
    if checker is None:
        checker = _checkers[loop] = _SessionChecker()
    return await checker.holds(session_key, user_id)
