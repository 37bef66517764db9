"""Issue 25's figures, small: long lists, history aliases and a frozen Redis, on both stacks.

    .venv/bin/python -m tests.hostile_probe states [N ...]      # default: 1 32000
    .venv/bin/python -m tests.hostile_probe aliases
    .venv/bin/python -m tests.hostile_probe frozen-redis [--sends 3] [--thaw-after 2.5]

Each request goes through the real GraphQL view of each stack (Django's test client, CSRF on)
on a throwaway SQLite test database. ``states`` posts one myMessageHistory whose states
variable holds N copies of PENDING (to /graphql, or to PROBE_URL such as /graphql-plain) and
prints the time, the status, the SQL statements and the characters of SQL. ``aliases`` posts 40
aliases of myMessageHistory with different ``first``, and 40 whose states differ only by
repeats, and prints the history queries and the answer's size. ``frozen-redis`` starts a
redis-server of its own, freezes it with SIGSTOP, times sendMessage on each stack, thaws it and
times again. Run it from another checkout (``cd OLD && PYTHONPATH=. python
/path/to/tests/hostile_probe.py ...``) for a before figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from user_messages import api  # noqa: E402

STACKS = {"graphene": "tests.urls", "strawberry": "tests.urls_strawberry"}
STATES = "query($s: [MessageState!]) { myMessageHistory(first: 1, states: $s) { pendingCount } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { count } }"


@contextmanager
def test_database() -> Iterator[None]:
    setup_test_environment()
    runner = DiscoverRunner(verbosity=0)
    databases = runner.setup_databases()
    try:
        yield
    finally:
        runner.teardown_databases(databases)


def post(client: Client, url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = json.dumps({"query": query, "variables": variables or {}})
    return client.post(url, body, content_type="application/json")


def signed_in(username: str, *, may_send: bool = False) -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(username, password="x")
    if may_send:
        user.user_permissions.add(Permission.objects.get(codename="add_message"))
    client = Client()
    client.force_login(user)
    return user, client


def states(counts: list[int]) -> None:
    url = os.environ.get("PROBE_URL", "/graphql")
    _, client = signed_in("probe")
    for count in counts:
        for stack, urls in STACKS.items():
            with override_settings(ROOT_URLCONF=urls), CaptureQueriesContext(connection) as sql:
                start = time.perf_counter()
                response = post(client, url, STATES, {"s": ["PENDING"] * count})
                took = time.perf_counter() - start
            characters = sum(len(query["sql"]) for query in sql.captured_queries)
            print(
                f"{stack:10} {url} states x {count:<6} {took * 1000:9.1f} ms  "
                f"status {response.status_code}  {len(sql)} statements, {characters:,} "
                f"characters of SQL  {response.content[:90]!r}"
            )


def aliases() -> None:
    user, client = signed_in("probe")
    for n in range(100):
        api.info(user, f"Message {n} " + "x" * 200)
    fragment = " fragment F on UserMessageConnection { edges { node { message } } }"
    spellings = ["[PENDING]", "[PENDING, PENDING]", "[PENDING, PENDING, PENDING]", "PENDING"]
    documents: dict[str, Callable[[int], str]] = {
        "different first": lambda i: f"first: {i + 1}",
        "repeated states": lambda i: f"first: 20, states: {spellings[i % 4]}",
    }
    for stack, urls in STACKS.items():
        for url in ("/graphql", "/graphql-plain"):
            for name, arguments in documents.items():
                fields = " ".join(
                    f"h{i}: myMessageHistory({arguments(i)}) {{ ...F }}" for i in range(40)
                )
                settings = {"ROOT_URLCONF": urls, "USER_MESSAGES": {"MAX_QUERY_TOKENS": 2000}}
                with override_settings(**settings), CaptureQueriesContext(connection) as sql:
                    response = post(client, url, "{ " + fields + " }" + fragment)
                history = [query for query in sql.captured_queries if "ORDER BY" in query["sql"]]
                answer = response.json()
                edges = sum(len(page["edges"]) for page in (answer.get("data") or {}).values())
                print(
                    f"{stack:10} {url:14} {name}: {len(history)} history queries, {edges} "
                    f"messages, {len(response.content) / 1024:.1f} KiB, "
                    f"{len(answer.get('errors', []))} errors"
                )


def frozen_redis(sends: int, thaw_after: float) -> None:
    if shutil.which("redis-server") is None:
        raise SystemExit("needs redis-server (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp()
    redis = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        host = {"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": 10}
        layer = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}
        user, client = signed_in("sender", may_send=True)
        variables = {"input": {"recipients": [str(user.pk)], "level": "INFO", "message": "Hi."}}

        def send(when: str) -> None:
            for stack, urls in STACKS.items():
                with override_settings(ROOT_URLCONF=urls):
                    start = time.perf_counter()
                    response = post(client, "/graphql", SEND, variables)
                    took = time.perf_counter() - start
                print(f"{when:8} {stack:10} sendMessage {took:.3f} s  {response.json()}")

        # One layer for the whole run, as a server process has.
        with override_settings(CHANNEL_LAYERS={"default": layer}):
            send("running")
            os.kill(redis.pid, signal.SIGSTOP)
            for _ in range(sends):
                send("frozen")
            os.kill(redis.pid, signal.SIGCONT)
            time.sleep(thaw_after)
            send("thawed")
    finally:
        os.kill(redis.pid, signal.SIGCONT)
        redis.terminate()
        redis.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    states_parser = commands.add_parser("states")
    states_parser.add_argument("counts", nargs="*", type=int, default=[1, 32_000])
    commands.add_parser("aliases")
    redis_parser = commands.add_parser("frozen-redis")
    redis_parser.add_argument("--sends", type=int, default=3)
    redis_parser.add_argument("--thaw-after", type=float, default=2.5)
    options = parser.parse_args()
    with test_database():
        if options.command == "states":
            states(options.counts)
        elif options.command == "aliases":
            aliases()
        else:
            frozen_redis(options.sends, options.thaw_after)


if __name__ == "__main__":
    main()
