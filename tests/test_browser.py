"""The example project in a real browser: the classic page, the single-page app, acknowledging.

The example project (its own settings, not the suite's) runs in a subprocess against a
throw-away SQLite database, and Playwright drives Debian's Chromium (`apt-get install chromium`;
never `playwright install`). Set BROWSER_TESTS=1 to run these tests: then a missing Chromium or
Playwright fails them instead of skipping. Screenshots go to test-results/; with
UPDATE_SCREENSHOTS=1 the README's screenshots in example_project/screenshots/ are rewritten too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Request, Response

# One worker runs the module: its server and Chromium start once (module-scoped fixtures).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "example_project" / "manage.py"
RESULTS_DIR = REPO / "test-results"
SCREENSHOTS_DIR = REPO / "example_project" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Debian's Chromium; skip when browser tests are off, fail when they are on and it is not."""
    if os.environ.get("BROWSER_TESTS") != "1":
        pytest.skip(
            "browser tests are off: set BROWSER_TESTS=1 to run them (needs `apt-get install "
            "chromium` and `pip install -e '.[test,browser]'`)"
        )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"BROWSER_TESTS=1 but there is no Chromium at {CHROMIUM}: apt-get install chromium"
        )
    return CHROMIUM


@dataclass
class ExampleProject:
    """The running example project: its URL, and manage.py with the same environment."""

    url: str
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        """Run one of the example project's management commands; return its output."""
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode:
            pytest.fail(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def shell(self, code: str) -> str:
        """Run Python code inside the example project (its settings and database)."""
        return self.manage("shell", "-c", code)

    def create_user(self, username: str) -> str:
        """Create a user whose password is the username; return the username."""
        self.shell(
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user({username!r}, password={username!r})"
        )
        return username


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"The example project's server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"The example project did not answer within 30 s:\n{log.read_text()}")


@pytest.fixture(scope="module", params=["graphene", "strawberry"])
def example(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ExampleProject]:
    """Set the example project up as its README says (`manage.py demo`) and serve it, once with
    each GraphQL stack at /graphql (GRAPHQL_STACK): the pages must not tell them apart."""
    if request.param == "strawberry":
        pytest.importorskip("strawberry")
    tmp = tmp_path_factory.mktemp("example_project")
    env = {
        **os.environ,
        "GRAPHQL_STACK": request.param,
        # The suite's DJANGO_SETTINGS_MODULE is tests.settings: the subprocess needs its own.
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "DJANGO_DEBUG": "true",  # runserver serves the static files (CSS, the app's JS) only then
        "PYTHONUNBUFFERED": "1",
        # With REDIS_URL set (CI) the live updates go through Redis: channels of our own.
        "REDIS_CHANNEL_PREFIX": f"user_messages_browser_{os.getpid()}",
    }
    port = _free_port()
    project = ExampleProject(url=f"http://127.0.0.1:{port}", env=env)
    project.manage("demo", "--no-serve")

    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(project.url, server, log_path)
            yield project
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright's bundled driver."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("BROWSER_TESTS=1 but Playwright is missing: pip install -e '.[browser]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, example: ExampleProject) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the example project."""
    context = browser.new_context(base_url=example.url, viewport={"width": 960, "height": 720})
    context.set_default_timeout(10_000)
    # Hermetic: only the example project is reachable, so nothing may come from a CDN.
    context.route(
        lambda url: not url.startswith(example.url),
        lambda route: route.abort("blockedbyclient"),
    )
    page = context.new_page()
    yield page
    context.close()


def _screenshot(page: Page, name: str) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, SCREENSHOTS_DIR / f"{name}.png")


def _log_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def _submit(page: Page, button: Locator) -> None:
    """Click a form's button and wait for the page the server answers with."""
    with page.expect_navigation():
        button.click()


