"""Run writer and reader threads, each on its own database connection, as several workers would.

Shared by the concurrency tests and `bench --compare-python`'s worker, which loads this file by
path in django-user-messages 1.1's virtualenv, where neither this repository nor its package can
be imported: so it imports nothing but the standard library and Django.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import close_old_connections, connections


def run_writers_then_readers(
    writers: list[Callable[[], None]],
    readers: list[Callable[[], None]],
    writers_done: threading.Event,
    timeout: float = 120,
) -> list[BaseException]:
    """Start all together, wait for the writers, set ``writers_done``, wait for the readers.

    Returns what the threads raised: a caller asserts it is empty, so nothing is swallowed.
    ``timeout`` bounds each join, so a stuck thread fails the caller instead of hanging it.
    """
    errors: list[BaseException] = []
    # No thread runs its target before every thread exists: readers overlap the first writes.
    start = threading.Barrier(len(writers) + len(readers))

    def in_thread(target: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                start.wait()
                target()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    writer_threads = [in_thread(target) for target in writers]
    reader_threads = [in_thread(target) for target in readers]
    for thread in writer_threads + reader_threads:
        thread.start()
    for thread in writer_threads:
        thread.join(timeout=timeout)
    writers_done.set()
    for thread in reader_threads:
        thread.join(timeout=timeout)
    close_old_connections()
    return errors
