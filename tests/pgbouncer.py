"""A throwaway PgBouncer (Debian's package) in transaction mode in front of the test PostgreSQL.

With ``TEST_PGBOUNCER=1`` (and ``TEST_DATABASE=postgresql``) the suite's ``django_db_setup``
creates the test database directly on PostgreSQL, then starts ``pgbouncer`` on a free port with
a config in a temporary folder and sends every test's connection through it. Before the test
database is dropped, PgBouncer is stopped, so no pooled server connection keeps it open.

``python -m tests.pgbouncer COMMAND...`` runs a command with ``PGBOUNCER_PORT`` set to a
PgBouncer of its own (``.ci/run`` runs the load test so).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

HOST = "127.0.0.1"
#: Clients queue beyond this many server connections per database and user.
POOL_SIZE = 40


class PgBouncer:
    """``pgbouncer`` as a subprocess: transaction pooling, trust auth, every database proxied."""

    def __init__(self, *, server_host: str = HOST, server_port: int = 5432) -> None:
        self.server_host = server_host
        self.server_port = server_port
        self.port = 0
        self.folder = Path(tempfile.mkdtemp(prefix="pgbouncer_"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        """What PgBouncer logged so far."""
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> PgBouncer:
        """Write the config, start PgBouncer, and wait until it accepts connections."""
        executable = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(executable).exists():
            raise RuntimeError("pgbouncer is missing: apt-get install pgbouncer")
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = int(probe.getsockname()[1])
        user = os.environ.get("PGUSER", "postgres")
        (self.folder / "userlist.txt").write_text(f'"{user}" ""\n')
        (self.folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            # Any database name the client asks for, on the same server: the test database
            # pytest-django creates, and the load test's throwaway one.
            f"* = host={self.server_host} port={self.server_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {HOST}\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "pool_mode = transaction\n"
            # PostgreSQL trusts local connections here; PgBouncer still wants the user listed.
            "auth_type = trust\n"
            f"auth_file = {self.folder / 'userlist.txt'}\n"
            f"admin_users = {user}\n"
            "max_client_conn = 2000\n"
            f"default_pool_size = {POOL_SIZE}\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
            f"pidfile = {self.folder / 'pgbouncer.pid'}\n"
        )
        command = [executable, "-q"]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root (CI runs as root): it switches to postgres.
            owner = pwd.getpwnam("postgres")
            for path in (self.folder, *self.folder.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            command += ["-u", "postgres"]
        self.process = subprocess.Popen([*command, str(self.folder / "pgbouncer.ini")])
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.process.returncode}:\n{self.log}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not listen in 30 s:\n{self.log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Immediate shutdown (SIGINT): clients and server connections are closed at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def admin(port: int, command: str) -> list[dict[str, Any]]:
    """Run a command of PgBouncer's admin console (simple query protocol, as it requires)."""
    import psycopg

    user = os.environ.get("PGUSER", "postgres")
    with (
        psycopg.connect(
            host=HOST, port=port, user=user, dbname="pgbouncer", autocommit=True
        ) as connection,
        psycopg.ClientCursor(connection) as cursor,
    ):
        cursor.execute(command)
        names = [column.name for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: Any, request: pytest.FixtureRequest
) -> Iterator[None]:
    """With TEST_PGBOUNCER set: the test database on PostgreSQL, every test through PgBouncer."""
    if not os.environ.get("TEST_PGBOUNCER"):
        yield
        return
    from django.conf import settings
    from django.db import connections

    if connections["default"].vendor != "postgresql":
        raise pytest.UsageError("TEST_PGBOUNCER needs TEST_DATABASE=postgresql")
    database = settings.DATABASES["default"]
    bouncer = PgBouncer(server_host=database["HOST"], server_port=int(database["PORT"]))
    bouncer.start()
    direct = database["PORT"]
    with django_db_blocker.unblock():
        connections.close_all()
    for settings_dict in {
        id(d): d for d in (database, connections["default"].settings_dict)
    }.values():
        settings_dict["PORT"] = str(bouncer.port)
    request.config.stash[PGBOUNCER_KEY] = bouncer
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            connections.close_all()
        bouncer.stop()
        for settings_dict in (database, connections["default"].settings_dict):
            settings_dict["PORT"] = direct


PGBOUNCER_KEY = pytest.StashKey[PgBouncer]()


def main() -> int:
    """Run argv[1:] with PGBOUNCER_PORT set to a PgBouncer of its own; its exit code."""
    with PgBouncer(
        server_host=os.environ.get("PGHOST", HOST), server_port=int(os.environ.get("PGPORT", 5432))
    ) as bouncer:
        print(f"PgBouncer on {HOST}:{bouncer.port} (transaction mode)", flush=True)
        code = subprocess.call(
            sys.argv[1:], env={**os.environ, "PGBOUNCER_PORT": str(bouncer.port)}
        )
        if code:
            print(bouncer.log[-5000:], file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
