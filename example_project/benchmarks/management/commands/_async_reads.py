"""`manage.py bench --async-reads N`: the async twins against the sync functions, side by side.

Times ``aget_messages`` awaited on an event loop against ``get_messages`` called in plain sync
code, for a user with nothing pending and one with 5 pending (put back untimed before each
call), and ``apending_count`` (the async ORM) against ``pending_count``. The forms take turns
in rounds of a few calls, so a burst of load on a shared machine lands on both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections

from user_messages import api
from user_messages.models import Message

ROUNDS = 20


def async_read_costs(write: Callable[[str], None], repeat: int) -> None:
    """Print the median and 90th percentile of each form, in microseconds."""
    users = get_user_model()._default_manager
    idle = users.create(username="bench-async-idle", password="!")
    busy = users.create(username="bench-async-busy", password="!")
    for n in range(5):
        api.info(busy, f"Pending {n}")

    def pending_again() -> None:
        Message.objects.filter(user=busy).update(delivered_at=None, seen_at=None)

    cases: list[tuple[str, Callable[[], object], Callable[[], Any], Callable[[], None] | None]]
    cases = [
        (
            "get_messages, nothing pending",
            lambda: list(api.get_messages(user=idle.pk)),
            lambda: api.aget_messages(user=idle.pk),
            None,
        ),
        (
            "get_messages, 5 pending",
            lambda: list(api.get_messages(user=busy.pk)),
            lambda: api.aget_messages(user=busy.pk),
            pending_again,
        ),
        (
            "pending_count, 5 pending",
            lambda: api.pending_count(busy.pk),
            lambda: api.apending_count(busy.pk),
            None,
        ),
    ]
    for name, sync_call, async_call, setup in cases:
        if setup is not None:
            setup()
        sync_answer = sync_call()
        if setup is not None:
            setup()
        async_answer = asyncio.run(async_call())
        if sync_answer != async_answer:
            raise AssertionError(f"{name}: sync {sync_answer!r}, async {async_answer!r}")
    samples: dict[tuple[str, str], list[float]] = {}
    per_round = max(1, repeat // ROUNDS)
    for _ in range(ROUNDS):
        for name, sync_call, async_call, setup in cases:
            sync_times = samples.setdefault((name, "sync"), [])
            for _ in range(per_round):
                if setup is not None:
                    setup()
                start = time.perf_counter()
                sync_call()
                sync_times.append(time.perf_counter() - start)
            async_times = samples.setdefault((name, "async"), [])
            asyncio.run(_timed(async_call, setup, per_round, async_times))
    # The twins' database thread keeps its connection: close it before the database goes.
    asyncio.run(sync_to_async(connections.close_all)())

    for name, *_ in cases:
        sync_times, async_times = samples[(name, "sync")], samples[(name, "async")]
        sync_median, async_median = (
            _us(statistics.median(sync_times)),
            _us(statistics.median(async_times)),
        )
        write(
            f"  {name}: sync {sync_median:.0f} us (p90 {_p90(sync_times):.0f}), "
            f"async {async_median:.0f} us (p90 {_p90(async_times):.0f}), "
            f"{async_median - sync_median:+.0f} us awaited"
        )


async def _timed(
    call: Callable[[], Any], setup: Callable[[], None] | None, count: int, into: list[float]
) -> None:
    for _ in range(count):
        if setup is not None:
            await sync_to_async(setup)()
        start = time.perf_counter()
        await call()
        into.append(time.perf_counter() - start)


def _us(seconds: float) -> float:
    return seconds * 1_000_000


def _p90(times: list[float]) -> float:
    return _us(statistics.quantiles(times, n=10)[-1])
