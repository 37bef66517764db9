"""The tutorial (docs/tutorial/index.md), followed as a new user would follow it.

Its shell commands are cut out of the page and run in order in an empty folder, with the
page's whole files (docs/tutorial/mysite/, templates/) put in place after `startproject`;
`runserver` really serves the project (daphne, through the tutorial's asgi.py), and the checks
below do what the page tells the reader to do in a browser: sign in, look at the page, reload,
run the GraphQL query, subscribe to the live count. Only the commands that set up the reader's
own environment (venv, activate, pip install) are not run: the suite's environment is that.
"""

from __future__ import annotations

import ast
import asyncio
import http.cookiejar
import importlib.metadata
import json
import os
import queue
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import websockets

from tests.test_realtime_e2e import CLIENTS, RedisServer

# The example project (or the tutorial's) runs on a SQLite file of its own whatever
# TEST_DATABASE names: the runs on SQLite (one per Python in .ci/run) cover these. One worker
# runs the module, so that its module-scoped project starts once.
pytestmark = [pytest.mark.engine_independent, pytest.mark.xdist_group("tutorial")]


REPO = Path(__file__).resolve().parent.parent
TUTORIAL = REPO / "docs" / "tutorial"
PAGE = TUTORIAL / "index.md"
# Set up the reader's own environment, which the suite already is.
ENVIRONMENT = ("python -m venv ", ". .venv/bin/activate", "pip install ")


def shell_commands(page: Path, step: str = "") -> list[str]:
    """Every command of the page's ```sh blocks (of one "## N." step), in order."""
    text = page.read_text()
    if step:
        found = re.search(rf"^## {step}\. .*?(?=^## |\Z)", text, re.S | re.M)
        assert found, step
        text = found.group(0)
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.strip()]


def names_assigned(module: Path) -> set[str]:
    """The names a settings file assigns at its top level."""
    tree = ast.parse(module.read_text())
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def graphql_block(page: Path) -> str:
    (block,) = re.findall(r"^```graphql\n(.*?)^```", page.read_text(), re.S | re.M)
    return block


