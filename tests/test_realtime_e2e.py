"""Live updates end to end: the example project under daphne, driven by the real graphql-ws client.

Node runs tests/clients/live_count.mjs (graphql-ws and ws from the committed lockfile) against
daphne processes on free ports, with a throwaway SQLite database made by `migrate`. The Redis
tests run two daphne processes sharing real Redis (REDIS_URL) through channels_redis.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CLIENTS = REPO / "tests" / "clients"
MANAGE = REPO / "example_project" / "manage.py"
VENDORED = REPO / "example_project" / "static" / "example_project" / "vendor" / "graphql-ws"
SEND_MESSAGE = (REPO / "schema" / "operations" / "SendMessage.graphql").read_text()


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None or not (CLIENTS / "node_modules" / "graphql-ws").exists():
        if os.environ.get("CI"):
            pytest.fail("node and tests/clients/node_modules are needed: .ci/test runs npm ci")
        pytest.skip("needs node and `npm ci` in tests/clients (bash .ci/test does)")
    return found


@pytest.fixture(scope="module")
def project_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example project's environment with a migrated throwaway SQLite database."""
    database = tmp_path_factory.mktemp("live") / "db.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "PYTHONPATH": str(REPO),
        "DJANGO_DEBUG": "false",
    }
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--verbosity=0")
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def shell(env: dict[str, str], code: str) -> str:
    return manage(env, "shell", "-c", code).strip()


def signed_in(env: dict[str, str], username: str) -> tuple[str, str]:
    """Create a superuser (who may send); return their id and a Cookie header with a session."""
    user_id, cookie = (
        shell(
            env,
            "from django.contrib.auth.models import User\n"
            "from django.test import Client\n"
            f"user = User.objects.create_superuser({username!r}, password='pw')\n"
            "client = Client()\n"
            "client.force_login(user)\n"
            "print(user.pk, 'sessionid=' + client.cookies['sessionid'].value)",
        )
        .splitlines()[-1]
        .split()
    )  # Django 5.2+ may first say what its shell imported
    return user_id, cookie


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Daphne:
    """One daphne process serving example_project.asgi on a free port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "example_project.asgi:application",
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "daphne did not start within 30 s"
                time.sleep(0.1)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def shut_down(self) -> tuple[int, str]:
        """SIGTERM, as a process manager stops daphne: its exit code and what it logged."""
        self.process.terminate()
        _, log = self.process.communicate(timeout=60)
        return self.process.returncode, log

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def send_message(self, cookie: str, recipient: str, text: str) -> dict[str, Any]:
        """Run SendMessage over HTTP as the SPA does: the CSRF cookie from /spa/, then a POST."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.addheaders = [("Cookie", cookie)]
        opener.open(f"{self.origin}/spa/", timeout=10).read()
        token = next(c.value for c in jar if c.name == "csrftoken")
        body = json.dumps(
            {
                "query": SEND_MESSAGE,
                "operationName": "SendMessage",
                "variables": {
                    "input": {"recipients": [recipient], "level": "INFO", "message": text}
                },
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.origin}/graphql",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": token,
                "Cookie": f"{cookie}; csrftoken={token}",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]


