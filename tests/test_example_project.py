"""The example project as a newcomer starts it: start.sh, the demo command, its pages.

The project runs with its own settings in subprocesses (the suite's are tests.settings), on a
throw-away SQLite database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError

from example_project.management.commands import demo
from tests import project_shell

# The project runs on SQLite files of its own whatever TEST_DATABASE names: the runs on SQLite
# (one per Python in .ci/run) cover these, the others would only repeat them.
# One worker runs the module, so that its module-scoped database is made once.
pytestmark = [pytest.mark.engine_independent, pytest.mark.xdist_group("example-project")]

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "example_project" / "manage.py"
START = REPO / "example_project" / "start.sh"


def example_env(database: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DEMO_PUBLIC", "VENV", "RUN_MAIN"}
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        **extra,
    }


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project's database after `manage.py demo --no-serve`."""
    database = tmp_path_factory.mktemp("example") / "db.sqlite3"
    subprocess.run(
        [sys.executable, str(MANAGE), "demo", "--no-serve"],
        env=example_env(database),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return database


def in_example(database: Path, code: str, **env: str) -> Any:
    """Run Python code in the example project (a Django test Client as `client`, signed in as
    demo); return what it printed, decoded as JSON."""
    # force_login: checking demo's password costs 10^6 PBKDF2 rounds, a quarter second of CPU.
    prelude = (
        "import json\n"
        "from django.contrib.auth.models import User\n"
        "from django.test import Client\n"
        "client = Client()\n"
        "client.force_login(User.objects.get(username='demo'))\n"
    )
    printed = project_shell.run(example_env(database, **env), prelude + code)
    return json.loads(printed.strip().splitlines()[-1])


# start.sh


def run_start(tmp_path: Path, venv_dir: Path | str) -> subprocess.CompletedProcess[str]:
    env = example_env(tmp_path / "db.sqlite3", VENV=str(venv_dir))
    return subprocess.run(
        ["bash", str(START), "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_second_start_does_not_run_pip(tmp_path: Path) -> None:
    # The suite's own virtualenv has the example's requirements, as .venv has after a first start.
    result = run_start(tmp_path, sys.prefix)

    assert result.returncode == 0, result.stderr
    assert "Installing" not in result.stdout
    assert "Created user 'demo' with password 'demo'." in result.stdout


def test_start_installs_when_the_package_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty-venv"
    # Without pip: the install start.sh attempts fails at once instead of reaching the network.
    venv.create(empty, with_pip=False)

    result = run_start(tmp_path, empty)

    assert f"Installing django-user-messages-plus[example] into {empty} ..." in result.stdout
    assert "No module named pip" in result.stderr
    assert result.returncode != 0


# The example project's commands


def test_the_measuring_commands_are_an_app_of_their_own_beside_the_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(MANAGE), "help"],
        env=example_env(tmp_path / "db.sqlite3"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # `help` lists the commands under the last part of each app's name.
    commands: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("["):
            app = commands.setdefault(line.strip("[]"), [])
        elif line.startswith("    ") and commands:
            app.append(line.strip())

    assert commands["example_project"] == ["demo"]
    assert commands["benchmarks"] == ["bench", "hostile", "loadtest"]


# The demo command's address


@pytest.mark.parametrize(
    ("addrport", "loopback"),
    [
        ("8000", True),
        ("127.0.0.1:8000", True),
        ("127.0.0.2:8000", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("0.0.0.0:8080", False),
        ("0:8000", False),
        ("[::]:8000", False),
        ("192.168.1.5:8000", False),
        ("demo.example.com:80", False),
    ],
)
def test_only_loopback_addresses_count_as_local(addrport: str, loopback: bool) -> None:
    assert demo._is_loopback(addrport) is loopback


def test_demo_refuses_a_public_address_and_says_what_it_would_expose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEMO_PUBLIC", raising=False)
    monkeypatch.delenv("RUN_MAIN", raising=False)

    with pytest.raises(CommandError) as refused:
        # Refused before it touches the database (no db fixture) or starts a server.
        demo.Command().handle(addrport="0.0.0.0:8080", no_serve=False)

    assert str(refused.value) == (
        "Refusing to serve the demo on '0.0.0.0:8080', where other machines can reach it: it "
        "runs with DEBUG on (tracebacks with settings on any error), a public SECRET_KEY "
        "(sessions can be forged) and the superuser staff / staff. Use 127.0.0.1:PORT, or set "
        "DEMO_PUBLIC=1 if the demo is meant to be reachable (a throw-away container); then also "
        "set DJANGO_ALLOWED_HOSTS."
    )


def test_demo_public_lets_the_demo_serve_another_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PUBLIC", "1")

    assert demo._refuse_a_public_address("0.0.0.0:8080") is None


# Pages


def test_an_invalid_send_redirects_and_shows_the_errors_once(example_db: Path) -> None:
    seen = in_example(
        example_db,
        "response = client.post('/send/', {'message': '', 'level': 'info', 'delivery': 'once',"
        " 'url': 'javascript:alert(1)'})\n"
        "first = client.get('/').content.decode()\n"
        "again = client.get('/').content.decode()\n"
        "print(json.dumps({'status': response.status_code, 'location': response['Location'],"
        " 'first': ['This field is required.' in first, 'Enter a valid URL.' in first,"
        " 'javascript:alert(1)' in first],"
        " 'again': ['This field is required.' in again, 'javascript:alert(1)' in again]}))",
    )

    assert seen == {
        "status": 302,
        "location": "/",
        "first": [True, True, True],
        "again": [False, False],
    }


def test_favicon_ico_leads_to_the_static_icon(example_db: Path) -> None:
    seen = in_example(
        example_db,
        "response = client.get('/favicon.ico')\n"
        "page = client.get('/').content.decode()\n"
        "print(json.dumps([response.status_code, response['Location'],"
        ' \'<link rel="icon" href="/static/example_project/favicon.svg"\' in page]))',
    )

    assert seen == [302, "/static/example_project/favicon.svg", True]
    icon = REPO / "example_project" / "static" / "example_project" / "favicon.svg"
    assert icon.read_text().startswith("<svg xmlns=")


def test_the_expiring_demo_message_is_sticky_so_it_shows_until_it_expires(
    example_db: Path,
) -> None:
    seen = in_example(
        example_db,
        "from user_messages.models import Message\n"
        "expiring = Message.objects.get(expires_at__isnull=False)\n"
        "print(json.dumps([expiring.deliver_once, (expiring.expires_at - expiring.created_at)"
        ".total_seconds()]))",
    )

    assert seen == [False, pytest.approx(86400, abs=5)]


def test_database_url_query_gives_typed_options() -> None:
    # Django checks server_side_binding with "is True", and psycopg needs an int threshold.
    from example_project.settings import database_from_url

    url = (
        "postgres://user:secret@db.example:5433/app"
        "?sslmode=require&server_side_binding=true&prepare_threshold=5"
    )
    assert database_from_url(url) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "USER": "user",
        "PASSWORD": "secret",
        "HOST": "db.example",
        "PORT": "5433",
        "OPTIONS": {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5},
    }


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("/inbox/", True),
        ("https://example.com/a", True),
        ("//evil.example/a", False),
        ("javascript:alert(1)", False),
        ("data:text/html,x", False),
        ("/\\evil.example", False),
        ("http:evil.example", False),
    ],
)
def test_the_classic_page_links_meta_url_only_to_this_site_or_http(
    example_db: Path, url: str, link: bool
) -> None:
    seen = in_example(
        example_db,
        "from django.contrib.auth import get_user_model\n"
        "from user_messages import api\n"
        "demo = get_user_model().objects.get(username='demo')\n"
        f"api.info(demo, 'Linked?', meta={{'url': {url!r}}})\n"
        "page = client.get('/').content.decode()\n"
        "print(json.dumps(['Linked?</a>' in page, 'Linked?' in page]))",
    )

    assert seen == [link, True]


# GRAPHQL_STACK


@pytest.mark.parametrize("stack", ["graphene", "strawberry"])
def test_graphql_stack_picks_who_serves_graphql_with_the_same_answers_and_graphiql(
    example_db: Path, stack: str
) -> None:
    if stack == "strawberry":
        pytest.importorskip("strawberry")
    seen = in_example(
        example_db,
        "from django.urls import resolve\n"
        "view = resolve('/graphql').func.view_class\n"
        "body = json.dumps({'query': '{ myMessageCount myMessages(peek: true) { message } }'})\n"
        "answer = client.post('/graphql', body, content_type='application/json').json()\n"
        "page = client.get('/graphql', HTTP_ACCEPT='text/html')\n"
        "libraries = {c.__module__.split('.')[0] for c in view.__mro__}\n"
        "print(json.dumps({'library': sorted(libraries & {'graphene_django', 'strawberry'}),"
        " 'answer': sorted(answer['data']), 'graphiql': [page.status_code,"
        " '/static/user_messages/graphiql/graphiql.min.js' in page.content.decode()]}))",
        GRAPHQL_STACK=stack,
    )

    assert seen == {
        "library": [{"graphene": "graphene_django", "strawberry": "strawberry"}[stack]],
        "answer": ["myMessageCount", "myMessages"],
        "graphiql": [200, True],
    }
