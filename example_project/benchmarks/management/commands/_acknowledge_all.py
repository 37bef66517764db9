"""`manage.py bench --acknowledge-all N`: what acknowledging N pending messages of one user costs.

Times ``api.acknowledge_all`` alone, then again with a consuming read of the same user started
while it runs (it waits for the acknowledge's row locks, then is shown nothing twice) and one of
another user (which waits for nothing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, connections

from user_messages import api
from user_messages.models import Message

#: How far into the acknowledge the concurrent reads start.
READ_AFTER = 0.2


def acknowledge_all_costs(write: Callable[[str], None], pending: int) -> None:
    """Print the figures for one user with ``pending`` pending messages."""
    users = get_user_model()._default_manager
    owner = users.create(username="bench-acknowledge-all", password="!")
    other = users.create(username="bench-acknowledge-other", password="!")
    start = time.perf_counter()
    Message.objects.bulk_create(
        (Message(user=owner, level=20, message=f"Pending {n}") for n in range(pending)),
        batch_size=5000,
    )
    write(f"  setup: {pending:,} pending messages of one user: {time.perf_counter() - start:.1f} s")

    for run in (1, 2, 3):
        start = time.perf_counter()
        changed = api.acknowledge_all(owner)
        took = time.perf_counter() - start
        write(f"  acknowledge_all alone, run {run}: {took:.2f} s, {changed:,} acknowledged")
        _pending_again(owner)

    api.info(other, "For the other user.")
    results: dict[str, Any] = {}
    started = threading.Event()

    def acknowledge() -> None:
        try:
            started.set()
            begin = time.perf_counter()
            results["acknowledged"] = api.acknowledge_all(owner)
            results["acknowledge"] = time.perf_counter() - begin
        finally:
            connections.close_all()

    def read(user: Any, key: str) -> None:
        try:
            started.wait()
            time.sleep(READ_AFTER)
            begin = time.perf_counter()
            results[f"{key} shown"] = len(api.get_messages(user=user))
            results[key] = time.perf_counter() - begin
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=acknowledge),
        threading.Thread(target=read, args=(owner, "same user")),
        threading.Thread(target=read, args=(other, "other user")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    write(
        f"  acknowledge_all with reads started {READ_AFTER} s into it: "
        f"{results['acknowledge']:.2f} s, {results['acknowledged']:,} acknowledged"
    )
    write(
        f"  consuming read of the same user: {results['same user']:.2f} s, "
        f"{results['same user shown']} shown"
    )
    write(
        f"  consuming read of another user: {results['other user'] * 1000:.1f} ms, "
        f"{results['other user shown']} shown"
    )
    connection.close()


def _pending_again(user: Any) -> None:
    Message.objects.filter(user=user).update(delivered_at=None, acknowledged_at=None)