def _send(
    page: Page, text: str, *, level: str, delivery: str, then: str = "here", url: str = ""
) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label(level.capitalize(), exact=True).check()
    page.locator(f"input[name=delivery][value={delivery}]").check()
    page.get_by_label("Link", exact=True).fill(url)
    button = "Send and show here" if then == "here" else "Send and open the app"
    _submit(page, page.get_by_role("button", name=button))


def _shown(page: Page) -> list[str]:
    """The messages on the page: 'LEVEL text (kind)' per message, as a visitor reads them."""
    page.wait_for_selector("#messages")
    return [
        f"{item.locator('.badge').inner_text().upper()} {item.locator('.text').inner_text()}"
        f" ({item.locator('.kind').inner_text()})"
        for item in page.locator("#messages li").all()
    ]


#: What the demo user sees first, on the classic page or in the single-page app.
DEMO_WELCOME = [
    "INFO Welcome! This message was stored before you logged in. It is delivered once: "
    "reload and it is gone. (stored · once)",
    "SUCCESS This one is sticky: it stays on every page until you dismiss it. (stored · sticky)",
    "WARNING Messages can carry meta data, such as a link: open the single-page app. "
    "(stored · sticky)",
    "ERROR This sticky message expires a day after the demo was set up: it shows on every "
    "page until then (or until dismissed), and after that nobody sees it. (stored · sticky)",
]


def test_demo_user_sees_the_welcome_messages_once_and_the_sticky_ones_until_dismissed(
    page: Page,
) -> None:
    _log_in(page, "demo", "demo")

    assert page.get_by_role("heading", level=1).inner_text() == "Classic page"
    assert _shown(page) == DEMO_WELCOME
    link = page.get_by_role("link", name="Messages can carry meta data")
    assert link.get_attribute("href") == "/spa/"
    _screenshot(page, "classic")

    page.reload()
    assert _shown(page) == [
        "SUCCESS This one is sticky: it stays on every page until you dismiss it. "
        "(stored · sticky)",
        "WARNING Messages can carry meta data, such as a link: open the single-page app. "
        "(stored · sticky)",
        "ERROR This sticky message expires a day after the demo was set up: it shows on every "
        "page until then (or until dismissed), and after that nobody sees it. (stored · sticky)",
    ]

    sticky = page.locator("#messages li", has_text="This one is sticky")
    _submit(page, sticky.get_by_role("button", name="Dismiss"))
    assert _shown(page) == [
        "WARNING Messages can carry meta data, such as a link: open the single-page app. "
        "(stored · sticky)",
        "ERROR This sticky message expires a day after the demo was set up: it shows on every "
        "page until then (or until dismissed), and after that nobody sees it. (stored · sticky)",
    ]


def test_classic_page_shows_each_kind_of_delivery(page: Page, example: ExampleProject) -> None:
    username = example.create_user("classic")
    _log_in(page, username, username)
    assert page.locator("#messages").inner_text() == "No messages. Send yourself one below."

    _send(page, "Shown once", level="info", delivery="once")
    assert _shown(page) == ["INFO Shown once (stored · once)"]
    _send(page, "Until dismissed", level="warning", delivery="sticky", url="https://example.com/")
    assert _shown(page) == ["WARNING Until dismissed (stored · sticky)"]
    _send(page, "In the session", level="debug", delivery="session")
    assert _shown(page) == [
        "DEBUG In the session (session)",
        "WARNING Until dismissed (stored · sticky)",
    ]
    assert page.get_by_role("link", name="Until dismissed").get_attribute("href") == (
        "https://example.com/"
    )

    page.reload()
    assert _shown(page) == ["WARNING Until dismissed (stored · sticky)"]
    _submit(page, page.get_by_role("button", name="Dismiss"))
    assert page.locator("#messages").inner_text() == "No messages. Send yourself one below."