class LiveClient:
    """tests/clients/live_count.mjs in Node: the events it prints, one JSON object a line."""

    def __init__(self, node: str, url: str, *, origin: str | None, cookie: str | None) -> None:
        self.process = subprocess.Popen(
            [node, str(CLIENTS / "live_count.mjs"), url, origin or "-", cookie or "-"],
            cwd=CLIENTS,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def next_event(self, timeout: float = 10) -> dict[str, Any]:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def start(project_env: dict[str, str]) -> Iterator[Any]:
    """start(env=...) runs daphne; every process started is stopped after the test."""
    started: list[Daphne | LiveClient] = []

    def _start(env: dict[str, str] | None = None) -> Daphne:
        server = Daphne(env or project_env)
        started.append(server)
        return server

    _start.clients = started  # type: ignore[attr-defined]
    yield _start
    for process in reversed(started):
        process.stop()


def live_client(start: Any, node: str, server: Daphne, **headers: Any) -> LiveClient:
    client = LiveClient(node, server.ws_url, **headers)
    start.clients.append(client)
    return client


def test_the_vendored_browser_client_is_the_locked_npm_package(node: str) -> None:
    dist = CLIENTS / "node_modules" / "graphql-ws" / "dist"
    for name in ("client.js", "common-CGW11Fyb.js"):
        assert (VENDORED / name).read_bytes() == (dist / name).read_bytes(), name
    assert (VENDORED / "LICENSE.md").read_bytes() == (
        CLIENTS / "node_modules" / "graphql-ws" / "LICENSE.md"
    ).read_bytes()


def test_graphql_ws_hears_the_count_at_once_and_after_a_send(
    node: str, project_env: dict[str, str], start: Any
) -> None:
    alice, cookie = signed_in(project_env, "alice")
    server = start()

    client = live_client(start, node, server, origin=server.origin, cookie=cookie)
    assert client.next_event() == {"count": 0}

    result = server.send_message(cookie, alice, "Hello over HTTP.")
    assert result == {"data": {"sendMessage": {"count": 1, "errors": []}}}
    assert client.next_event() == {"count": 1}


def test_graphql_ws_from_another_origin_is_refused_at_the_handshake(
    node: str, project_env: dict[str, str], start: Any
) -> None:
    _, cookie = signed_in(project_env, "mallory_target")
    server = start()

    client = live_client(start, node, server, origin="http://evil.example", cookie=cookie)

    assert client.next_event() == {"socketError": "Unexpected server response: 403"}
    assert client.next_event() == {"closed": 1006}


def test_graphql_ws_without_a_session_is_closed_4403(
    node: str, project_env: dict[str, str], start: Any
) -> None:
    server = start()

    client = live_client(start, node, server, origin=server.origin, cookie=None)

    assert client.next_event() == {"closed": 4403}
    assert client.next_event() == {"error": "closed"}


def test_daphne_stopped_with_subscriptions_open_exits_cleanly(
    node: str, project_env: dict[str, str], start: Any
) -> None:
    _, cookie = signed_in(project_env, "dave")
    server = start()
    clients = [
        live_client(start, node, server, origin=server.origin, cookie=cookie) for _ in range(2)
    ]
    for client in clients:
        assert client.next_event() == {"count": 0}
    # Not at once: daphne 4.2.3's kill_all_applications fails with a KeyError, and cancels
    # nothing, while a request upgraded to a WebSocket is still listed (dropped within ~1 s).
    time.sleep(3)

    code, log = server.shut_down()

    # daphne cancels each instance and waits for it, then stops the loop: a task of the
    # consumer's still pending then is destroyed with it, and logged.
    assert code == 0, log
    assert "Killed 2 pending application instances" in log
    assert "Task was destroyed" not in log
    assert "never retrieved" not in log


@pytest.fixture
def redis_env(project_env: dict[str, str]) -> dict[str, str]:
    if not os.environ.get("REDIS_URL"):
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is not set: .ci/run starts Redis and sets it")
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/15")
    # A prefix of our own: other suites may share this Redis at the same time.
    return {
        **project_env,
        "REDIS_URL": os.environ["REDIS_URL"],
        "REDIS_CHANNEL_PREFIX": f"user_messages_tests_{uuid.uuid4().hex[:12]}",
    }


def test_a_socket_on_one_process_hears_sends_made_in_another_and_in_a_shell(
    node: str, redis_env: dict[str, str], start: Any
) -> None:
    carol, cookie = signed_in(redis_env, "carol")
    process_a = start(redis_env)
    process_b = start(redis_env)
    client = live_client(start, node, process_a, origin=process_a.origin, cookie=cookie)
    assert client.next_event() == {"count": 0}

    process_b.send_message(cookie, carol, "Sent through process B.")
    assert client.next_event() == {"count": 1}

    shell(
        redis_env,
        "from django.contrib.auth.models import User\n"
        "from user_messages import api\n"
        "api.info(User.objects.all(), 'A QuerySet broadcast from a shell.')",
    )
    assert client.next_event() == {"count": 2}
