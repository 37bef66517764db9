"""Live updates end to end: the example project under real ASGI servers and real clients.

Node runs tests/clients/live_count.mjs (graphql-ws and ws from the committed lockfile) and
tests/clients/raw_frames.mjs (hostile frames over plain ws) against server processes on free
ports, with a throwaway SQLite database made by `migrate`. Each test runs under daphne and
uvicorn (the `server_kind` fixture); the basic flow and SIGTERM also under gunicorn with
uvicorn's worker. The Redis tests use a redis-server of their own, which they stop and start.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests import project_shell

# The servers run the example project on a SQLite file of their own whatever TEST_DATABASE
# names: the runs on SQLite (one per Python in .ci/run) cover these, the others would repeat them.
pytestmark = pytest.mark.engine_independent

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


@pytest.fixture(scope="session")
def project_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example project's environment with a migrated throwaway SQLite database.

    One per test process: tests make users of their own names (``signed_in``), so they share it.
    """
    env = project_environment(tmp_path_factory.mktemp("live") / "db.sqlite3")
    manage(env, "migrate", "--verbosity=0")
    return env


def project_environment(database: Path) -> dict[str, str]:
    """The example project's environment on this SQLite file, with no channel layer set."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "PYTHONPATH": str(REPO),
        "DJANGO_DEBUG": "false",
    }
    env.pop("REDIS_URL", None)
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
    """Run ``code`` in the example project as ``manage.py shell -c`` would; what it printed."""
    return project_shell.run(env, code).strip()


def database_shell(env: dict[str, str], code: str) -> str:
    """``shell`` for code that only touches the database (users, sessions): it runs in the
    process kept for the environment without a channel layer, on the same database, instead of
    starting one for a test's own Redis."""
    redisless = {k: v for k, v in env.items() if k not in {"REDIS_URL", "REDIS_CHANNEL_PREFIX"}}
    return shell(redisless, code)


