"""`manage.py loadtest`: the example project under gunicorn, driven by concurrent users.

Three processes: this command (sets up, sends through the Python API, verifies), gunicorn
serving the example project, and _loaddriver.py (users reading myMessages in several tabs,
acknowledging sticky messages, senders calling SendMessage). Everything runs in a throwaway
PostgreSQL database and stops by itself; exits non-zero on any error, lost or duplicated message.

    pip install -e ".[bench,postgresql]"
    python example_project/manage.py loadtest --seconds 20 --users 20
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from example_project.benchmarks.management.commands._servers import HOST, free_port, stop
from example_project.benchmarks.management.commands._throwaway import (
    throwaway_database,
    use_database,
)
from example_project.settings import database_from_url
from user_messages import api
from user_messages.models import Message

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REPOSITORY = Path(__file__).resolve().parents[4]
DRIVER = Path(__file__).with_name("_loaddriver.py")
USER_PREFIX = "load-reader-"
PASSWORD = "load-test-password"
#: Seconds gunicorn may take to answer its first request.
STARTUP_TIMEOUT = 30.0


class Command(BaseCommand):
    help = (
        "Load-test the example project under gunicorn in a throwaway PostgreSQL database: "
        "users read and acknowledge messages while others send; verifies exactly-once delivery."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=20, help="Length of the timed phase.")
        parser.add_argument("--users", type=int, default=20, help="Users reading messages.")
        parser.add_argument("--tabs", type=int, default=2, help="Concurrent readers per user.")
        parser.add_argument("--senders", type=int, default=2, help="SendMessage clients.")
        parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (2-4).")
        parser.add_argument(
            "--send-interval", type=float, default=0.05, help="Pause between sends (seconds)."
        )
        parser.add_argument(
            "--max-requests", type=int, default=100_000, help="Cap per client thread."
        )
        parser.add_argument(
            "--realtime",
            action="store_true",
            help="Measure live updates instead: daphne, Redis (REDIS_URL) and real sockets.",
        )
        parser.add_argument(
            "--sockets", type=int, default=1000, help="--realtime: subscribed sockets."
        )
        parser.add_argument(
            "--broadcast-users",
            type=int,
            default=2000,
            help="--realtime: connected users a QuerySet broadcast reaches.",
        )
        parser.add_argument(
            "--samples", type=int, default=200, help="--realtime: sends timed for the latency."
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="--realtime: server processes sharing Redis; with more than one, the --sockets "
            "spread over them serve the latency and the broadcast (to all of them).",
        )
        parser.add_argument(
            "--server",
            choices=["daphne", "uvicorn"],
            default="daphne",
            help="--realtime: the ASGI server (uvicorn without permessage-deflate, which "
            "daphne does not offer either).",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="--realtime: a reconnect storm instead: with every socket subscribed (graphql-ws "
            "with the docs' retry settings), restart all server processes, send meanwhile, and "
            "measure until every socket is subscribed again with its right count.",
        )
        parser.add_argument(
            "--sentinel",
            action="store_true",
            help="--realtime: a Redis failover instead: the layer on a local Sentinel set (one "
            "primary, one replica, three sentinels), whose primary is killed while messages "
            "are sent; measures until every socket has its right count again.",
        )
        parser.add_argument(
            "--storm-sends",
            type=int,
            default=200,
            help="--restart, --sentinel: messages sent while the servers or Redis are down.",
        )
        parser.add_argument(
            "--database-url",
            default=None,
            help="PostgreSQL server to create the throwaway database on (default: DATABASE_URL "
            f"if it is PostgreSQL, else {DEFAULT_DATABASE_URL}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        admin_url = options["database_url"] or os.environ.get("DATABASE_URL", "")
        if not admin_url.startswith(("postgres://", "postgresql://")):
            admin_url = DEFAULT_DATABASE_URL
        if options["realtime"]:
            from example_project.benchmarks.management.commands._realtime import RealtimeBench

            use_database(database_from_url(admin_url))
            with throwaway_database("bench_user_messages_live") as database:
                database_url = urlsplit(admin_url)._replace(path=f"/{database['NAME']}").geturl()
                RealtimeBench(self.stdout.write, options, database_url).run()
            return
        if not 1 <= options["workers"] <= 8:
            raise CommandError("--workers must be between 1 and 8 on a small machine.")
        try:
            import gunicorn  # noqa: F401
        except ImportError:
            raise CommandError('gunicorn is missing: pip install -e ".[bench]"') from None

        use_database(database_from_url(admin_url))
        with throwaway_database("bench_user_messages_load") as database:
            database_url = urlsplit(admin_url)._replace(path=f"/{database['NAME']}").geturl()
            LoadTest(self.stdout.write, options, database_url).run()


class LoadTest:
    """Set up, serve, drive, verify; gunicorn and the driver are always stopped."""

    def __init__(self, write: Any, options: dict[str, Any], database_url: str) -> None:
        self.write = write
        self.options = options
        self.database_url = database_url
        self.failures: list[str] = []

    def run(self) -> None:
        """The whole test; raises CommandError when something was wrong."""
        users, sender = self.create_users()
        port = free_port()
        with tempfile.NamedTemporaryFile("w+", prefix="loadtest_gunicorn_", suffix=".log") as log:
            server = self.start_gunicorn(port, log)
            try:
                self.wait_until_up(port, server, log)
                result, api_sent = self.drive(port, users, sender)
            except BaseException:
                self.write(f"gunicorn log (tail):\n{tail(log)}")
                raise
            finally:
                stop(server)
        self.verify(result, api_sent, users, port)
        if self.failures:
            raise CommandError(f"Load test failed: {'; '.join(self.failures)}")
        self.write("\nLoad test passed: no errors, every deliver-once message shown exactly once.")

    def create_users(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The readers and one sender with the send permission; one password hash for all."""
        user_model = get_user_model()
        manager = user_model._default_manager
        # Hashing is deliberately slow; every account shares one hash of the same password.
        password = make_password(PASSWORD)
        manager.bulk_create(
            user_model(username=f"{USER_PREFIX}{number:04d}", password=password)
            for number in range(self.options["users"])
        )
        sender = manager.create(username="load-sender", password=password)
        app_label, codename = settings.USER_MESSAGES["SEND_PERMISSION"].split(".")
        sender.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
        users = [
            {"id": pk, "username": username}
            for pk, username in manager.filter(username__startswith=USER_PREFIX)
            .order_by("pk")
            .values_list("pk", "username")
        ]
        return users, {"id": sender.pk, "username": sender.get_username()}

    def start_gunicorn(self, port: int, log: IO[str]) -> subprocess.Popen[bytes]:
        """The example project under gunicorn, on the throwaway database, DEBUG off."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "DATABASE_URL": self.database_url,
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": HOST,
        }
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(self.options["workers"]),
            "--chdir",
            str(REPOSITORY),
            "--timeout",
            "30",
            "--error-logfile",
            "-",
            "example_project.wsgi:application",
        ]
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_until_up(self, port: int, server: subprocess.Popen[bytes], log: IO[str]) -> None:
        """Poll the login page until gunicorn answers; fail if it exits or takes too long."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"gunicorn exited with {server.returncode}.")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/accounts/login/", timeout=2):
                    return
            except OSError:  # refused, or a worker still booting let the read time out
                time.sleep(0.2)
        raise CommandError(f"gunicorn did not answer within {STARTUP_TIMEOUT:.0f} s.")

    def drive(
        self, port: int, users: list[dict[str, Any]], sender: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, int]]:
        """Run the driver process while this process sends through the Python API."""
        options = self.options
        operations = {
            name: (settings.GRAPHQL_OPERATIONS_DIR / f"{name}.graphql").read_text(encoding="utf-8")
            for name in ("MyMessages", "AcknowledgeMessages", "SendMessage")
        }
        config = {
            "host": HOST,
            "port": port,
            "users": users,
            "sender": sender,
            "password": PASSWORD,
            "operations": operations,
            "seconds": options["seconds"],
            "tabs": options["tabs"],
            "senders": options["senders"],
            "send_interval": options["send_interval"],
            "recipients_per_send": 3,
            "max_requests": options["max_requests"],
        }
        driver = subprocess.Popen(
            [sys.executable, str(DRIVER), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        # Logins, the timed phase, the drain and a margin: then the driver is stuck; kill it.
        budget = 120 + options["seconds"] + 2 * len(users)
        watchdog = threading.Timer(budget, driver.kill)
        watchdog.start()
        try:
            logged_in = read_event(driver, "logged_in")
            self.write(
                f"Logged in {len(users)} users and 1 sender in {logged_in['seconds']:.1f} s "
                "(each login hashes the password: PBKDF2, Django's default)."
            )
            api_sent = self.send_through_api(users, options["seconds"])
            assert driver.stdin is not None
            driver.stdin.write("drain\n")
            driver.stdin.flush()
            result = read_event(driver, "done")
            driver.wait(timeout=30)
        finally:
            watchdog.cancel()
            if driver.poll() is None:
                driver.kill()
                driver.wait()
        if driver.returncode != 0:
            raise CommandError(f"The driver exited with {driver.returncode}.")
        return result, api_sent

    def send_through_api(self, users: list[dict[str, Any]], seconds: float) -> dict[str, int]:
        """Send with user_messages.api from this process until the deadline."""
        rng = random.Random(0)
        user_ids = [user["id"] for user in users]
        recipients = get_user_model()._default_manager.filter(username__startswith=USER_PREFIX)
        sent = {"single": 0, "broadcast": 0, "broadcasts": 0}
        deadline = time.monotonic() + seconds
        iteration = 0
        while time.monotonic() < deadline:
            iteration += 1
            if iteration % 20 == 0:
                # A broadcast to every reader: bulk inserts racing with their reads.
                sent["broadcast"] += api.info(recipients, f"Broadcast {iteration}")
                sent["broadcasts"] += 1
            else:
                api.info(
                    rng.choice(user_ids),
                    f"API message {iteration}",
                    deliver_once=iteration % 7 != 0,
                )
                sent["single"] += 1
            time.sleep(self.options["send_interval"])
        return sent

    def verify(
        self,
        result: dict[str, Any],
        api_sent: dict[str, int],
        users: list[dict[str, Any]],
        port: int,
    ) -> None:
        """Compare what readers were shown with the rows in the database, and print it all."""
        options = self.options
        rows = list(
            Message.objects.filter(user__in=[user["id"] for user in users]).values_list(
                "pk", "user_id", "deliver_once", "delivered_at"
            )
        )
        once_owner = {pk: user_id for pk, user_id, once, _at in rows if once}
        sticky_pending = sum(1 for _pk, _user, once, at in rows if not once and at is None)
        shown: dict[int, int] = {}
        duplicated = foreign = 0
        for user_id, ids in result["seen"].items():
            for pk in ids:
                if once_owner.get(pk) != int(user_id):
                    foreign += 1
                elif pk in shown:
                    duplicated += 1
                shown[pk] = shown.get(pk, 0) + 1
        lost = sum(1 for pk in once_owner if pk not in shown)
        exactly_once = sum(1 for pk in once_owner if shown.get(pk) == 1)
        sent_total = result["sent_by_graphql"] + api_sent["single"] + api_sent["broadcast"]

        write = self.write
        timed = result["timed_seconds"]
        write(
            f"\nLoad test: gunicorn {options['workers']} sync workers on {HOST}:{port}, "
            f"{connection.vendor} (throwaway database {connection.settings_dict['NAME']})\n"
            f"Timed phase {timed:.1f} s: {len(users)} users x {options['tabs']} tabs reading "
            f"myMessages (+ acknowledgeMessages for sticky ones), {options['senders']} "
            "SendMessage clients, 1 Python API sender (this process)\n"
        )
        write(f"  {'operation':<22} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, figures in sorted(result["operations"].items()):
            write(
                f"  {name:<22} {figures['count']:>9} {figures['p50']:>8.1f} "
                f"{figures['p95']:>8.1f} {figures['max']:>8.1f}"
            )
        rate = result["timed_requests"] / timed
        write(
            f"\n  {'throughput (timed phase)':<34} {rate:,.0f} requests/s "
            f"({result['timed_requests']} requests)"
        )
        self.check("errors (non-2xx, GraphQL errors)", result["error_count"], 0)
        for error in result["errors"]:
            write(f"      {error}")
        write(
            f"  {'messages sent':<34} {sent_total}: {result['sent_by_graphql']} by "
            f"SendMessage, {api_sent['single']} by api.info, {api_sent['broadcast']} in "
            f"{api_sent['broadcasts']} broadcasts"
        )
        self.check("rows stored", len(rows), sent_total)
        write(f"  {'deliver-once messages':<34} {len(once_owner)}")
        self.check("  shown exactly once", exactly_once, len(once_owner))
        self.check("  lost (never shown)", lost, 0)
        self.check("  duplicated (shown twice)", duplicated, 0)
        self.check("  shown to the wrong user", foreign, 0)
        self.check("sticky messages left pending", sticky_pending, 0)

    def check(self, what: str, value: int, expected: int) -> None:
        """Print one verified figure with PASS/FAIL, remembering failures."""
        ok = value == expected
        if not ok:
            self.failures.append(f"{what.strip()}: {value}, expected {expected}")
        self.write(f"  {what:<34} {value:<8} expected {expected:<8} {'PASS' if ok else 'FAIL'}")


def read_event(driver: subprocess.Popen[str], event: str) -> dict[str, Any]:
    """The driver's next protocol line, which must be ``event``."""
    assert driver.stdout is not None
    line = driver.stdout.readline()
    if not line:
        raise CommandError(f"The driver ended before '{event}' (exit {driver.wait()}).")
    message: dict[str, Any] = json.loads(line)
    if message.get("event") != event:
        raise CommandError(f"Expected '{event}' from the driver, got {line[:200]!r}.")
    return message


def tail(log: IO[str], lines: int = 40) -> str:
    """The last lines of the gunicorn log."""
    log.flush()
    log.seek(0)
    return "".join(log.readlines()[-lines:])
