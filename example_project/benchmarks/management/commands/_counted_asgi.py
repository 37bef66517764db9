"""The example project's ASGI application, counting its own database work, for the load test.

`loadtest --realtime --processes N` serves this module instead of example_project.asgi, so each
process can say what it did: ``GET /__loadtest__/database`` answers with the connections it
opened, the connections open now, and the statements and transactions it ran (a statement in
autocommit is a transaction; inside ``atomic`` only the commit is). Never deploy this module.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from django.db.backends.signals import connection_created

from example_project.asgi import application as example_application

PATH = "/__loadtest__/database"

_lock = threading.Lock()
_counts = {"opened": 0, "closed": 0, "statements": 0, "transactions": 0}


def _add(name: str) -> None:
    with _lock:
        _counts[name] += 1


def _count_statement(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    _add("statements")
    if not context["connection"].in_atomic_block:
        _add("transactions")
    return execute(sql, params, many, context)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _add("opened")
    connection.execute_wrappers.append(_count_statement)
    commit, close, is_usable = connection._commit, connection._close, connection.is_usable

    def counted_is_usable() -> bool:
        # CONN_HEALTH_CHECKS' "SELECT 1" bypasses the execute wrappers.
        _add("statements")
        _add("transactions")
        return bool(is_usable())

    def counted_commit() -> None:
        _add("transactions")
        commit()

    def counted_close() -> None:
        _add("closed")
        close()

    connection._commit, connection._close = counted_commit, counted_close
    connection.is_usable = counted_is_usable


connection_created.connect(_on_connection_created, dispatch_uid="loadtest_counted_asgi")


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The example application, plus the counts at PATH."""
    if scope["type"] == "http" and scope["path"] == PATH:
        with _lock:
            body = json.dumps({**_counts, "open": _counts["opened"] - _counts["closed"]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await example_application(scope, receive, send)