def signed_in(env: dict[str, str], username: str, password: str | None = None) -> tuple[str, str]:
    """Create a superuser (who may send); return their id and a Cookie header with a session.

    Without ``password`` the user has none (hashing one costs the example project's 10^6
    PBKDF2 rounds, a quarter of a second of CPU); the session needs none.
    """
    username = f"{username}_{uuid.uuid4().hex[:8]}"  # the database outlives one parametrisation
    user_id, cookie = (
        database_shell(
            env,
            "from django.contrib.auth.models import User\n"
            "from django.test import Client\n"
            f"user = User.objects.create_superuser({username!r}, password={password!r})\n"
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


ASGI_APPLICATION = "example_project.asgi:application"

#: The servers every test runs under; a test parametrised with WITH_GUNICORN adds gunicorn.
#: TEST_ASGI_SERVERS (comma-separated) narrows them: .ci/run serves every server on the main
#: Python and daphne alone on the older and newer ones, where a second server adds minutes, not
#: coverage of our code.
_CHOSEN = [kind for kind in os.environ.get("TEST_ASGI_SERVERS", "").split(",") if kind]
SERVERS = tuple(kind for kind in ("daphne", "uvicorn") if not _CHOSEN or kind in _CHOSEN)
WITH_GUNICORN = (*SERVERS, *(() if _CHOSEN and "gunicorn" not in _CHOSEN else ("gunicorn",)))


def server_command(kind: str, port: int) -> list[str]:
    """How a deployment starts `kind` serving the example project on 127.0.0.1:port."""
    if kind == "daphne":
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            ASGI_APPLICATION,
        ]
    if kind == "uvicorn":
        # Django's ASGI handler speaks no lifespan protocol: off, or uvicorn logs that it tried.
        return [
            *(sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)),
            *("--lifespan", "off", ASGI_APPLICATION),
        ]
    if kind == "gunicorn":
        # uvicorn.workers is deprecated since uvicorn 0.30: the uvicorn-worker package's.
        return [
            *(sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker"),
            *("--workers", "1", "--bind", f"127.0.0.1:{port}", ASGI_APPLICATION),
        ]
    raise ValueError(f"Unknown server {kind!r}, must be one of: {', '.join(WITH_GUNICORN)}")


class Server:
    """One ASGI server process (daphne, uvicorn or gunicorn) serving example_project.asgi."""

    def __init__(self, kind: str, env: dict[str, str], port: int | None = None) -> None:
        self.kind = kind
        self.port = port or free_port()
        self.log_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            server_command(kind, self.port),
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: a server that logs more than a pipe holds would block.
            stderr=self.log_file,
        )
        # A deadline, not a wait: on a loaded two-core machine a start has taken over 30 s.
        deadline = time.monotonic() + 90
        while True:
            assert self.process.poll() is None, self.log()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, f"{kind} did not start within 90 s"
                time.sleep(0.1)

    def rss_kib(self) -> int:
        """Resident memory of the process that serves the sockets (gunicorn's worker)."""
        pid = self.process.pid
        if self.kind == "gunicorn":
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            pid = int(children[0])
        status = Path(f"/proc/{pid}/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def shut_down(self) -> tuple[int, str]:
        """SIGTERM, as a process manager stops a server: its exit code and what it logged."""
        self.process.terminate()
        self.process.wait(timeout=60)
        return self.process.returncode, self.log()

    def log(self) -> str:
        """What the server logged so far."""
        self.log_file.seek(0)
        return self.log_file.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()

    def csrf_token(self, cookie: str) -> str:
        """The CSRF cookie a page of the site (/spa/) sets for this session."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.addheaders = [("Cookie", cookie)]
        opener.open(f"{self.origin}/spa/", timeout=10).read()
        return next(c.value for c in jar if c.name == "csrftoken")

    def send_message(self, cookie: str, recipient: str, text: str) -> dict[str, Any]:
        """Run SendMessage over HTTP as the SPA does: the CSRF cookie from /spa/, then a POST."""
        token = self.csrf_token(cookie)
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

    def __init__(
        self,
        node: str,
        url: str,
        *,
        origin: str | None,
        cookie: str | None,
        retries: int | str = 0,
    ) -> None:
        self.process = subprocess.Popen(
            [
                node,
                str(CLIENTS / "live_count.mjs"),
                url,
                origin or "-",
                cookie or "-",
                str(retries),
            ],
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

    def next_event(self, timeout: float = 30) -> dict[str, Any]:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """The ASGI server a test runs under: each test runs once per server."""
    return str(request.param)


@pytest.fixture(scope="session")
def shared_servers() -> Iterator[dict[tuple[str, str], Server]]:
    """The servers ``start()`` shares between tests, by kind and stack; stopped at the end."""
    servers: dict[tuple[str, str], Server] = {}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def start(
    project_env: dict[str, str],
    server_kind: str,
    stack: str,
    shared_servers: dict[tuple[str, str], Server],
) -> Iterator[Any]:
    """The server on ``stack``: ``start()`` the one shared by every test that asks for this kind
    and stack (on ``project_env``; never stop it), ``start(env)`` a process of the test's own.

    Every process a test started, and every client it opened, is stopped after it.
    """
    started: list[Server | LiveClient] = []

    def _start(env: dict[str, str] | None = None) -> Server:
        if env is None:
            # Starting a server costs a second of CPU; most tests only need one that runs.
            shared = shared_servers.get((server_kind, stack))
            if shared is None or shared.process.poll() is not None:
                shared = Server(server_kind, {**project_env, "GRAPHQL_STACK": stack})
                shared_servers[(server_kind, stack)] = shared
            return shared
        server = Server(server_kind, {**env, "GRAPHQL_STACK": stack})
        started.append(server)
        return server

    _start.clients = started  # type: ignore[attr-defined]
    yield _start
    for process in reversed(started):
        process.stop()


def live_client(start: Any, node: str, server: Server, **options: Any) -> LiveClient:
    client = LiveClient(node, server.ws_url, **options)
    start.clients.append(client)
    return client


def test_the_vendored_browser_client_is_the_locked_npm_package(node: str) -> None:
    dist = CLIENTS / "node_modules" / "graphql-ws" / "dist"
    for name in ("client.js", "common-CGW11Fyb.js"):
        assert (VENDORED / name).read_bytes() == (dist / name).read_bytes(), name
    assert (VENDORED / "LICENSE.md").read_bytes() == (
        CLIENTS / "node_modules" / "graphql-ws" / "LICENSE.md"
    ).read_bytes()


@pytest.mark.xdist_group("shared-servers")  # one worker starts each shared server once
@pytest.mark.parametrize("server_kind", WITH_GUNICORN)
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


def inbox(server: Server, cookie: str, method: str = "GET") -> dict[str, Any]:
    """The example project's async view /inbox.json: GET peeks, POST (with the token) reads."""
    headers = {"Cookie": cookie}
    if method == "POST":
        token = server.csrf_token(cookie)
        headers = {"X-CSRFToken": token, "Cookie": f"{cookie}; csrftoken={token}"}
    request = urllib.request.Request(
        f"{server.origin}/inbox.json",
        data=b"" if method == "POST" else None,
        headers={**headers, "Origin": server.origin},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


# graphene-django's view is sync: an ASGI project serves it, and its own async views call the
# async API, in one process. (Strawberry's async view: tests/test_graphql_*.py.)
@pytest.mark.xdist_group("shared-servers")  # one worker starts each shared server once
@pytest.mark.parametrize("stack", ["graphene"])
def test_an_async_view_reads_through_the_async_api_beside_graphene_under_asgi(
    node: str, project_env: dict[str, str], start: Any
) -> None:
    alice, cookie = signed_in(project_env, "alice")
    server = start()
    client = live_client(start, node, server, origin=server.origin, cookie=cookie)
    assert client.next_event() == {"count": 0}

    sent = server.send_message(cookie, alice, "Hello from graphene.")
    assert sent == {"data": {"sendMessage": {"count": 1, "errors": []}}}
    assert client.next_event() == {"count": 1}

    peeked = {"messages": ["Hello from graphene."], "pendingCount": 1}
    assert inbox(server, cookie) == peeked
    assert inbox(server, cookie, "POST") == {
        "messages": ["Hello from graphene."],
        "pendingCount": 0,
    }
    # The consuming read in the async view announced it (messages_changed, sent with asend).
    assert client.next_event() == {"count": 0}
    assert inbox(server, cookie, "POST") == {"messages": [], "pendingCount": 0}


def graphql_over_http(
    server: Server, body: bytes | None, headers: dict[str, str], query: str = ""
) -> tuple[int, Any, Any]:
    """A request to /graphql: its status, headers and decoded JSON answer."""
    request = urllib.request.Request(
        f"{server.origin}/graphql{query}",
        data=body,
        headers={"Content-Type": "application/json", **headers},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


@pytest.mark.parametrize("stack", ["strawberry"], indirect=True)  # skipped without Strawberry
def test_the_channels_http_consumer_keeps_the_views_rules_under_asgi(
    project_env: dict[str, str], start: Any
) -> None:
    alice, cookie = signed_in(project_env, "alice")
    server = start({**project_env, "GRAPHQL_HTTP": "channels"})
    send = json.dumps(
        {
            "query": SEND_MESSAGE,
            "variables": {"input": {"recipients": [alice], "level": "INFO", "message": "Hi."}},
        }
    ).encode()
    read = json.dumps({"query": "{ myMessages { message } }"}).encode()

    # Any answer sets the CSRF cookie, as the views' do; a GET never consumes.
    status, headers, counted = graphql_over_http(
        server, None, {"Cookie": cookie}, "?query=%7BmyMessageCount%7D"
    )
    assert (status, counted) == (200, {"data": {"myMessageCount": 0}})
    cookies = " ".join(headers.get_all("Set-Cookie") or [])
    token = cookies.split("csrftoken=")[1].split(";")[0]
    with_token = {"Cookie": f"{cookie}; csrftoken={token}", "X-CSRFToken": token}

    refused = graphql_over_http(server, send, {"Cookie": f"{cookie}; csrftoken={token}"})
    assert refused[0] == 403
    assert refused[2]["errors"][0]["extensions"] == {"code": "CSRF_FAILED"}

    sent = graphql_over_http(server, send, with_token)
    assert sent[::2] == (200, {"data": {"sendMessage": {"count": 1, "errors": []}}})
    over_get = graphql_over_http(
        server,
        None,
        with_token,
        "?query=mutation%7BacknowledgeAllMessages%7BacknowledgedCount%7D%7D",
    )
    assert over_get[::2] == (
        405,
        {"errors": [{"message": "Can only perform a mutation operation from a POST request."}]},
    )
    assert graphql_over_http(server, read, with_token)[::2] == (
        200,
        {"data": {"myMessages": [{"message": "Hi."}]}},
    )
    assert graphql_over_http(server, read, with_token)[::2] == (200, {"data": {"myMessages": []}})
    too_large = graphql_over_http(server, b"x" * (2_621_440 + 1), with_token)
    assert too_large[::2] == (
        413,
        {"errors": [{"message": "The request body is larger than the server accepts."}]},
    )
    assert "Traceback" not in server.log()


@pytest.mark.xdist_group("shared-servers")  # one worker starts each shared server once
def test_graphql_ws_from_another_origin_is_refused_at_the_handshake(
    node: str, project_env: dict[str, str], start: Any
) -> None:
    _, cookie = signed_in(project_env, "mallory_target")
    server = start()

    client = live_client(start, node, server, origin="http://evil.example", cookie=cookie)

    assert client.next_event() == {"socketError": "Unexpected server response: 403"}
    assert client.next_event() == {"closed": 1006}


@pytest.mark.xdist_group("shared-servers")  # one worker starts each shared server once
def test_graphql_ws_without_a_session_is_closed_4403(
    node: str, project_env: dict[str, str], start: Any
) -> None:
    server = start()

    client = live_client(start, node, server, origin=server.origin, cookie=None)

    assert client.next_event() == {"closed": 4403}
    assert client.next_event() == {"error": "closed"}


class RedisServer:
    """A redis-server of the test's own on a free port, which the test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "Redis did not start within 10 s"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def group_sizes(self, env: dict[str, str], *groups: str) -> list[int]:
        """ZCARD of channels_redis' key for each group: the channels it would send to."""
        client = redis.Redis.from_url(self.url)
        try:
            prefix = env["REDIS_CHANNEL_PREFIX"]
            return [int(client.zcard(f"{prefix}:group:{group}")) for group in groups]
        finally:
            client.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: .ci/run needs it")
        pytest.skip("needs redis-server (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    yield server
    project_shell.forget_redis(server.url)
    server.stop()


@pytest.fixture
def redis_env(project_env: dict[str, str], redis_server: RedisServer) -> dict[str, str]:
    """The example project's environment with channels_redis on the test's own Redis."""
    return {**project_env, "REDIS_URL": redis_server.url, "REDIS_CHANNEL_PREFIX": "e2e"}


def groups_of(user_id: str) -> tuple[str, str]:
    """This user's group and the shared group, which a process joins once for its sockets."""
    return f"user_messages.user.{user_id}", "user_messages.everyone"


def wait_for(condition: Any, timeout: float = 20) -> None:
    """Poll until condition() is true: the server acts on a close asynchronously."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        time.sleep(0.1)


@pytest.mark.parametrize("server_kind", WITH_GUNICORN)
def test_a_server_stopped_with_subscriptions_open_exits_cleanly_and_leaves_no_member(
    node: str,
    redis_env: dict[str, str],
    redis_server: RedisServer,
    start: Any,
    server_kind: str,
) -> None:
    dave, cookie = signed_in(redis_env, "dave")
    server = start(redis_env)
    clients = [
        live_client(start, node, server, origin=server.origin, cookie=cookie) for _ in range(2)
    ]
    for client in clients:
        assert client.next_event() == {"count": 0}
    # Each socket is in its user's group; the shared group has one member per process.
    assert redis_server.group_sizes(redis_env, *groups_of(dave)) == [2, 1]
    if server_kind == "daphne":
        # Not at once: daphne 4.2.3's kill_all_applications fails with a KeyError, and cancels
        # nothing, while a request upgraded to a WebSocket is still listed (dropped within
        # ~1 s); nothing outside daphne shows when it is dropped.
        time.sleep(3)

    code, log = server.shut_down()

    # A task of the consumer's still pending when the loop stops is destroyed with it, and
    # logged; a socket cancelled without leaving its groups would stay a member until
    # group_expiry, and messages to them would go to its dead channel.
    # uvicorn, once shut down, raises the signal it caught again: "killed by SIGTERM" is its
    # clean exit, as a process manager expects.
    assert code == {"uvicorn": -signal.SIGTERM}.get(server_kind, 0), log
    assert "Task was destroyed" not in log
    assert "never retrieved" not in log
    assert "Traceback" not in log
    assert redis_server.group_sizes(redis_env, *groups_of(dave)) == [0, 0]
    if server_kind == "daphne":
        # daphne cancels each instance and waits for it; the client sees the TCP close.
        assert "Killed 2 pending application instances" in log
        closed = 1006
    else:
        # uvicorn (and its gunicorn worker) closes each socket with 1012 (Service Restart),
        # which graphql-ws retries, and waits for the instance to end.
        closed = 1012
    for client in clients:
        assert client.next_event() == {"closed": closed}


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


def raw_frames(
    node: str, server: Server, cookie: str, sockets: list[list[str]], tmp_path: Path
) -> list[dict[str, Any]]:
    """Run tests/clients/raw_frames.mjs: per socket, the messages after the ack and the close."""
    frames = tmp_path / "frames.json"
    frames.write_text(json.dumps(sockets))
    result = subprocess.run(
        [node, str(CLIENTS / "raw_frames.mjs"), server.ws_url, server.origin, cookie, str(frames)],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return sorted(lines, key=lambda line: line["index"])


def subscribe(operation_id: str, query: str, **payload: Any) -> str:
    return json.dumps(
        {"type": "subscribe", "id": operation_id, "payload": {"query": query, **payload}}
    )


COUNT = "subscription { myMessageCount }"
#: Frames that made the consumer raise before (issue 21): daphne closed 1011 and they leaked.
SKIPPED_ROOT = subscribe("1", "subscription { myMessageCount @skip(if: true) }")
HOSTILE_SOCKETS = {
    "skipped-root": [SKIPPED_ROOT],
    "root-directive-variable": [
        subscribe(
            "1",
            "subscription S($on: Boolean!) { myMessageCount @include(if: $on) }",
            variables={"on": True},
        )
    ],
    "json-nested-deeply": ["[" * 100_000],
    "variables-nested-deeply": [
        '{"type": "subscribe", "id": "1", "payload": {"query": "subscription { x }", '
        '"variables": {"v": ' + "[" * 100_000 + "]" * 100_000 + "}}}"
    ],
    "duplicate-id-lone-surrogate": [subscribe("\ud800", COUNT)] * 2,
    "not-json": ["not json"],
}


def test_hostile_frames_and_vanished_clients_leave_no_member_behind(
    node: str,
    redis_env: dict[str, str],
    redis_server: RedisServer,
    start: Any,
    tmp_path: Path,
) -> None:
    erin, cookie = signed_in(redis_env, "erin")
    server = start(redis_env)
    live = live_client(start, node, server, origin=server.origin, cookie=cookie)
    assert live.next_event() == {"count": 0}
    vanishing = live_client(start, node, server, origin=server.origin, cookie=cookie)
    assert vanishing.next_event() == {"count": 0}
    vanishing.stop()  # SIGKILL: the connection drops with no close frame

    answers = raw_frames(node, server, cookie, list(HOSTILE_SOCKETS.values()), tmp_path)

    outcomes = {
        name: (
            [message.get("type") for message in answer["messages"]],
            answer["closed"],
        )
        for name, answer in zip(HOSTILE_SOCKETS, answers, strict=True)
    }
    assert outcomes == {
        # The client closes with 1000 once it has its error.
        "skipped-root": (["error"], 1000),
        "root-directive-variable": (["error"], 1000),
        "json-nested-deeply": ([], 4400),
        "variables-nested-deeply": ([], 4400),
        "duplicate-id-lone-surrogate": (["next"], 4409),
        "not-json": ([], 4400),
    }
    assert answers[0]["messages"][0]["payload"] == [
        {"message": "The subscription selects no field: @skip or @include left its root empty."}
    ]
    # Only the live client's socket is left in each group, and it still hears of sends.
    wait_for(lambda: redis_server.group_sizes(redis_env, *groups_of(erin)) == [1, 1])
    server.send_message(cookie, erin, "Still live.")
    assert live.next_event() == {"count": 1}
    _, log = server.shut_down()
    assert "Traceback" not in log


def test_clients_reconnect_by_themselves_after_redis_restarts_and_count_what_was_sent_meanwhile(
    node: str,
    redis_env: dict[str, str],
    redis_server: RedisServer,
    start: Any,
) -> None:
    frank, cookie = signed_in(redis_env, "frank")
    server = start(redis_env)
    # graphql-ws's own retries (its default of 5, with its backoff), as a browser has them.
    clients = [
        live_client(start, node, server, origin=server.origin, cookie=cookie, retries=5)
        for _ in range(2)
    ]
    for client in clients:
        assert client.next_event() == {"count": 0}

    redis_server.stop()
    for client in clients:
        assert client.next_event() == {"closed": 4503}
    # Stored and counted while Redis is down: only the live push is lost.
    result = server.send_message(cookie, frank, "Sent while Redis is down.")
    assert result == {"data": {"sendMessage": {"count": 1, "errors": []}}}
    redis_server.start()

    for client in clients:
        # Each retry while Redis was still down was closed 4503 again; then it subscribes anew
        # and hears the count, the message sent meanwhile included.
        event = client.next_event(timeout=40)
        while event == {"closed": 4503}:
            event = client.next_event(timeout=40)
        assert event == {"count": 1}
    server.send_message(cookie, frank, "Sent after Redis is back.")
    for client in clients:
        assert client.next_event() == {"count": 2}


# One stack and one server: the clients' retries are the subject (about 12 s, most of it the
# restart and the backoff).
@pytest.mark.version_independent
@pytest.mark.parametrize(("stack", "server_kind"), [("graphene", "uvicorn")])
def test_the_recommended_client_settings_outlast_a_restart_that_graphql_ws_defaults_do_not(
    node: str, project_env: dict[str, str], start: Any, server_kind: str, stack: str
) -> None:
    grace, cookie = signed_in(project_env, "grace")
    server = start(project_env)  # a process of the test's own, restarted like a deploy does
    # graphql-ws's defaults (5 retries) and the settings docs/howto/live-updates.md recommends
    # (tests/clients/reconnect.mjs).
    default, recommended = (
        live_client(start, node, server, origin=server.origin, cookie=cookie, retries=retries)
        for retries in (5, "recommended")
    )
    assert default.next_event() == recommended.next_event() == {"count": 0}

    server.stop()
    shell(project_env, f"from user_messages import api\napi.info({int(grace)}, 'Deployed.')")
    # The default client's first retry finds no server: an error, not a close, which its
    # default shouldRetry treats as fatal; it gives up for good.
    event = default.next_event()
    while event != {"error": "closed"}:
        assert "count" not in event, event
        event = default.next_event()
    restarted = Server(server_kind, {**project_env, "GRAPHQL_STACK": stack}, server.port)
    start.clients.append(restarted)

    event = recommended.next_event(timeout=40)
    while "count" not in event:
        event = recommended.next_event(timeout=40)
    assert event == {"count": 1}  # subscribed again, the message sent meanwhile counted
