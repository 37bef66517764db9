"""One signal for "these users' messages changed", sent once the change has committed.

Every write that changes what a user would see next (a send, a broadcast, a read that delivers,
an acknowledge, an edit in the admin) ends in ``changed_after_commit``. Listeners, such as the
opt-in cache and the live push, connect to ``messages_changed``; no write path calls them itself.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import router, transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

#: Sent after commit with ``user_ids``: a list of the users whose messages changed, or ``None``
#: when any user may be concerned (a QuerySet broadcast or a long list of recipients).
messages_changed = Signal()

#: A broadcast to more users than this is announced as "everyone": one cache write and one
#: channel-layer message instead of one per recipient. The default MAX_RECIPIENTS of the GraphQL
#: API stays below it, so a send through the API never resets other users' cached state.
PER_USER_LIMIT = 100


def changed_after_commit(user_ids: Iterable[Any] | None, *, using: str | None = None) -> None:
    """Send ``messages_changed`` for these users (None: everyone) once ``using`` commits."""
    from user_messages.models import Message

    ids: list[Any] | None = None
    if user_ids is not None:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return
        if len(ids) > PER_USER_LIMIT:
            ids = None
    alias = using or router.db_for_write(Message)
    committed = _committed_for_async.get()
    if committed is not None and not transaction.get_connection(alias).in_atomic_block:
        # An async twin's unit in autocommit: the change has committed already, and the twin
        # sends the signal with asend on its event loop once the unit's thread returns.
        committed.append(ids)
        return
    transaction.on_commit(lambda: _send(ids), using=alias)


#: Set by an async twin around its thread unit: where the unit's writes commit at once, the
#: announcements it would make land here for the twin to send with ``asend``.
_committed_for_async: contextvars.ContextVar[list[list[Any] | None] | None] = (
    contextvars.ContextVar("user_messages_committed_for_async", default=None)
)


async def asend_changed(announcements: list[list[Any] | None]) -> None:
    """Send ``messages_changed`` with ``asend`` for changes that have committed."""
    from user_messages.models import Message

    for user_ids in announcements:
        if hasattr(messages_changed, "asend_robust"):
            results = await messages_changed.asend_robust(sender=Message, user_ids=user_ids)
        else:
            # Django before 5.0 has no asend: its receivers are all sync, run in a thread.
            results = await sync_to_async(messages_changed.send_robust)(
                sender=Message, user_ids=user_ids
            )
        _log_failures(results)


def _send(user_ids: list[Any] | None) -> None:
    from user_messages.models import Message

    # The change has committed: a listener that fails (cache or channel layer down) must not
    # turn it into an error for the caller, nor keep the other listeners from hearing of it.
    _log_failures(messages_changed.send_robust(sender=Message, user_ids=user_ids))


def _log_failures(results: list[tuple[Any, Any]]) -> None:
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error("user_messages: %r failed on messages_changed", receiver, exc_info=result)
