"""One signal for "these users' messages changed", sent once the change has committed.

Every write that changes what a user would see next (a send, a broadcast, a read that delivers,
an acknowledge, an edit in the admin) ends in ``changed_after_commit``. Listeners, such as the
opt-in cache and the live push, connect to ``messages_changed``; no write path calls them itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

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
    transaction.on_commit(lambda: _send(ids), using=using or router.db_for_write(Message))


def _send(user_ids: list[Any] | None) -> None:
    from user_messages.models import Message

    # The change has committed: a listener that fails (cache or channel layer down) must not
    # turn it into an error for the caller, nor keep the other listeners from hearing of it.
    for receiver, result in messages_changed.send_robust(sender=Message, user_ids=user_ids):
        if isinstance(result, Exception):
            logger.error("user_messages: %r failed on messages_changed", receiver, exc_info=result)