def test_spa_shows_messages_and_acknowledging_one_removes_it_for_good(
    page: Page, example: ExampleProject
) -> None:
    username = example.create_user("alice")
    _log_in(page, username, username)
    _send(page, "Your report is ready.", level="success", delivery="sticky", url="/")
    _send(page, "Your password expires in 3 days.", level="warning", delivery="sticky")
    assert _shown(page) == [
        "SUCCESS Your report is ready. (stored · sticky)",
        "WARNING Your password expires in 3 days. (stored · sticky)",
    ]

    # A deliver-once message from the server, and a session message on the way to the app.
    example.shell(
        "from django.contrib.auth import get_user_model; from user_messages import api; "
        f"api.info(get_user_model().objects.get(username={username!r}), "
        "'A new comment on your post.')"
    )
    _send(page, "Saved your settings.", level="info", delivery="session", then="spa")
    page.wait_for_url("**/spa/")
    page.wait_for_selector("#messages li")
    assert page.get_by_role("heading", level=1).inner_text() == "Single-page app"
    assert _shown(page) == [
        "INFO Saved your settings. (session)",
        "SUCCESS Your report is ready. (stored · sticky)",
        "WARNING Your password expires in 3 days. (stored · sticky)",
        "INFO A new comment on your post. (stored · once)",
    ]
    # The app asks for the count after showing the list: wait for it, do not race it.
    page.locator("#count", has_text="2 pending").wait_for()
    assert page.locator("#count").inner_text() == "2 pending"
    link = page.locator("#messages").get_by_role("link", name="Your report is ready.")
    assert link.get_attribute("href") == "/"  # a path on this site, kept as written

    sticky = page.locator("#messages li", has_text="Your password expires")
    sticky.get_by_role("button", name="Acknowledge").click()
    sticky.wait_for(state="detached")
    page.get_by_text("1 pending").wait_for()
    assert _shown(page) == [
        "INFO Saved your settings. (session)",
        "SUCCESS Your report is ready. (stored · sticky)",
        "INFO A new comment on your post. (stored · once)",
    ]

    page.reload()
    page.wait_for_selector("#messages li")
    assert _shown(page) == ["SUCCESS Your report is ready. (stored · sticky)"]
    page.locator("#count", has_text="1 pending").wait_for()
    assert page.locator("#count").inner_text() == "1 pending"

    page.goto("/")
    assert _shown(page) == ["SUCCESS Your report is ready. (stored · sticky)"]


