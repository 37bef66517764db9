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

With --processes N (N > 1), N daphne processes share Redis and the --sockets are spread over them
(socket i on process i mod N, as a load balancer would); the latency is measured while all of
them stay subscribed and the broadcast goes to all of them. Each process serves
_counted_asgi.py, which counts the connections it opens and the statements and transactions
it runs, reported per process with its RSS. Any socket closed or failed, any wake-up lost, or
"Timeout reading" / a traceback in a daphne log fails the command.
"""

from __future__ import annotations

import collections
import contextlib
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
import urllib.request
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

from example_project.benchmarks.management.commands._sentinel import MASTER_NAME, SentinelSet
from example_project.benchmarks.management.commands._servers import HOST, free_port, stop
from user_messages import api
from user_messages.models import Message

REPOSITORY = Path(__file__).resolve().parents[4]
#: The text of the messages --restart and --sentinel send while servers or Redis are down.
STORM_MESSAGE = "Sent during the outage."
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
        self.server = options.get("server", "daphne")
        self.storm = bool(options.get("restart") or options.get("sentinel"))
        #: What the server processes get on top of REDIS_URL (--sentinel: the sentinels).
        self.layer_environment: dict[str, str] = {}
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
        processes = self.options["processes"]
        if processes < 1:
            raise CommandError("--processes must be at least 1.")
        if self.options.get("sentinel"):
            with tempfile.TemporaryDirectory(prefix="realtime_sentinel_") as tmp:
                sentinels = SentinelSet(Path(tmp))
                try:
                    self.use_sentinels(sentinels)
                    self.serve(processes, self.options["sockets"])
                finally:
                    sentinels.stop()
            return
        if self.storm:
            self.serve(processes, self.options["sockets"])
            return
        if processes == 1:
            users = max(self.options["sockets"], self.options["broadcast_users"])
        else:
            users = self.options["sockets"]
        self.serve(processes, users)

    def serve(self, processes: int, users: int) -> None:
        """Start the servers, run the chosen measurement on them, stop them, judge their logs."""
        self.write(f"Creating {users} users with a session each ...")
        cookies = self.create_sessions(users)
        ports = [free_port() for _ in range(processes)]
        with (
            tempfile.TemporaryDirectory(prefix="realtime_bench_") as tmp,
            contextlib.ExitStack() as stack,
        ):
            logs = [
                stack.enter_context(Path(tmp, f"daphne-{number}.log").open("w+"))
                for number in range(processes)
            ]
            servers = [
                self.start_daphne(port, log, number)
                for number, (port, log) in enumerate(zip(ports, logs, strict=True))
            ]
            try:
                for port, server in zip(ports, servers, strict=True):
                    self.wait_until_up(port, server)
                time.sleep(1)
                if self.options.get("sentinel"):
                    self.failover(ports, servers, cookies, Path(tmp))
                elif self.storm:
                    self.restart_storm(ports, servers, logs, cookies, Path(tmp))
                elif processes == 1:
                    self.latency_and_memory(ports[0], servers[0], cookies, Path(tmp))
                    self.broadcast(ports[0], cookies, Path(tmp))
                else:
                    self.many_processes(ports, servers, cookies, Path(tmp))
            except BaseException:
                for number, log in enumerate(logs):
                    self.write(f"daphne {number} log (tail):\n" + "".join(errors_in(log)[-60:]))
                raise
            finally:
                # Stopping with sockets still open may log their cleanup: judge what came before.
                running = [errors_in(log) for log in logs]
                for server in servers:
                    stop(server)
            for number, log in enumerate(logs):
                bad = [line for line in errors_in(log) if "Timeout reading" in line]
                if not self.options.get("sentinel"):
                    # A killed primary is logged by design (one warning per outage and socket).
                    bad += [line for line in running[number] if line.startswith("Traceback")]
                if bad:
                    lines = errors_in(log)
                    first = lines.index(bad[0])
                    self.write(
                        f"{self.server} {number} log:\n" + "".join(lines[first : first + 60])
                    )
                    raise CommandError(f"{self.server} {number} logged {bad[0].strip()!r}")

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

    def start_daphne(
        self,
        port: int,
        log: Any,
        number: int = 0,
        *,
        application: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """The server (daphne unless --server) serving ``application`` (the example's by
        default) on the bench's database."""
        if application is None:
            application = "example_project.asgi:application"
            if self.options["processes"] > 1 or self.storm:
                application = (
                    "example_project.benchmarks.management.commands._counted_asgi:application"
                )
        env = {
            **os.environ,
            **(environment or {}),
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            # Its name in pg_stat_activity (without a pooler between them).
            "DATABASE_URL": f"{self.database_url}?application_name=loadtest-daphne-{number}",
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": HOST,
            "REDIS_URL": self.redis_url,
            "REDIS_CHANNEL_PREFIX": self.prefix,
            **self.layer_environment,
        }
        if self.server == "uvicorn":
            command = [
                *(sys.executable, "-m", "uvicorn", "--host", HOST, "--port", str(port)),
                # Django speaks no lifespan; no access log, as daphne's is filtered out.
                *("--lifespan", "off", "--no-access-log", "--log-level", "warning"),
                # permessage-deflate keeps a compression context for each socket that offers
                # it (Node's ws and browsers do); daphne does not compress: off, to compare
                # the servers alike (the counts are a few bytes).
                *("--ws-per-message-deflate", "false"),
                application,
            ]
        else:
            command = [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), application]
        return subprocess.Popen(command, env=env, cwd=REPOSITORY, stdout=log, stderr=log)

    def wait_until_up(self, port: int, server: subprocess.Popen[bytes]) -> None:
        import socket

        # Four processes starting Django together on a busy two-core machine took over 30 s.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"{self.server} exited with {server.returncode}.")
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise CommandError(f"{self.server} did not start within 90 s.")

    def open_sockets(
        self,
        ports: int | list[int],
        cookies: list[tuple[int, str]],
        tmp: Path,
        retry: str = "default",
    ) -> tuple[subprocess.Popen[str], queue.Queue[dict[str, Any]], set[int]]:
        sessions = tmp / f"sessions-{len(cookies)}.json"
        sessions.write_text(json.dumps([cookie for _, cookie in cookies]))
        ports = [ports] if isinstance(ports, int) else ports
        driver = subprocess.Popen(
            [
                self.node,
                str(DRIVER),
                ",".join(f"ws://{HOST}:{port}/graphql" for port in ports),
                "-",  # each server's own origin
                str(sessions),
                retry,
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
            try:
                # Each batch of 100 reports: silence means the servers stopped answering.
                event = events.get(timeout=300)
            except queue.Empty:
                driver.kill()
                raise CommandError("No socket opened for 300 s.") from None
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
        self.latency(sockets, events, failed, target=100)
        driver.kill()
        driver.wait()
        time.sleep(2)

    def latency(
        self,
        sockets: list[tuple[int, str]],
        events: queue.Queue[dict[str, Any]],
        failed: set[int],
        *,
        target: float,
    ) -> None:
        """Sequential single-user sends, each timed until its socket has the new count."""
        user_model = get_user_model()
        latencies: list[float] = []
        rng = random.Random(1)
        counts = [0] * len(sockets)
        for _ in range(self.options["samples"]):
            index = rng.choice([i for i in range(len(sockets)) if i not in failed])
            latencies.append(timed_send(user_model(pk=sockets[index][0]), index, counts, events))
        latencies.sort()
        self.write(
            f"  send -> event latency over {len(latencies)} sequential sends: "
            f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
            f"max {latencies[-1]:.1f} ms (target p99 <= {target:.0f} ms)"
        )

    def broadcast(self, port: int, cookies: list[tuple[int, str]], tmp: Path) -> None:
        sockets = cookies[: self.options["broadcast_users"]]
        driver, events, failed = self.open_sockets(port, sockets, tmp)
        time.sleep(2)
        self.broadcast_to(sockets, events, failed, target=2000)
        driver.kill()
        driver.wait()

    def broadcast_to(
        self,
        sockets: list[tuple[int, str]],
        events: queue.Queue[dict[str, Any]],
        failed: set[int],
        *,
        target: float,
    ) -> None:
        """A QuerySet broadcast to the users of these sockets, until the last one has it."""
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
            if event.get("event") in {"socket-error", "closed"}:
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
            f"(median {percentile(sorted(heard.values()), 50):.0f} ms; target <= {target:.0f} ms)"
        )
        self.write(
            f"  transactions the database committed meanwhile: {commits} "
            f"({commits / len(heard):.2f} per connected user; the insert included; every "
            "backend of the database counts)"
        )

    def many_processes(
        self,
        ports: list[int],
        servers: list[subprocess.Popen[bytes]],
        cookies: list[tuple[int, str]],
        tmp: Path,
    ) -> None:
        """All sockets spread over the processes: memory, latency, broadcast, database work."""
        processes = len(servers)
        before = [rss_bytes(server.pid) for server in servers]
        started = time.monotonic()
        driver, events, failed = self.open_sockets(ports, cookies, tmp)
        opened = time.monotonic() - started
        time.sleep(2)
        after = [rss_bytes(server.pid) for server in servers]
        self.write(
            f"\nLive updates: {len(cookies)} subscribed sockets over {processes} {self.server} "
            f"processes sharing Redis, opened and subscribed in {opened:.1f} s"
        )
        for number in range(processes):
            sockets = len(range(number, len(cookies), processes))
            self.write(
                f"  process {number}: {sockets} sockets, RSS {before[number] / 2**20:.0f} MiB idle,"
                f" {after[number] / 2**20:.0f} MiB with them: "
                f"{(after[number] - before[number]) / sockets / 1024:.1f} KiB per socket"
            )
        pids = [server.pid for server in servers] + [driver.pid]
        cpu = [cpu_seconds(pid) for pid in pids]
        self.latency(cookies, events, failed, target=50)
        self.write(f"  CPU seconds meanwhile: {spent(cpu, pids)}")
        counted = [database_work(port) for port in ports]
        peak = PeakConnections(connection.settings_dict["NAME"])
        cpu = [cpu_seconds(pid) for pid in pids]
        with peak:
            self.broadcast_to(cookies, events, failed, target=3000)
        # Includes the 11 s wait for the statistics, when the processes are idle.
        self.write(f"  CPU seconds meanwhile: {spent(cpu, pids)}")
        for number, port in enumerate(ports):
            now = database_work(port)
            self.write(
                f"  process {number}: {now['transactions'] - counted[number]['transactions']} "
                f"transactions ({now['statements'] - counted[number]['statements']} statements) "
                f"during the broadcast; {now['opened']} database connections opened since it "
                f"started, {now['open']} open now, at most {peak.by_process.get(number, 0)} at "
                "once during the broadcast (pg_stat_activity; behind a pooler it sees the "
                "pooler's connections instead)"
            )
        time.sleep(1)
        closed = []
        while not events.empty():
            event = events.get()
            if event.get("event") in {"socket-error", "closed"}:
                closed.append(event)
        if failed or closed:
            raise CommandError(
                f"{len(failed)} sockets failed to subscribe and {len(closed)} were closed, "
                f"e.g. {closed[:3]}"
            )
        self.write(f"  all {len(cookies)} sockets stayed connected throughout")
        driver.kill()
        driver.wait()

    def use_sentinels(self, sentinels: SentinelSet) -> None:
        """The layer of this process and of the servers on the sentinels' primary."""
        host = sentinels.host(max_connections=1000, socket_timeout=10)
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [host], "prefix": self.prefix, "capacity": 20_000},
            }
        }
        channel_layers.backends.clear()
        self.layer_environment = {
            "REDIS_SENTINELS": ",".join(f"{host}:{port}" for host, port in sentinels.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }
        self.sentinels = sentinels

    def subscribe_for_storm(
        self, ports: list[int], cookies: list[tuple[int, str]], tmp: Path
    ) -> tuple[subprocess.Popen[str], queue.Queue[dict[str, Any]]]:
        """Every socket subscribed with the docs' retry settings, or CommandError."""
        started = time.monotonic()
        driver, events, failed = self.open_sockets(ports, cookies, tmp, retry="recommended")
        if failed:
            driver.kill()
            raise CommandError(f"{len(failed)} sockets failed to subscribe.")
        self.write(
            f"  {len(cookies)} sockets over {len(ports)} {self.server} processes opened and "
            f"subscribed in {time.monotonic() - started:.1f} s (graphql-ws with the docs' "
            "retry settings: tests/clients/reconnect.mjs)"
        )
        time.sleep(2)
        return driver, events

    def send_during(self, cookies: list[tuple[int, str]], expected: list[int], count: int) -> None:
        """``count`` single-user sends to random sockets' users, counted in ``expected``."""
        user_model = get_user_model()
        rng = random.Random(len(cookies) + sum(expected))
        for _ in range(count):
            index = rng.randrange(len(cookies))
            expected[index] += 1
            api.info(user_model(pk=cookies[index][0]), STORM_MESSAGE)

    def restart_storm(
        self,
        ports: list[int],
        servers: list[subprocess.Popen[bytes]],
        logs: list[Any],
        cookies: list[tuple[int, str]],
        tmp: Path,
    ) -> None:
        """Restart every server process at once, as a deploy does, and follow the reconnects."""
        processes = len(servers)
        driver, events = self.subscribe_for_storm(ports, cookies, tmp)
        try:
            with_sockets = [rss_bytes(server.pid) for server in servers]
            expected = [0] * len(cookies)
            sends = self.options["storm_sends"]
            restart_ms = time.time() * 1000
            started = time.monotonic()
            for server in servers:
                server.terminate()  # all at once: SIGTERM, as a process manager stops them
            self.send_during(cookies, expected, sends // 2)
            for server in servers:
                stop(server, timeout=60)
            stopped = time.monotonic() - started
            for number, port in enumerate(ports):
                servers[number] = self.start_daphne(port, logs[number], number)
            sampler = Sampler([server.pid for server in servers], self.connection_name())
            with sampler:
                for port, server in zip(ports, servers, strict=True):
                    self.wait_until_up(port, server)
                up = time.monotonic() - started
                up_ms = time.time() * 1000
                cpu = [cpu_seconds(server.pid) for server in servers]
                # The other half while the clients come back: the storm's own sends.
                self.send_during(cookies, expected, sends - sends // 2)
                recovery = Recovery(len(cookies), processes, since=restart_ms)
                recovery.follow(events, expected, timeout=300)
                used = [
                    cpu_seconds(server.pid) - start
                    for server, start in zip(servers, cpu, strict=True)
                ]
            recovered = (recovery.done_at - restart_ms) / 1000
        finally:
            driver.kill()
            driver.wait()
        self.write(
            f"\nReconnect storm: {len(cookies)} subscribed sockets, all {processes} {self.server} "
            "processes restarted at once (SIGTERM, then started again on their ports)"
        )
        self.write(
            f"  stopped in {stopped:.1f} s; listening again {up:.1f} s after the restart began"
        )
        self.write(
            f"  every socket subscribed again with its right count {recovered:.1f} s after the "
            f"restart began ({(recovery.done_at - up_ms) / 1000:.1f} s after the servers listened;"
            " target <= 30 s)"
        )
        counts = self.check_counts(cookies, recovery.latest, expected, sends)
        self.write(
            f"  {sends} messages sent during the restart ({sends // 2} while the servers stopped, "
            f"the rest during the storm): {counts}"
        )
        attempts = sorted(recovery.attempts)
        self.write(
            f"  connection attempts per socket (refused ones included): median "
            f"{percentile(attempts, 50):.0f}, p99 {percentile(attempts, 99):.0f}, max "
            f"{attempts[-1]}; closes seen: {dict(sorted(recovery.closes.items()))}"
        )
        work = [database_work(port) for port in ports]
        for number in range(processes):
            rate, peak_rate, span = recovery.handshake_rate(number)
            self.write(
                f"  process {number}: {recovery.reconnected(number)} sockets back, handshakes "
                f"{rate:.0f}/s over {span:.1f} s (peak {peak_rate}/s in one second); "
                f"{recovery.attempts_of(number)} attempts; RSS "
                f"{with_sockets[number] / 2**20:.0f} MiB before, peak "
                f"{sampler.peak_rss[number] / 2**20:.0f} MiB during the storm, "
                f"{rss_bytes(servers[number].pid) / 2**20:.0f} MiB after; database connections: "
                f"at most {sampler.peak_connections.get(number, 0)} at once, "
                f"{work[number]['opened']} opened, {work[number]['transactions']} transactions; "
                f"CPU {used[number]:.1f} s"
            )

    def failover(
        self,
        ports: list[int],
        servers: list[subprocess.Popen[bytes]],
        cookies: list[tuple[int, str]],
        tmp: Path,
    ) -> None:
        """Kill the Redis primary while sending, and follow the sockets until counts are right."""
        sentinels = self.sentinels
        driver, events = self.subscribe_for_storm(ports, cookies, tmp)
        try:
            expected = [0] * len(cookies)
            sends = self.options["storm_sends"]
            self.send_during(cookies, expected, sends // 4)  # the load the primary dies under
            killed_ms = time.time() * 1000
            killed = sentinels.kill_primary()
            self.send_during(cookies, expected, sends // 2)
            sentinels.wait(lambda: sentinels.primary() == sentinels.replica_port, "the failover")
            promoted = time.monotonic() - killed
            self.send_during(cookies, expected, sends - sends // 4 - sends // 2)
            recovery = Recovery(len(cookies), len(ports), since=killed_ms)
            recovery.follow(events, expected, timeout=300, reconnect=False)
            recovered = (recovery.done_at - killed_ms) / 1000
            counts = self.check_counts(cookies, recovery.latest, expected, sends)
            latencies = [
                timed_send(get_user_model()(pk=cookies[index][0]), index, expected, events)
                for index in random.Random(5).sample(range(len(cookies)), min(50, len(cookies)))
            ]
        finally:
            driver.kill()
            driver.wait()
        self.write(
            f"\nRedis failover: {len(cookies)} subscribed sockets over {len(ports)} "
            f"{self.server} processes; the primary killed (SIGKILL) while sending"
        )
        self.write(f"  the sentinels promoted the replica {promoted:.1f} s after the kill")
        self.write(
            f"  every socket had its right count {recovered:.1f} s after the kill "
            f"({sum(1 for at in recovery.connected_at if at is not None)} sockets reconnected by "
            f"themselves; closes seen: {dict(sorted(recovery.closes.items()))})"
        )
        self.write(f"  {sends} messages sent around the kill: {counts}")
        latencies.sort()
        self.write(
            f"  afterwards, send -> event over {len(latencies)} sends through the promoted "
            f"primary: p50 {percentile(latencies, 50):.1f} ms, max {latencies[-1]:.1f} ms"
        )

    def check_counts(
        self,
        cookies: list[tuple[int, str]],
        latest: list[int | None],
        expected: list[int],
        sent: int,
    ) -> str:
        """Rows stored and counts shown against what was sent; CommandError if one is off."""
        stored = Message.objects.filter(message=STORM_MESSAGE).count()
        pending = dict(
            Message.objects.filter(delivered_at__isnull=True)
            .values_list("user_id")
            .annotate(Count("pk"))
        )
        wrong = [
            index
            for index, (user_id, _) in enumerate(cookies)
            if latest[index] != pending.get(user_id, 0)
        ]
        if stored < sent or wrong:
            examples = [(i, latest[i], pending.get(cookies[i][0], 0)) for i in wrong[:5]]
            raise CommandError(
                f"{stored} of {sent} sends stored; {len(wrong)} sockets show a count other than "
                f"the database's, e.g. {examples} (socket, shown, pending)"
            )
        return (
            f"{stored} of {sent} stored, every socket shows its user's pending count "
            f"({sum(1 for count in expected if count)} sockets with new messages)"
        )

    def connection_name(self) -> str:
        return str(connection.settings_dict["NAME"])

    def side_by_side(
        self, servers: dict[str, tuple[str, dict[str, str]]], sockets: int, rounds: int
    ) -> dict[str, list[float]]:
        """Send -> event latency of several servers, one daphne each, measured in turns.

        ``servers`` maps a name to (ASGI application, extra environment). Each gets ``sockets``
        subscribed sockets; each round sends once to a random user of each server, in an order
        that rotates from round to round, so that the servers share whatever the machine is
        doing. Returns each server's latencies in milliseconds, sorted.
        """
        names = list(servers)
        cookies = self.create_sessions(sockets * len(names))
        ports = [free_port() for _ in names]
        latencies: dict[str, list[float]] = {name: [] for name in names}
        with (
            tempfile.TemporaryDirectory(prefix="realtime_bench_") as tmp,
            contextlib.ExitStack() as stack,
        ):
            logs = [stack.enter_context(Path(tmp, f"{name}.log").open("w+")) for name in names]
            processes = [
                self.start_daphne(port, log, number, application=application, environment=env)
                for number, (port, log, (application, env)) in enumerate(
                    zip(ports, logs, servers.values(), strict=True)
                )
            ]
            driver = None
            try:
                for port, process in zip(ports, processes, strict=True):
                    self.wait_until_up(port, process)
                # Socket i goes to server i modulo their number (open_sockets).
                driver, events, failed = self.open_sockets(ports, cookies, Path(tmp))
                if failed:
                    raise CommandError(f"{len(failed)} sockets failed to subscribe.")
                user_model = get_user_model()
                rng = random.Random(1)
                counts = [0] * len(cookies)
                for turn in range(rounds):
                    shift = turn % len(names)
                    for number in [*range(shift, len(names)), *range(shift)]:
                        index = rng.randrange(number, len(cookies), len(names))
                        user = user_model(pk=cookies[index][0])
                        latencies[names[number]].append(timed_send(user, index, counts, events))
            except BaseException:
                for name, log in zip(names, logs, strict=True):
                    self.write(f"daphne {name} log (tail):\n" + "".join(errors_in(log)[-60:]))
                raise
            finally:
                if driver is not None:
                    driver.kill()
                    driver.wait()
                for process in processes:
                    stop(process)
        return {name: sorted(values) for name, values in latencies.items()}


def timed_send(
    user: Any, index: int, counts: list[int], events: queue.Queue[dict[str, Any]]
) -> float:
    """Send ``user`` (socket ``index``) one message; milliseconds until its socket has the count."""
    counts[index] += 1
    sent = time.time() * 1000
    api.info(user, "Latency probe.")
    while True:
        event = events.get(timeout=10)
        if event.get("event") in {"socket-error", "closed"}:
            raise CommandError(f"A socket failed: {event}")
        if event.get("user") == index and event["count"] == counts[index]:
            return float(event["t"] - sent)


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


def errors_in(log: Any) -> list[str]:
    """A daphne log without its access lines: one line per socket would hide the errors."""
    log.flush()
    log.seek(0)
    return [line for line in log if '"WS' not in line and "HANDSHAKING" not in line]


def database_work(port: int) -> dict[str, int]:
    """What one daphne process serving _counted_asgi.py counted of its database work."""
    from example_project.benchmarks.management.commands._counted_asgi import PATH

    with urllib.request.urlopen(f"http://{HOST}:{port}{PATH}", timeout=30) as response:
        result: dict[str, int] = json.loads(response.read())
    return result


class PeakConnections:
    """Samples pg_stat_activity in a thread: the most connections each daphne had at once."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.by_process: dict[int, int] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        import psycopg

        database = connection.settings_dict
        # From the maintenance database: the samples are no transactions of the measured one.
        with psycopg.connect(
            host=database["HOST"],
            port=database["PORT"] or None,
            user=database["USER"],
            password=database["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as sampler:
            while not self.stopped.wait(0.1):
                rows = sampler.execute(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name LIKE 'loadtest-daphne-%%' "
                    "GROUP BY application_name",
                    [self.database],
                ).fetchall()
                for name, count in rows:
                    number = int(name.rsplit("-", 1)[1])
                    self.by_process[number] = max(self.by_process.get(number, 0), count)

    def __enter__(self) -> PeakConnections:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spent(before: list[float], pids: list[int]) -> str:
    """CPU seconds each daphne process and the Node client used since ``before``."""
    used = [cpu_seconds(pid) - start for pid, start in zip(pids, before, strict=True)]
    daphne = ", ".join(f"{seconds:.1f}" for seconds in used[:-1])
    return f"daphne processes {daphne}; Node client {used[-1]:.1f}"


class Recovery:
    """Each socket followed through an outage, from the driver's events after ``since`` (ms)."""

    def __init__(self, sockets: int, processes: int, *, since: float) -> None:
        self.processes = processes
        self.since = since
        self.latest: list[int | None] = [None] * sockets
        #: When each socket was acknowledged again after ``since`` (epoch ms), if it was.
        self.connected_at: list[float | None] = [None] * sockets
        self.attempts = [0] * sockets
        self.closes: collections.Counter[int] = collections.Counter()
        self.done_at = 0.0
        self._handshakes: list[list[float]] = [[] for _ in range(processes)]

    def follow(
        self,
        events: queue.Queue[dict[str, Any]],
        expected: list[int],
        *,
        timeout: float,
        reconnect: bool = True,
    ) -> None:
        """Read events until every socket (reconnected, with ``reconnect``) shows ``expected``."""

        def ok(index: int) -> bool:
            back = not reconnect or self.connected_at[index] is not None
            return back and self.latest[index] == expected[index]

        # Before the outage each socket showed its count at subscription: 0 for fresh users.
        for index, count in enumerate(self.latest):
            if count is None:
                self.latest[index] = 0
        good = sum(1 for index in range(len(expected)) if ok(index))
        deadline = time.monotonic() + timeout
        while good < len(expected):
            try:
                event = events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                missing = [index for index in range(len(expected)) if not ok(index)]
                raise CommandError(
                    f"{len(missing)} sockets not back with their count after {timeout:.0f} s, "
                    f"e.g. {[(i, self.latest[i], expected[i]) for i in missing[:5]]} "
                    "(socket, count shown, count expected)"
                ) from None
            kind = event.get("event")
            if kind == "socket-error":
                raise CommandError(f"A client gave up: {event}")
            index = event.get("user")
            if index is None:
                continue
            before = ok(index)
            if kind == "connecting" and event["t"] >= self.since:
                self.attempts[index] += 1
            elif kind == "connected" and event["t"] >= self.since:
                if self.connected_at[index] is None:
                    self.connected_at[index] = event["t"]
                self._handshakes[index % self.processes].append(event["t"])
            elif kind == "closed":
                self.closes[event["code"]] += 1
            elif kind is None:
                self.latest[index] = event["count"]
            after = ok(index)
            good += int(after) - int(before)
            if good == len(expected):
                self.done_at = event.get("t", time.time() * 1000)

    def reconnected(self, process: int) -> int:
        return sum(
            1
            for index, at in enumerate(self.connected_at)
            if at and index % self.processes == process
        )

    def attempts_of(self, process: int) -> int:
        return sum(self.attempts[process :: self.processes])

    def handshake_rate(self, process: int) -> tuple[float, int, float]:
        """Acknowledged handshakes per second of one process: overall, in its busiest second,
        and the seconds from its first to its last."""
        times = sorted(self._handshakes[process])
        if len(times) < 2:
            return 0.0, len(times), 0.0
        span = (times[-1] - times[0]) / 1000
        per_second = collections.Counter(int((t - times[0]) // 1000) for t in times)
        return len(times) / max(span, 0.001), max(per_second.values()), span


class Sampler:
    """Samples the servers' RSS and their database connections in a thread: the peaks."""

    def __init__(self, pids: list[int], database: str) -> None:
        self.pids = pids
        self.peak_rss = [0] * len(pids)
        self.connections = PeakConnections(database)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    @property
    def peak_connections(self) -> dict[int, int]:
        return self.connections.by_process

    def sample(self) -> None:
        while not self.stopped.wait(0.1):
            for number, pid in enumerate(self.pids):
                with contextlib.suppress(OSError, CommandError):
                    self.peak_rss[number] = max(self.peak_rss[number], rss_bytes(pid))

    def __enter__(self) -> Sampler:
        self.connections.__enter__()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.connections.__exit__(*exc)