def extras_of(requirement: str) -> set[str]:
    """The extras named in ``pip install "django-user-messages-plus[a,b]"``."""
    match = re.fullmatch(r'pip install "django-user-messages-plus\[([\w,]+)\]"', requirement)
    assert match, f"unexpected install command: {requirement}"
    return set(match.group(1).split(","))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Project:
    """The reader's folder, and what the page's commands started there."""

    folder: Path
    env: dict[str, str]
    # The page's whole files, put in place after startproject.
    mysite: Path = TUTORIAL / "mysite"
    templates: Path = TUTORIAL / "templates"
    url: str = ""
    server: subprocess.Popen[bytes] | None = None
    ran: list[str] = field(default_factory=list)

    def run(self, command: str) -> None:
        """Run one of the page's commands as the reader's shell would (``runserver`` stays up)."""
        words = shlex.split(command)
        env = dict(self.env)
        while "=" in words[0]:
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        if words[0] == "python":
            words[0] = sys.executable
        elif words[0] == "django-admin":
            words[:1] = [sys.executable, "-m", "django"]
        if words[-1] == "runserver":
            self.serve([*words, f"127.0.0.1:{free_port()}", "--noreload"], env)
        else:
            finished = subprocess.run(
                words, cwd=self.folder, env=env, capture_output=True, text=True, timeout=180
            )
            assert finished.returncode == 0, f"{command}\n{finished.stdout}{finished.stderr}"
        if "startproject" in words:
            # The page's settings claim to be what startproject wrote, plus the package.
            written = names_assigned(self.folder / "mysite" / "settings.py")
            assert written - names_assigned(self.mysite / "settings.py") == set()
            # The page's whole files replace what startproject wrote.
            for source in self.mysite.glob("*.py"):
                shutil.copy(source, self.folder / "mysite" / source.name)
            shutil.copytree(self.templates, self.folder / "templates")
        self.ran.append(command)

    def serve(self, command: list[str], env: dict[str, str]) -> None:
        self.url = f"http://{command[-2]}"
        log = (self.folder / "server.log").open("wb")
        self.server = subprocess.Popen(
            command, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.server.poll() is None, self.log()
            try:
                urllib.request.urlopen(f"{self.url}/admin/login/", timeout=2).close()
                return
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, self.log()
                time.sleep(0.2)

    def log(self) -> str:
        return (self.folder / "server.log").read_text()


class Browser:
    """One browser profile: a cookie jar, and the CSRF header a page's script would add."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next(cookie.value for cookie in self.jar if cookie.name == name) or ""

    def get(self, path: str) -> tuple[str, str]:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def post(self, path: str, data: bytes, headers: dict[str, str]) -> tuple[str, str]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        with self.opener.open(request, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def sign_in(self, path: str, username: str, password: str) -> tuple[str, str]:
        """Fill in and submit the login form at ``path``, following the redirect."""
        _, form = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token, form
        fields = {"csrfmiddlewaretoken": token.group(1), "username": username}
        fields |= {"password": password, "next": "/"}
        body = urllib.parse.urlencode(fields).encode()
        return self.post(path, body, {"Referer": self.base + path})

    def graphql(self, query: str) -> dict[str, object]:
        body = json.dumps({"query": query}).encode()
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.cookie("csrftoken")}
        _, text = self.post("/graphql", body, headers)
        answer: dict[str, object] = json.loads(text)
        return answer


def texts(html: str) -> list[str]:
    """The messages a page shows, in order."""
    items = re.findall(r'<li class="[^"]*"[^>]*>\s*(.*?)\s*</li>', html, re.S)
    # A sticky message's Dismiss form is a button, not text.
    items = [re.sub(r"<form .*?</form>", "", item, flags=re.S) for item in items]
    return [re.sub(r"<[^>]+>|\s+", " ", item).strip() for item in items]


def dismiss(browser: Browser, html: str, text: str) -> tuple[str, str]:
    """Click Dismiss beside the message ``text`` on the page ``html``: post its form."""
    item = next(i for i in re.findall(r"<li .*?</li>", html, re.S) if text in i)
    form = re.search(r'<form class="user-message-dismiss" method="post" action="([^"]+)">', item)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', item))
    assert form, item
    body = urllib.parse.urlencode(fields).encode()
    return browser.post(form.group(1), body, {"Referer": browser.base + "/"})


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The tutorial followed up to step 5: the server runs; ada has signed in (not yet looked)."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: .ci/run needs it")
        pytest.skip("needs redis-server (apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("tutorial")
    redis = RedisServer(tmp_path_factory.mktemp("tutorial_redis"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    project = Project(folder, {**env, "REDIS_URL": redis.url})
    try:
        yield project
    finally:
        if project.server is not None:
            project.server.terminate()
            project.server.wait(timeout=20)
        redis.stop()


def test_the_tutorial_installs_only_extras_the_package_has() -> None:
    declared = set(
        importlib.metadata.metadata("django-user-messages-plus").get_all("Provides-Extra") or []
    )
    installs = [c for c in shell_commands(PAGE) if c.startswith("pip install ")]

    assert installs == ['pip install "django-user-messages-plus[graphql,realtime]"']
    assert extras_of(installs[0]) <= declared


def test_the_tutorial_shows_a_message_in_a_template_then_in_graphql_then_live(
    followed: Project, node: str
) -> None:
    project = followed
    commands = [c for c in shell_commands(PAGE) if not c.startswith(ENVIRONMENT)]
    # The page's order: set up and send (steps 1-4), serve (5), one more send (6), live (7).
    serve_at = commands.index("python manage.py runserver")
    for command in commands[: serve_at + 1]:
        project.run(command)
    browser = Browser(project.url)

    # Step 5: sign in through ?next=/, land on the home page with both messages.
    landed, home = browser.sign_in("/admin/login/?next=/", "ada", "tutorial")
    assert landed == project.url + "/"
    assert texts(home) == ["Your export is ready.", "Verify your e-mail address."]
    assert '<a href="/admin/">Your export is ready.</a>' in home
    # Reload: the deliver-once message is gone, the sticky one stays.
    assert texts(browser.get("/")[1]) == ["Verify your e-mail address."]

    # Step 6: GraphiQL's page loads every file from the server (it works offline); one more
    # message, then the page's query, as GraphiQL sends it (POST + CSRF).
    _, graphiql = browser.get("/graphiql/")
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', graphiql)
    assert len(assets) == 8
    for asset in assets:
        assert asset.startswith("/static/user_messages/graphiql/"), asset
        assert browser.get(asset)[1]
    for command in shell_commands(PAGE, "6"):
        project.run(command)
    query = graphql_block(PAGE)
    peeked = browser.graphql(query)
    assert peeked == {
        "data": {
            "myMessages": [
                {
                    "id": "2",
                    "message": "Verify your e-mail address.",
                    "levelTag": "warning",
                    "deliverOnce": False,
                },
                {
                    "id": "3",
                    "message": "Hello, GraphQL.",
                    "levelTag": "success",
                    "deliverOnce": True,
                },
            ],
            "myMessageCount": 2,
        }
    }
    assert browser.graphql(query) == peeked  # peek consumes nothing
    consumed = browser.graphql(query.replace("(peek: true)", ""))
    assert [m["message"] for m in consumed["data"]["myMessages"]] == [  # type: ignore[index]
        "Verify your e-mail address.",
        "Hello, GraphQL.",
    ]
    after = browser.graphql(query)["data"]
    assert [m["message"] for m in after["myMessages"]] == ["Verify your e-mail address."]  # type: ignore[index]

    # Step 7: the tutorial's asgi.py serves the subscription; a send from manage.py shell
    # (another process) reaches it through Redis.
    (send,) = shell_commands(PAGE, "7")
    counts = asyncio.run(live_counts(project, browser, send))
    assert counts == [1, 2]
    # A socket refused for its Origin (a script that sends none): runserver's output says why.
    assert asyncio.run(handshake_status(project.url.replace("http", "ws") + "/graphql")) == 403
    wait_for_log(project, "user_messages: WebSocket /graphql refused (403): no Origin header")

    # Step 7 as the reader sees it: the home page's own script, run as a browser runs it,
    # shows the count (the sticky message; rendering the page delivered 'Live.'), then the
    # count after another send.
    events = PageScript(node, project.url + "/", browser)
    try:
        assert events.next() == {"id": "live-count", "text": "1"}
        project.run(send)
        assert events.next() == {"id": "live-count", "text": "2"}

        # Step 8: the page (which delivers the second 'Live.'), then its Dismiss button: the
        # form posts, the view sends the browser back to the page, now without the message.
        _, page = browser.get("/")
        assert texts(page) == ["Verify your e-mail address.", "Live."]
        assert events.next() == {"id": "live-count", "text": "1"}
        back, after = dismiss(browser, page, "Verify your e-mail address.")
        assert back == project.url + "/"
        assert texts(after) == []
        assert "<p>No messages.</p>" in after
        assert events.next() == {"id": "live-count", "text": "0"}
    finally:
        events.stop()


class PageScript:
    """tests/clients/page_script.mjs: a page's scripts run in Node, what they show, a line each."""

    def __init__(self, node: str, url: str, browser: Browser) -> None:
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
        self.process = subprocess.Popen(
            [node, str(CLIENTS / "page_script.mjs"), url, cookie],
            cwd=CLIENTS,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def next(self, timeout: float = 20) -> object:
        try:
            return json.loads(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"the page showed nothing within {timeout} s") from None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


async def live_counts(project: Project, browser: Browser, send: str) -> list[int]:
    """Subscribe to myMessageCount, send from another process, return the counts received."""
    headers = {"Origin": project.url, "Cookie": f"sessionid={browser.cookie('sessionid')}"}
    uri = project.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(
        uri,
        subprotocols=["graphql-transport-ws"],
        additional_headers=headers,  # type: ignore[list-item]
    ) as socket_:
        await socket_.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await socket_.recv()) == {"type": "connection_ack"}
        subscribe = {"query": "subscription { myMessageCount }"}
        await socket_.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        counts = [await next_count(socket_)]
        await asyncio.to_thread(project.run, send)
        counts.append(await next_count(socket_))
        return counts


async def handshake_status(uri: str) -> int:
    """The HTTP status a handshake without an Origin header gets (websockets sends none)."""
    try:
        async with websockets.connect(uri, subprotocols=["graphql-transport-ws"]):  # type: ignore[list-item]
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


def wait_for_log(project: Project, line: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while line not in project.log():
        assert time.monotonic() < deadline, project.log()
        time.sleep(0.05)


async def next_count(socket_: websockets.ClientConnection) -> int:
    message = json.loads(await asyncio.wait_for(socket_.recv(), timeout=20))
    assert message["type"] == "next", message
    count: int = message["payload"]["data"]["myMessageCount"]
    return count
