"""Opt-in cache that lets a page view of a user with nothing pending skip the database.

Keys in the cache named by ``USER_MESSAGES["CACHE"]``:

- ``version`` (one per user): a random token that every send to that user replaces, after its
  transaction commits;
- ``epoch`` (one for everybody): a random token that every broadcast replaces, after commit, so
  that sending to 10,000 users is one cache write, not 10,000;
- ``empty`` (one per user): the ``version:epoch`` a reader saw *before* a database read that
  found nothing pending.

A reader skips the database only when all three exist and ``empty`` equals ``version:epoch``.
Why no interleaving can hide a message: a message committed before the reader's database read is
seen by that read; one committed after it is followed by a new version or epoch, written after
the reader read the old one, so the ``empty`` the reader stores no longer matches. A missing key
(evicted, expired, never set) always means "ask the database".
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.cache import BaseCache, caches

from user_messages.conf import conf

logger = logging.getLogger(__name__)

#: Versions and the epoch live this long; losing one only costs a query.
TIMEOUT = 24 * 60 * 60
#: "Nothing pending" is trusted this long at most. Should a send's version bump fail (the cache
#: down at that moment), this bounds how late its message can show.
EMPTY_TIMEOUT = 5 * 60


def _cache() -> BaseCache | None:
    alias = conf.CACHE
    return caches[alias] if alias else None


EPOCH_KEY = "user_messages:epoch"


def _keys(user_id: Any) -> tuple[str, str]:
    return f"user_messages:{user_id}:version", f"user_messages:{user_id}:empty"


def lookup(user_id: Any) -> tuple[bool, str | None]:
    """Return (True, _) when the cache proves nothing is pending, else (False, version).

    Pass the version to ``remember_nothing_pending`` if the database read finds nothing.
    """
    cache = _cache()
    if cache is None:
        return False, None
    version_key, empty_key = _keys(user_id)
    try:
        found = cache.get_many([version_key, EPOCH_KEY, empty_key])
        if version_key not in found or EPOCH_KEY not in found:
            # First sight (or eviction): start tokens, keeping any a sender wrote meanwhile.
            cache.add(version_key, uuid.uuid4().hex, TIMEOUT)
            cache.add(EPOCH_KEY, uuid.uuid4().hex, TIMEOUT)
            # Re-read without ``empty``: whatever it held belonged to tokens now gone.
            found = cache.get_many([version_key, EPOCH_KEY])
            if version_key not in found or EPOCH_KEY not in found:
                return False, None
    except Exception:
        logger.exception("user_messages cache unavailable; reading from the database")
        return False, None
    token = f"{found[version_key]}:{found[EPOCH_KEY]}"
    return found.get(empty_key) == token, token


def remember_nothing_pending(user_id: Any, version: str | None) -> None:
    """Record that the database had nothing pending for the user at ``version``."""
    if version is None:  # no cache, or it failed in lookup(): nothing to remember
        return
    cache = _cache()
    if cache is None:
        return
    try:
        cache.set(_keys(user_id)[1], version, EMPTY_TIMEOUT)
    except Exception:
        logger.exception("user_messages cache unavailable; not remembering")


def on_messages_changed(sender: Any, user_ids: list[Any] | None, **kwargs: Any) -> None:
    """Listener of ``messages_changed``: new versions for these users, or a new epoch for all."""
    if _cache() is None:
        return
    if user_ids is None:
        _set({EPOCH_KEY: uuid.uuid4().hex})
    else:
        _bump(user_ids)


def _bump(user_ids: list[Any]) -> None:
    version = uuid.uuid4().hex
    _set({_keys(user_id)[0]: version for user_id in user_ids})


def _set(values: dict[str, str]) -> None:
    cache = _cache()
    if cache is None:
        return
    try:
        cache.set_many(values, TIMEOUT)
    except Exception:
        # Readers may skip the database for up to EMPTY_TIMEOUT more; say so loudly.
        logger.exception("user_messages cache unavailable; new messages may show late")
