"""Run writer and reader threads, each on its own database connection, as several workers would."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import close_old_connections, connections


def run_writers_then_readers(
    writers: list[Callable[[], None]],
    readers: list[Callable[[], None]],
    writers_done: threading.Event,
) -> list[BaseException]:
    """Start all, wait for the writers, set ``writers_done``, wait for the readers.

    Returns what the threads raised: a test asserts it is empty, so nothing is swallowed.
    """
    errors: list[BaseException] = []

    def in_thread(target: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
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
        thread.join(timeout=120)
    writers_done.set()
    for thread in reader_threads:
        thread.join(timeout=120)
    close_old_connections()
    return errors
