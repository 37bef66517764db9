"""`manage.py loadtest --realtime`: live updates measured with real sockets, daphne and Redis.

One daphne process serves the example project on a throwaway PostgreSQL database, with the
channels_redis layer on REDIS_URL (a prefix of its own). Node opens the sockets with the real
graphql-ws client (tests/clients/realtime_driver.mjs). This process sends through the Python API,
so its announcements also travel through Redis, and measures:

- send -> event latency: sequential sends to random users among --sockets subscribed sockets,
  from the call of api.info() until the socket's client has the new count (p50, p99);
- memory per idle subscribed socket: daphne's RSS before and after opening them;
- a QuerySet broadcast to --broadcast-users connected users: time until the last socket has its
  new count, and the transactions the database committed meanwhile (pg_stat_database).
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count

from user_messages import api
from user_messages.models import Message

HOST = "127.0.0.1"
REPOSITORY = Path(__file__).resolve().parents[3]
DRIVER = REPOSITORY / "tests" / "clients" / "realtime_driver.mjs"
USER_PREFIX = "live-user-"


class RealtimeBench:
    """Set up users and sessions, serve with daphne, open sockets with Node, measure, stop."""

    def __init__(self, write: Any, options: dict[str, Any], database_url: str) -> None:
        self.write = write
        self.options = options
        self.database_url = database_url
        self.redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
        self.prefix = f"user_messages_bench_{uuid.uuid4().hex[:8]}"
        node = shutil.which("node")
        if node is None or not (DRIVER.parent / "node_modules" / "graphql-ws").exists():
            raise CommandError("--realtime needs node and `npm ci` in tests/clients.")
        self.node = node
        # This process announces its sends on the same Redis layer as daphne.
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [self.redis_url], "prefix": self.prefix},
            }
        }
        channel_layers.backends.clear()

    def run(self) -> None:
        users = max(self.options["sockets"], self.options["broadcast_users"])
        self.write(f"Creating {users} users with a session each ...")
        cookies = self.create_sessions(users)
        from example_project.management.commands.loadtest import free_port, stop

        port = free_port()
        with (
            tempfile.TemporaryDirectory(prefix="realtime_bench_") as tmp,
            Path(tmp, "daphne.log").open("w+") as log,
        ):
            server = self.start_daphne(port, log)
            try:
                self.wait_until_up(port, server)
                time.sleep(1)
                self.latency_and_memory(port, server, cookies, Path(tmp))
                self.broadcast(port, cookies, Path(tmp))
            except BaseException:
                log.seek(0)
                # Without the access log: one line per socket would hide the error.
                lines = [line for line in log if '"WS' not in line and "HANDSHAKING" not in line]
                self.write("daphne log (tail):\n" + "".join(lines[-60:]))
                raise
            finally:
                stop(server)

    def create_sessions(self, count: int) -> list[tuple[int, str]]:
        """Users (one shared password hash) and one database session each: (user id, cookie)."""
        user_model = get_user_model()
        manager = user_model._default_manager
        password = make_password("realtime-bench")
        manager.bulk_create(
            user_model(username=f"{USER_PREFIX}{number:05d}", password=password)
            for number in range(count)
        )
        result = []
        for user in manager.filter(username__startswith=USER_PREFIX).order_by("pk"):
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            result.append((user.pk, f"sessionid={session.session_key}"))
        return result

    def start_daphne(self, port: int, log: Any) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "DATABASE_URL": self.database_url,
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": HOST,
            "REDIS_URL": self.redis_url,
            "REDIS_CHANNEL_PREFIX": self.prefix,
        }
        command = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            HOST,
            "-p",
            str(port),
            "example_project.asgi:application",
        ]
        return subprocess.Popen(command, env=env, cwd=REPOSITORY, stdout=log, stderr=log)

    def wait_until_up(self, port: int, server: subprocess.Popen[bytes]) -> None:
        import socket

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"daphne exited with {server.returncode}.")
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise CommandError("daphne did not start within 30 s.")

    def open_sockets(
        self, port: int, cookies: list[tuple[int, str]], tmp: Path
    ) -> tuple[subprocess.Popen[str], queue.Queue[dict[str, Any]], set[int]]:
        sessions = tmp / f"sessions-{len(cookies)}.json"
        sessions.write_text(json.dumps([cookie for _, cookie in cookies]))
        driver = subprocess.Popen(
            [
                self.node,
                str(DRIVER),
                f"ws://{HOST}:{port}/graphql",
                f"http://{HOST}:{port}",
                str(sessions),
            ],
            cwd=DRIVER.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        events: queue.Queue[dict[str, Any]] = queue.Queue()

        def read() -> None:
            assert driver.stdout is not None
            for line in driver.stdout:
                events.put(json.loads(line))

        threading.Thread(target=read, daemon=True).start()
        errors = []
        while True:
            event = events.get(timeout=300)
            if event.get("event") == "socket-error":
                errors.append(event["error"])
            if event.get("event") == "ready":
                self.write(
                    f"  {event['sockets']} of {len(cookies)} sockets subscribed; "
                    f"{len(event['failed'])} failed ({errors}), {event['reconnects']} "
                    "closed abnormally and were reconnected by graphql-ws's retry"
                )
                return driver, events, set(event["failed"])

    def latency_and_memory(
        self, port: int, server: subprocess.Popen[bytes], cookies: list[tuple[int, str]], tmp: Path
    ) -> None:
        sockets = cookies[: self.options["sockets"]]
        before = rss_bytes(server.pid)
        started = time.monotonic()
        driver, events, failed = self.open_sockets(port, sockets, tmp)
        opened = time.monotonic() - started
        time.sleep(2)
        after = rss_bytes(server.pid)
        per_socket = (after - before) / len(sockets)
        self.write(f"\nLive updates: {len(sockets)} subscribed sockets on one daphne process")
        self.write(f"  opened and subscribed in {opened:.1f} s")
        self.write(
            f"  daphne RSS {before / 2**20:.0f} MiB idle, {after / 2**20:.0f} MiB with the sockets:"
            f" {per_socket / 1024:.1f} KiB per idle subscribed socket, so about"
            f" {int((2**30 - before) / per_socket):,} fit in 1 GiB of RSS"
        )
        user_model = get_user_model()
        latencies = []
        rng = random.Random(1)
        counts = [0] * len(sockets)
        for _ in range(self.options["samples"]):
            index = rng.choice([i for i in range(len(sockets)) if i not in failed])
            user = user_model(pk=sockets[index][0])
            counts[index] += 1
            sent = time.time() * 1000
            api.info(user, "Latency probe.")
            while True:
                event = events.get(timeout=10)
                if event.get("event") == "socket-error":
                    raise CommandError(f"A socket failed: {event}")
                if event.get("user") == index and event["count"] == counts[index]:
                    latencies.append(event["t"] - sent)
                    break
        latencies.sort()
        self.write(
            f"  send -> event latency over {len(latencies)} sequential sends: "
            f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
            f"max {latencies[-1]:.1f} ms (target p99 <= 100 ms)"
        )
        driver.kill()
        driver.wait()
        time.sleep(2)

    def broadcast(self, port: int, cookies: list[tuple[int, str]], tmp: Path) -> None:
        sockets = cookies[: self.options["broadcast_users"]]
        driver, events, failed = self.open_sockets(port, sockets, tmp)
        time.sleep(2)
        user_model = get_user_model()
        recipients = user_model._default_manager.filter(pk__in=[pk for pk, _ in sockets])
        # The latency probes are still pending for some users: each expects its count plus one.
        pending = dict(
            Message.objects.filter(delivered_at__isnull=True)
            .values_list("user_id")
            .annotate(Count("pk"))
        )
        expected = [pending.get(pk, 0) + 1 for pk, _ in sockets]
        commits_before = transactions_committed()
        sent = time.time() * 1000
        stored = api.info(recipients, "Broadcast probe.")
        heard: dict[int, float] = {}
        other: dict[int, int] = {}
        while len(heard) < len(sockets) - len(failed):
            try:
                event = events.get(timeout=30)
            except queue.Empty:
                raise CommandError(
                    f"Only {len(heard)} of {len(sockets) - len(failed)} sockets had their new "
                    f"count 30 s after the broadcast; {len(other)} others heard another count, "
                    f"e.g. {list(other.items())[:5]} (user index, count)."
                ) from None
            if event.get("event") == "socket-error":
                raise CommandError(f"A socket failed during the broadcast: {event}")
            if "user" in event and event["count"] == expected[event["user"]]:
                heard.setdefault(event["user"], event["t"] - sent)
            elif "user" in event:
                other[event["user"]] = event["count"]
        # An idle PostgreSQL backend publishes its statistics within 10 s (PGSTAT_IDLE_INTERVAL).
        time.sleep(11)
        commits = transactions_committed() - commits_before
        self.write(
            f"\nQuerySet broadcast to {stored} users, {len(heard)} of them connected (one socket"
            " each)"
        )
        self.write(
            f"  last socket had its new count after {max(heard.values()):.0f} ms "
            f"(median {percentile(sorted(heard.values()), 50):.0f} ms; target <= 2000 ms)"
        )
        self.write(
            f"  transactions the database committed meanwhile: {commits} "
            f"({commits / len(heard):.2f} per connected user; the insert included)"
        )
        driver.kill()
        driver.wait()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise CommandError(f"No VmRSS for process {pid}.")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    index = max(0, min(len(values) - 1, round(pct / 100 * len(values)) - 1))
    return values[index]


def transactions_committed() -> int:
    """Transactions committed on the current database so far (pg_stat_database)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        (value,) = cursor.fetchone()
    return int(value)
