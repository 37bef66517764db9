"""Channel-layer groups for live updates, and the ``messages_changed`` listener that wakes them.

Every connected socket joins its user's group and the shared group. A change for a few users is
one message per user's group; a change for "possibly everyone" (a QuerySet broadcast, a long list
of recipients) is a single message to the shared group, and every socket re-reads its own count.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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
    """Send ``message`` to each group; if the layer fails, log "could not <what> on <group>"."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # Called from async code (the signal is sync, the caller is not): AsyncToSync would
        # refuse to block this loop, so the sends run on it instead.
        task = loop.create_task(_send(layer, groups, message, what))
        _pending_sends.add(task)
        task.add_done_callback(_pending_sends.discard)
        return
    try:
        async_to_sync(_send)(layer, groups, message, what)
    except Exception:
        # What caused it has happened (a commit, a logout); a layer that is down loses the live
        # push, never that.
        logger.warning("user_messages: could not %s on %s", what, groups, exc_info=True)


async def _send(layer: Any, groups: list[str], message: dict[str, Any], what: str) -> None:
    for group in groups:
        try:
            await layer.group_send(group, message)
        except Exception:
            logger.warning("user_messages: could not %s on %s", what, group, exc_info=True)
            return
