"""The ``myMessageCount`` subscription's stream, shared by the graphene and Strawberry shells.

Imports nothing of Channels: a shell's schema module can import it even where only the SDL is
printed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from graphql import GraphQLError

__all__ = ["SIGN_IN_TO_SUBSCRIBE", "count_stream"]

SIGN_IN_TO_SUBSCRIBE = "Sign in to subscribe to myMessageCount."


async def count_stream(live: Any, categories: Iterable[str] | None = None) -> AsyncIterator[int]:
    """The user's pending count at once, then each time it differs after a change.

    ``live`` is the socket's ``user_messages.realtime.consumer.LiveContext`` (or None): its
    ``user``, ``await pending_count(categories)`` and ``message_changes()``. ``categories``
    (None: all) counts those categories only. Raises GraphQLError when there is no signed-in
    user or a category is not declared.
    """
    # Imported here: graphql_rules imports the models, which the SDL printers never need.
    from user_messages.graphql_rules import categories_argument

    chosen = categories_argument(categories)
    user = getattr(live, "user", None)
    if user is None or not user.is_authenticated:
        raise GraphQLError(SIGN_IN_TO_SUBSCRIBE)
    # Listen before the first read, so a change between the two is not missed.
    async with live.message_changes() as changes:
        count: int = await live.pending_count(chosen)
        yield count
        async for _ in changes:
            new_count = await live.pending_count(chosen)
            if new_count != count:
                count = new_count
                yield count