def test_message_text_and_meta_never_run_as_html_or_script(
    page: Page, example: ExampleProject
) -> None:
    username = example.create_user("mallory")
    # Sent through the Python API, which trusts its caller: the pages must not.
    example.shell(
        "from django.contrib.auth import get_user_model; from user_messages import api; "
        f"user = get_user_model().objects.get(username={username!r}); "
        "api.error(user, '<img src=x onerror=alert(1)>', deliver_once=False, "
        "meta={'url': 'javascript:alert(1)'}); "
        "api.info(user, 'Tab trick', deliver_once=False, meta={'url': 'java\\tscript:alert(2)'})"
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _log_in(page, username, username)

    expected = [
        "ERROR <img src=x onerror=alert(1)> (stored · sticky)",
        "INFO Tab trick (stored · sticky)",
    ]
    assert _shown(page) == expected
    assert page.locator("#messages img").count() == 0
    assert page.locator("#messages a").count() == 0

    page.goto("/spa/")
    page.wait_for_selector("#messages li")
    assert _shown(page) == expected
    assert page.locator("#messages img").count() == 0
    assert page.locator("#messages a").count() == 0
    # The inbox lists the same two, newest first, as text too.
    page.locator("#history li").nth(1).wait_for()
    assert _inbox(page) == ["Tab trick (pending)", "<img src=x onerror=alert(1)> (pending)"]
    assert page.locator("#history img").count() == 0
    assert page.locator("#history a").count() == 0
    assert dialogs == []


def test_spa_renders_action_buttons_as_checked_links_and_archives_from_the_inbox(
    page: Page, example: ExampleProject
) -> None:
    from playwright.sync_api import expect

    username = example.create_user("archie")
    example.shell(
        "from django.contrib.auth import get_user_model; from user_messages import api; "
        "from user_messages.models import Message; "
        f"user = get_user_model().objects.get(username={username!r}); "
        "api.warning(user, 'Invoice due.', deliver_once=False, actions=["
        "{'label': 'Pay now', 'url': '/billing/pay/'}, "
        "{'label': 'Details', 'url': 'https://example.com/invoices/7'}]); "
        "api.info(user, 'Old news.', deliver_once=False); "
        # Written around the API, which would refuse it: no page may link it.
        "hostile = api.error(user, 'Hostile.', deliver_once=False); "
        "Message.objects.filter(pk=hostile.pk).update("
        "actions=[{'label': 'Evil', 'url': 'javascript:alert(1)'}])"
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _log_in(page, username, username)
    page.goto("/spa/")
    expect(page.locator("#history li")).to_have_count(3)
    expect(page.locator("#count")).to_have_text("3 pending")

    invoice = page.locator("#messages li", has_text="Invoice due.")
    assert [
        (link.inner_text(), link.get_attribute("href"))
        for link in invoice.locator(".message-actions a").all()
    ] == [("Pay now", "/billing/pay/"), ("Details", "https://example.com/invoices/7")]
    assert page.locator("#messages li", has_text="Hostile.").locator("a").count() == 0
    assert page.locator("#history li", has_text="Hostile.").locator("a").count() == 0
    _screenshot(page, "spa-actions")

    page.locator("#history li", has_text="Old news.").get_by_role("button", name="Archive").click()

    expect(page.locator("#count")).to_have_text("2 pending")
    expect(page.locator("#history li")).to_have_count(2)
    expect(page.locator("#messages li", has_text="Old news.")).to_have_count(0)
    assert _inbox(page) == ["Hostile. (pending)", "Invoice due. (pending)"]

    page.get_by_label("Archived").check()
    expect(page.locator("#history li")).to_have_count(1)
    assert _inbox(page) == ["Old news. (acknowledged)"]
    page.get_by_role("button", name="Unarchive").click()
    expect(page.locator("#history-status")).to_have_text("Nothing archived.")

    page.get_by_label("Archived").uncheck()
    expect(page.locator("#history li")).to_have_count(3)
    assert _inbox(page)[0] == "Hostile. (pending)"
    assert "Old news. (acknowledged)" in _inbox(page)
    expect(page.locator("#count")).to_have_text("2 pending")
    assert dialogs == []


def test_graphiql_is_served_at_graphql_in_development(page: Page) -> None:
    response = page.goto("/graphql")

    assert response is not None
    assert response.status == 200
    # The page that loads GraphiQL; the test that runs a query in it is further down.
    assert page.locator("#graphiql").count() == 1
    assert page.locator("script[src$='user_messages/graphiql/graphiql.js']").count() == 1


def test_spa_runs_the_published_operations_verbatim(page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    _log_in(page, "demo", "demo")
    page.goto("/spa/")
    page.locator("#count").get_by_text("pending").wait_for()
    page.locator("body[data-live=on]").wait_for()
    page.locator("#tabs .tab").first.wait_for()
    page.locator("#preference-list label").first.wait_for()

    operations = sorted(url.rsplit("/", 1)[1] for url in requested if "/spa/operations/" in url)
    assert operations == [
        "MyMessageCount.graphql",
        "MyMessageCountChanged.graphql",
        "MyMessageCounts.graphql",
        "MyMessageHistory.graphql",
        "MyMessagePreferences.graphql",
        "MyMessages.graphql",
    ]
    for name in operations:
        served = page.request.get(f"/spa/operations/{name}")
        assert served.text() == (REPO / "schema" / "operations" / name).read_text()
    assert page.request.get("/spa/operations/Missing.graphql").status == 404


def test_graphiql_works_offline_and_answers_my_message_count(
    page: Page, example: ExampleProject
) -> None:
    from playwright.sync_api import expect

    username = example.create_user("graphiql")
    _log_in(page, username, username)
    # Sent after the login's landing page, which would have delivered them.
    example.shell(
        "from django.contrib.auth import get_user_model; from user_messages import api; "
        f"user = get_user_model().objects.get(username={username!r}); "
        "api.info(user, 'One.'); api.warning(user, 'Two.', deliver_once=False)"
    )
    # Any request to another host (the page fixture blocks them) or that the example answers
    # with an error. Not "requestfailed": it also reports a request of the previous page that
    # the navigation cancels, such as its favicon, which says nothing about GraphiQL.
    elsewhere: list[str] = []
    errors: list[str] = []

    def on_request(request: Request) -> None:
        if not request.url.startswith(example.url):
            elsewhere.append(request.url)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            errors.append(f"{response.status} {response.url}")

    page.on("request", on_request)
    page.on("response", on_response)

    page.goto("/graphql#query=%7B%20myMessageCount%20%7D")
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

    expect(page.locator(".result-window")).to_contain_text('"myMessageCount": 2')
    assert elsewhere == []
    assert errors == []


def test_staff_send_a_message_from_the_user_admin_and_the_user_sees_it(
    page: Page, example: ExampleProject
) -> None:
    username = example.create_user("recipient")
    _log_in(page, "staff", "staff")
    page.goto(f"/admin/auth/user/?q={username}")
    page.locator("input[name=_selected_action]").check()
    page.locator("select[name=action]").select_option("send_message")
    _submit(page, page.get_by_role("button", name="Go"))

    assert "One message will be stored for this user: recipient" in page.inner_text("#content")
    page.get_by_label("Level").select_option(label="Warning")
    page.get_by_label("Message").fill("Please update your billing details.")
    page.get_by_label("until they acknowledge it (sticky)").check()
    page.get_by_role("textbox", name="Link:", exact=True).fill("/spa/")
    page.get_by_role("textbox", name="Button:", exact=True).fill("Update card")
    page.get_by_role("textbox", name="Button link:", exact=True).fill("/billing/")
    _submit(page, page.get_by_role("button", name="Send"))

    assert page.url == f"{example.url}/admin/auth/user/?q={username}"
    assert page.locator(".messagelist").inner_text() == "1 message was stored."
    _submit(page, page.get_by_role("button", name="Log out"))
    _log_in(page, username, username)
    assert _shown(page) == ["WARNING Please update your billing details. (stored · sticky)"]
    assert page.get_by_role("link", name="Please update").get_attribute("href") == "/spa/"
    page.goto("/spa/")
    button = page.locator("#messages .message-actions").get_by_role("link", name="Update card")
    assert button.get_attribute("href") == "/billing/"


def test_the_spa_shows_the_demo_users_welcome_messages(page: Page, example: ExampleProject) -> None:
    # Last: it recreates the demo user, as a first start would, for the README's screenshot.
    example.shell(
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.filter(username='demo').delete()"
    )
    example.manage("demo", "--no-serve")
    page.goto("/spa/")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/spa/")
    page.locator("#count", has_text="3 pending").wait_for()

    assert _shown(page) == DEMO_WELCOME
    # The inbox beside them: the same four, newest first, the one shown once now delivered.
    page.locator("#history li").nth(3).wait_for()
    assert [state.inner_text() for state in page.locator("#history .state").all()] == [
        "pending",
        "pending",
        "pending",
        "delivered",
    ]
    _screenshot(page, "spa")


def test_two_tabs_follow_a_send_and_an_acknowledge_live(
    browser: Browser, example: ExampleProject
) -> None:
    username = example.create_user("twotabs")
    context = browser.new_context(base_url=example.url)
    context.set_default_timeout(10_000)
    staff_context = browser.new_context(base_url=example.url)
    staff_context.set_default_timeout(10_000)
    try:
        first = context.new_page()
        _log_in(first, username, username)
        second = context.new_page()
        for tab in (first, second):
            tab.goto("/spa/")
            tab.locator("body[data-live=on]").wait_for()
            assert tab.locator("#count").inner_text() == "0 pending"

        # A third session, the staff user's, sends through the admin action.
        staff = staff_context.new_page()
        _log_in(staff, "staff", "staff")
        staff.goto(f"/admin/auth/user/?q={username}")
        staff.locator("input[name=_selected_action]").check()
        staff.locator("select[name=action]").select_option("send_message")
        _submit(staff, staff.get_by_role("button", name="Go"))
        staff.get_by_label("Message").fill("Live from the admin.")
        staff.get_by_label("until they acknowledge it (sticky)").check()
        _submit(staff, staff.get_by_role("button", name="Send"))

        # Both tabs hear the new count within 2 s and read the message without Reload.
        for tab in (first, second):
            tab.locator("#count", has_text="1 pending").wait_for(timeout=2_000)
            tab.locator("#messages li", has_text="Live from the admin.").wait_for(timeout=2_000)

        item = first.locator("#messages li", has_text="Live from the admin.")
        item.get_by_role("button", name="Acknowledge").click()

        # The other tab's badge drops, with no reload.
        second.locator("#count", has_text="0 pending").wait_for(timeout=2_000)
    finally:
        staff_context.close()
        context.close()


def _send_from_admin(
    staff: Page, username: str, text: str, *, sticky: bool, category: str = "", stored: int = 1
) -> None:
    """Staff send one message to one user with the user admin's action."""
    staff.goto(f"/admin/auth/user/?q={username}")
    staff.locator("input[name=_selected_action]").check()
    staff.locator("select[name=action]").select_option("send_message")
    _submit(staff, staff.get_by_role("button", name="Go"))
    staff.get_by_label("Message").fill(text)
    staff.get_by_label("Category").select_option(category)
    if sticky:
        staff.get_by_label("until they acknowledge it (sticky)").check()
    _submit(staff, staff.get_by_role("button", name="Send"))
    # A user who turned the category off gets nothing, and the count says so.
    notice = "1 message was stored." if stored == 1 else f"{stored} messages were stored."
    assert staff.locator(".messagelist").inner_text() == notice


def _inbox(page: Page) -> list[str]:
    """The inbox as a reader sees it: 'text (state)' per message, top to bottom."""
    return [
        f"{item.locator('.text').inner_text()} ({item.locator('.state').inner_text()})"
        for item in page.locator("#history li").all()
    ]


def test_the_inbox_pages_through_the_history_and_acknowledges_all_in_both_tabs(
    browser: Browser, example: ExampleProject
) -> None:
    from playwright.sync_api import expect

    username = example.create_user("inbox")
    context = browser.new_context(base_url=example.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    staff_context = browser.new_context(base_url=example.url)
    staff_context.set_default_timeout(15_000)
    try:
        first = context.new_page()
        _log_in(first, username, username)
        second = context.new_page()
        for tab in (first, second):
            tab.goto("/spa/")
            tab.locator("body[data-live=on]").wait_for()
            expect(tab.locator("#history-status")).to_have_text("Nothing yet.")

        # Messages 1 to 15 are shown once, 16 to 30 stay until acknowledged.
        staff = staff_context.new_page()
        _log_in(staff, "staff", "staff")
        for n in range(1, 31):
            _send_from_admin(staff, username, f"Message {n}", sticky=n > 15)

        # Both tabs read what arrived live; the sticky ones stay pending.
        for tab in (first, second):
            expect(tab.locator("#count")).to_have_text("15 pending")
            expect(tab.locator("#history li").first).to_contain_text("Message 30")
        newest = [f"Message {n} (pending)" for n in range(30, 20, -1)]
        expect(first.locator("#history li")).to_have_count(10)
        assert _inbox(first) == newest

        first.get_by_role("button", name="Load more").click()
        expect(first.locator("#history li")).to_have_count(20)
        first.get_by_role("button", name="Load more").click()
        expect(first.locator("#history li")).to_have_count(30)
        expect(first.get_by_role("button", name="Load more")).to_be_hidden()
        assert _inbox(first) == [
            *newest,
            *(f"Message {n} (pending)" for n in range(20, 15, -1)),
            *(f"Message {n} (delivered)" for n in range(15, 0, -1)),
        ]

        first.get_by_role("button", name="Acknowledge all").click()

        for tab in (first, second):
            expect(tab.locator("#count")).to_have_text("0 pending", timeout=5_000)
        # The opened pages stay open, with the states the mutation left.
        expect(first.locator("#history li .state-pending")).to_have_count(0)
        assert _inbox(first) == [
            *(f"Message {n} (acknowledged)" for n in range(30, 15, -1)),
            *(f"Message {n} (delivered)" for n in range(15, 0, -1)),
        ]
        expect(first.locator("#messages li[data-sticky]")).to_have_count(0)
        # The other tab heard the count drop and re-read its first page.
        expect(second.locator("#history li .state-pending")).to_have_count(0)
        assert _inbox(second)[:10] == [f"Message {n} (acknowledged)" for n in range(30, 20, -1)]
    finally:
        staff_context.close()
        context.close()


def _tab_counts(page: Page) -> dict[str, str]:
    """The tab bar as a reader sees it: each tab's label and count."""
    return {
        tab.locator(".tab-label").inner_text(): tab.locator(".tab-count").inner_text()
        for tab in page.locator("#tabs .tab").all()
    }


def test_a_category_turned_off_gets_nothing_a_critical_one_still_arrives_in_both_tabs(
    browser: Browser, example: ExampleProject
) -> None:
    from playwright.sync_api import expect

    username = example.create_user("readercats")
    context = browser.new_context(base_url=example.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    staff_context = browser.new_context(base_url=example.url)
    staff_context.set_default_timeout(15_000)
    zero = {"Billing": "0", "Security": "0", "Product news": "0", "Other": "0"}
    try:
        first = context.new_page()
        _log_in(first, username, username)
        second = context.new_page()
        for tab in (first, second):
            tab.goto("/spa/")
            tab.locator("body[data-live=on]").wait_for()
            expect(tab.locator("#tabs .tab")).to_have_count(4)
            assert _tab_counts(tab) == zero
        # The critical category cannot be turned off.
        expect(first.get_by_label("Security")).to_be_disabled()
        expect(first.get_by_label("Security")).to_be_checked()

        first.get_by_label("Billing").uncheck()
        expect(first.locator("#preferences-status")).to_have_text("Saved.")
        expect(first.get_by_label("Billing")).not_to_be_checked()

        staff = staff_context.new_page()
        _log_in(staff, "staff", "staff")
        _send_from_admin(staff, username, "An invoice.", sticky=True, category="billing", stored=0)
        _send_from_admin(staff, username, "A new sign-in.", sticky=True, category="security")

        # The security message arrives live in both tabs; the billing one was never stored.
        for tab in (first, second):
            expect(tab.locator("#count")).to_have_text("1 pending")
            expect(tab.locator("#tabs .tab[data-category=security] .tab-count")).to_have_text("1")
            assert _tab_counts(tab) == {**zero, "Security": "1"}
            expect(tab.locator("#messages li", has_text="A new sign-in.")).to_have_count(1)
            expect(tab.locator("#messages li", has_text="An invoice.")).to_have_count(0)

        # A tab lists its category's pending messages without consuming them.
        first.locator("#tabs .tab[data-category=security]").click()
        expect(first.locator("#tab-messages li .text")).to_have_text(["A new sign-in."])
        first.locator("#tabs .tab[data-category=billing]").click()
        expect(first.locator("#tab-status")).to_have_text("Nothing pending in this category.")
        _screenshot(first, "spa-categories")
    finally:
        staff_context.close()
        context.close()
