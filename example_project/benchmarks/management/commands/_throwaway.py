"""Throwaway databases for bench and loadtest: created here, migrated, always dropped again."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections


def use_database(database: dict[str, Any]) -> None:
    """Point the default connection at another database, possibly of another engine."""
    if hasattr(connections._connections, DEFAULT_DB_ALIAS):
        connections[DEFAULT_DB_ALIAS].close()
        # The connection object belongs to one backend; the next access builds a new one.
        del connections[DEFAULT_DB_ALIAS]
    # configure_settings fills in the defaults (ATOMIC_REQUESTS, TEST ...) Django expects.
    configured = connections.configure_settings({DEFAULT_DB_ALIAS: dict(database)})
    connections.settings[DEFAULT_DB_ALIAS] = configured[DEFAULT_DB_ALIAS]
    settings.DATABASES[DEFAULT_DB_ALIAS] = configured[DEFAULT_DB_ALIAS]


def current_database() -> dict[str, Any]:
    """A copy of the default database's settings."""
    return dict(connections.settings[DEFAULT_DB_ALIAS])


@contextmanager
def throwaway_database(prefix: str) -> Iterator[dict[str, Any]]:
    """Create a new database named after ``prefix`` and the pid, migrate it, drop it after.

    The default connection points at it inside the block. On PostgreSQL the database is created
    through the configured server (its own NAME only serves to connect); on SQLite it is a file
    in a new temporary directory. Only what this function created is ever dropped.
    """
    original = current_database()
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if vendor == "postgresql":
        name = f"{prefix}_{os.getpid()}"
        _create_postgresql(name)
        try:
            use_database({**original, "NAME": name})
            call_command("migrate", interactive=False, verbosity=0)
            yield current_database()
        finally:
            use_database(original)
            _drop_postgresql(name)
    elif vendor == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
        try:
            use_database({**original, "NAME": str(directory / "db.sqlite3")})
            call_command("migrate", interactive=False, verbosity=0)
            yield current_database()
        finally:
            use_database(original)
            shutil.rmtree(directory, ignore_errors=True)
    else:
        raise CommandError(f"Only PostgreSQL and SQLite are supported, not {vendor}.")


@contextmanager
def empty_database(name: str) -> Iterator[dict[str, Any]]:
    """Settings of a new, empty database named ``name`` (plus the pid), dropped after the block.

    For a process of its own to migrate (``bench --compare-python``: another package, another
    interpreter). The default connection is left as it is.
    """
    original = current_database()
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if vendor == "postgresql":
        name = f"{name}_{os.getpid()}"
        _create_postgresql(name)
        try:
            yield {**original, "NAME": name}
        finally:
            _drop_postgresql(name)
    elif vendor == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=f"{name}_"))
        try:
            # Concurrent writers wait for SQLite's lock instead of failing at once.
            yield {**original, "NAME": str(directory / "db.sqlite3"), "OPTIONS": {"timeout": 30}}
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    else:
        raise CommandError(f"Only PostgreSQL and SQLite are supported, not {vendor}.")


def _create_postgresql(name: str) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    # _nodb_cursor connects to the maintenance database, as the test runner does. CREATE fails
    # if the name exists, so a database we did not create is never touched.
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")


def _drop_postgresql(name: str) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    # FORCE ends sessions a killed server may have left behind (PostgreSQL 13+).
    force = " WITH (FORCE)" if connection.pg_version >= 130000 else ""
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}{force}")
