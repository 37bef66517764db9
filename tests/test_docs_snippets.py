"""Every Python and shell snippet written into docs/ is run or checked here.

A page's whole files are included from files that tests run (the tutorial's, by
test_docs_tutorial.py; the client snippets by test_clients.py; the template by
test_template_tags.py). What is written inline is cut out of the page and:

- Python: run, each block by a runner below that gives it the names its page assumes (`user`,
  `message`) and asserts what the page says it does. A new block without a runner fails.
- Shell: each command is checked against what it names: a script or file that exists, extras
  the package declares, environment variables the project reads, and arguments parsed by the
  real parser of the command (Django's management commands, gunicorn, uvicorn, daphne). The
  package's own management commands are run. The tutorial's commands run in its own test.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import RequestFactory, override_settings

from tests.repository import own_files
from user_messages import api
from user_messages.conf import DEFAULTS
from user_messages.models import Message
from user_messages.signals import messages_changed

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.S | re.M)


def blocks(language: str) -> Iterator[tuple[str, int, str]]:
    """(page, n, code) for the n-th ```language block of every page, indentation removed."""
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        name = page.relative_to(DOCS).as_posix()
        found = [m for m in FENCE.finditer(page.read_text()) if m.group(2) == language]
        for n, match in enumerate(found):
            indent = len(match.group(1))
            code = "\n".join(line[indent:] for line in match.group(3).splitlines())
            yield name, n, code + "\n"


def python_block(page: str, n: int) -> str:
    return next(code for name, i, code in blocks("python") if (name, i) == (page, n))


# Python


def run_send(user: AbstractBaseUser) -> None:
    exec(python_block("howto/send.md", 0), {"user": user})
    rows = Message.objects.filter(user=user).order_by("pk")
    assert [(m.message, m.level_tag, m.deliver_once) for m in rows] == [
        ("Your export is ready.", "info", True),
        ("Paid!", "success", True),
        ("Verify your e-mail address.", "warning", False),
        ("Card declined.", "error", True),
        ("Same thing, level given explicitly.", "info", True),
    ]
    assert rows[0].meta == {"url": "/exports/42/"}
    assert rows[3].extra_tags == "billing"


def run_broadcast(user: AbstractBaseUser) -> None:
    User = get_user_model()
    User.objects.create_user("inactive", is_active=False)
    exec(python_block("howto/send.md", 1), {"User": User, "api": api})
    assert list(Message.objects.values_list("user__username", "message")) == [
        (user.get_username(), "Maintenance tonight at 22:00.")
    ]


def run_acknowledge(user: AbstractBaseUser) -> None:
    sticky = api.warning(user, "Sticky.", deliver_once=False)
    api.info(user, "Once.")
    code = python_block("howto/inbox.md", 0).replace("[12, 13]", f"[{sticky.pk}, 13]")
    exec(code, {"api": api, "user": user})
    assert api.pending_count(user) == 0
    assert Message.objects.get(pk=sticky.pk).acknowledged_at is not None


def run_history(user: AbstractBaseUser) -> None:
    message = api.info(user, "Shown.")
    list(api.get_messages(user=user))
    api.info(user, "Pending.")
    message.refresh_from_db()
    namespace: dict[str, Any] = {"api": api, "user": user, "message": message}
    exec(python_block("howto/inbox.md", 1), namespace)
    assert [m.message for m in namespace["page"].messages] == ["Pending.", "Shown."]
    assert message.seen_at is not None


def run_archive(user: AbstractBaseUser) -> None:
    once, sticky = api.info(user, "Once."), api.warning(user, "Sticky.", deliver_once=False)
    code = python_block("howto/archive-actions.md", 0)
    code = code.replace("[12, 13]", f"[{once.pk}, {sticky.pk}]").replace("[13]", f"[{sticky.pk}]")
    exec(code, {"api": api, "user": user, "Message": Message})
    assert api.pending_count(user) == 0
    assert list(api.history(user)) == []
    assert [m.pk for m in api.history(user, archived=True)] == [sticky.pk, once.pk]


def run_actions(user: AbstractBaseUser) -> None:
    namespace: dict[str, Any] = {"api": api, "user": user}
    exec(python_block("howto/archive-actions.md", 1), namespace)
    expected = [
        {"label": "Pay now", "url": "/billing/pay/"},
        {"label": "Details", "url": "https://billing.example.com/invoices/7"},
    ]
    assert namespace["message"].actions == expected
    assert Message.objects.get().actions == expected


def run_settings_defaults(user: AbstractBaseUser) -> None:
    namespace: dict[str, Any] = {}
    exec(python_block("reference/settings.md", 0), namespace)
    assert namespace["USER_MESSAGES"] == DEFAULTS


def run_settings_categories(user: AbstractBaseUser) -> None:
    namespace: dict[str, Any] = {}
    exec(python_block("reference/settings.md", 1), namespace)
    with override_settings(USER_MESSAGES=namespace["USER_MESSAGES"]):
        assert [e.id for e in run_checks() if e.id.startswith("user_messages.")] == []
        assert api.info(user, "Paid", category="billing").category == "billing"


def _categories_settings() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(python_block("howto/categories.md", 0), namespace)
    return dict(namespace["USER_MESSAGES"])


def run_categories_settings(user: AbstractBaseUser) -> None:
    with override_settings(USER_MESSAGES=_categories_settings()):
        assert [e.id for e in run_checks() if e.id.startswith("user_messages.")] == []


def run_categories(user: AbstractBaseUser) -> None:
    User = get_user_model()
    User.objects.create_user("staff", is_staff=True)
    namespace = {"api": api, "user": user, "User": User, "Message": Message}
    with override_settings(USER_MESSAGES=_categories_settings()):
        exec(python_block("howto/categories.md", 1), namespace)
        assert api.pending_count(user, categories=["billing"]) == 0
        assert [m.message for m in api.get_messages(user=user)] == ["Welcome!"]
    assert list(Message.objects.order_by("pk").values_list("message", "category")) == [
        ("Your invoice is ready.", "billing"),
        ("New sign-in.", "security"),
        ("Welcome!", ""),
    ]


def run_preferences(user: AbstractBaseUser) -> None:
    User = get_user_model()
    User.objects.create_user("other")
    namespace = {"api": api, "user": user, "User": User}
    with override_settings(USER_MESSAGES=_categories_settings()):
        exec(python_block("howto/categories.md", 2), namespace)
        assert [(p.category, p.enabled) for p in api.preferences(user)] == [
            ("billing", False),
            ("security", True),
            ("news", True),
        ]
    assert list(Message.objects.order_by("pk").values_list("user__username", "category")) == [
        ("other", "billing"),
        ("alice", "security"),
    ]


def run_signal_receiver(user: AbstractBaseUser) -> None:
    namespace: dict[str, Any] = {}
    exec(python_block("reference/signals.md", 0), namespace)
    receiver = namespace["on_messages_changed"]
    try:
        # The package's listeners (cache, live push) answer too; the page's is among them.
        answered = messages_changed.send(sender=None, user_ids=[user.pk])
        assert receiver in [listener for listener, _ in answered]
    finally:
        assert messages_changed.disconnect(receiver)


def run_cache(user: AbstractBaseUser, redis_url: str) -> None:
    namespace: dict[str, Any] = {}
    exec(python_block("howto/cache.md", 0), namespace)
    caches = namespace["CACHES"]
    assert caches["default"]["LOCATION"] == "redis://127.0.0.1:6379"
    caches["default"]["LOCATION"] = redis_url  # this run's database, not others' db 0
    with override_settings(CACHES=caches, USER_MESSAGES=namespace["USER_MESSAGES"]):
        assert [e.id for e in run_checks() if e.id.startswith("user_messages.")] == []
        from django.core.cache import cache
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        cache.clear()
        list(api.get_messages(user=user))  # asks the database, remembers "nothing pending"
        with CaptureQueriesContext(connection) as queries:
            assert list(api.get_messages(user=user)) == []
        assert len(queries) == 0


def run_admin(user: AbstractBaseUser) -> None:
    User = get_user_model()
    models = types.ModuleType("mysite.models")
    models.User = User  # type: ignore[attr-defined]
    registered = admin.site._registry.pop(User)
    sys.modules["mysite.models"] = models
    try:
        exec(python_block("howto/admin.md", 0), {"__name__": "mysite.admin"})
        model_admin = admin.site._registry[User]
        request = RequestFactory().get("/admin/auth/user/")
        request.user = User.objects.create_user("staff", is_staff=True)
        assert "send_message" not in model_admin.get_actions(request)
        request.user = User.objects.create_superuser("root", password="root")
        assert "send_message" in model_admin.get_actions(request)
    finally:
        admin.site._registry[User] = registered
        del sys.modules["mysite.models"]


def run_prepared_statements(user: AbstractBaseUser) -> None:
    code = python_block("explanation/performance.md", 0)
    # The options CI's prepared-statements run sets (tests/settings.py, TEST_PG_PREPARED).
    assert code.strip() in (REPO / "tests" / "settings.py").read_text()
    namespace: dict[str, Any] = {"DATABASES": {"default": {}}}
    exec(code, namespace)
    assert namespace["DATABASES"]["default"]["OPTIONS"] == {
        "server_side_binding": True,
        "prepare_threshold": 5,
    }


def run_pooler_settings(user: AbstractBaseUser) -> None:
    namespace: dict[str, Any] = {}
    exec(python_block("howto/pgbouncer.md", 0), namespace)
    database = namespace["DATABASES"]["default"]
    # What CI's run through PgBouncer sets (tests/settings.py, TEST_PGBOUNCER), and no
    # prepared statements, which PgBouncer before 1.21 cannot carry.
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert 'DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True' in (
        (REPO / "tests" / "settings.py").read_text()
    )
    assert "OPTIONS" not in database
    assert database["ENGINE"] == "django.db.backends.postgresql"


def run_graphiql_route(user: AbstractBaseUser) -> None:
    namespace: dict[str, Any] = {"path": lambda *args, **kwargs: (args, kwargs), "urlpatterns": []}
    exec(python_block("howto/graphql.md", 0), namespace)
    ((route, view), _) = namespace["urlpatterns"][0]
    assert route == "graphiql/"
    assert view.view_class.__module__ == "user_messages.graphiql"
    assert view.view_initkwargs == {"endpoint": "/graphql"}


def run_sqlite_settings(user: AbstractBaseUser) -> None:
    """The troubleshooting page's SQLite options: WAL, IMMEDIATE transactions, a longer wait."""
    import django
    from django.db.backends.sqlite3.base import DatabaseWrapper

    with tempfile.TemporaryDirectory() as folder:
        namespace: dict[str, Any] = {"BASE_DIR": Path(folder)}
        exec(python_block("troubleshooting.md", 0), namespace)
        database = namespace["DATABASES"]["default"]
        since_5_1 = django.VERSION >= (5, 1)
        if not since_5_1:
            # The page says: Django 5.1 or later (both options came with it).
            database["OPTIONS"].pop("transaction_mode")
            database["OPTIONS"].pop("init_command")
        wrapper = DatabaseWrapper(
            {
                **database,
                "TIME_ZONE": None,
                "CONN_MAX_AGE": 0,
                "CONN_HEALTH_CHECKS": False,
                "AUTOCOMMIT": True,
                "ATOMIC_REQUESTS": False,
                "TEST": {},
                "USER": "",
                "PASSWORD": "",
                "HOST": "",
                "PORT": "",
            },
            alias="troubleshooting",
        )
        try:
            with wrapper.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout")
                assert cursor.fetchone() == (20_000,)
                if since_5_1:
                    cursor.execute("PRAGMA journal_mode")
                    assert cursor.fetchone() == ("wal",)
            if since_5_1:
                assert wrapper.transaction_mode == "IMMEDIATE"
        finally:
            wrapper.close()


def _async_request(user: AbstractBaseUser, method: str = "get") -> Any:
    """A request as an async view gets it, signed in as ``user`` (``auser()``, Django 5.0+)."""
    request = getattr(RequestFactory(), method)("/")
    request.user = user

    async def auser() -> AbstractBaseUser:
        return user

    request.auser = auser
    return request


def run_async_send(user: AbstractBaseUser) -> None:
    namespace: dict[str, Any] = {}
    exec(python_block("howto/send.md", 2), namespace)
    response = async_to_sync(namespace["export_ready"])(_async_request(user))
    assert response.status_code == 204
    assert list(Message.objects.values_list("message", "meta")) == [
        ("Your export is ready.", {"url": "/exports/42/"})
    ]


def run_async_inbox(user: AbstractBaseUser) -> None:
    api.info(user, "Once.")
    sticky = api.warning(user, "Sticky.", deliver_once=False)
    namespace: dict[str, Any] = {}
    exec(python_block("howto/inbox.md", 2), namespace)
    view = async_to_sync(namespace["inbox"])
    first = json.loads(view(_async_request(user, "post")).content)
    second = json.loads(view(_async_request(user, "post")).content)
    assert first == {
        "new": ["Once.", "Sticky."],
        "pending": 1,
        "history": [sticky.pk, sticky.pk - 1],
        "hasNextPage": False,
    }
    assert second["new"] == ["Sticky."]


def run_strawberry_async_view(user: AbstractBaseUser) -> None:
    pytest.importorskip("strawberry")
    from asgiref.sync import iscoroutinefunction

    from tests.strawberry_schema import schema

    namespace: dict[str, Any] = {
        "path": lambda *args, **kwargs: (args, kwargs),
        "urlpatterns": [],
        "schema": schema,
    }
    exec(python_block("howto/strawberry.md", 0), namespace)
    ((route, view), _) = namespace["urlpatterns"][0]
    assert route == "graphql"
    assert iscoroutinefunction(view)
    assert view.view_class.__name__ == "AsyncGraphQLView"
    assert view.view_class.__module__ == "user_messages.strawberry.views"
    assert view.csrf_exempt  # exempt from the middleware: the view checks CSRF itself


PYTHON_RUNNERS: dict[tuple[str, int], Callable[..., None]] = {
    ("howto/send.md", 0): run_send,
    ("howto/send.md", 1): run_broadcast,
    ("howto/send.md", 2): run_async_send,
    ("howto/inbox.md", 0): run_acknowledge,
    ("howto/inbox.md", 1): run_history,
    ("howto/inbox.md", 2): run_async_inbox,
    ("howto/archive-actions.md", 0): run_archive,
    ("howto/archive-actions.md", 1): run_actions,
    ("howto/categories.md", 0): run_categories_settings,
    ("howto/categories.md", 1): run_categories,
    ("howto/categories.md", 2): run_preferences,
    ("reference/settings.md", 0): run_settings_defaults,
    ("reference/settings.md", 1): run_settings_categories,
    ("reference/signals.md", 0): run_signal_receiver,
    ("howto/cache.md", 0): run_cache,
    ("howto/admin.md", 0): run_admin,
    ("explanation/performance.md", 0): run_prepared_statements,
    ("howto/pgbouncer.md", 0): run_pooler_settings,
    ("howto/strawberry.md", 0): run_strawberry_async_view,
    ("howto/graphql.md", 0): run_graphiql_route,
    ("troubleshooting.md", 0): run_sqlite_settings,
}


def test_every_python_block_of_the_docs_has_a_runner() -> None:
    found = {(page, n) for page, n, _ in blocks("python")}

    assert found == set(PYTHON_RUNNERS)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("block", sorted(PYTHON_RUNNERS), ids="{0[0]}#{0[1]}".format)
def test_python_block_runs_as_its_page_says(
    block: tuple[str, int], user: AbstractBaseUser, request: pytest.FixtureRequest
) -> None:
    runner = PYTHON_RUNNERS[block]
    if runner is run_cache:
        redis_url = request.getfixturevalue("redis_server").url
        runner(user, redis_url)
    else:
        runner(user)


# Shell

# Environment variables a page may set: each must be read somewhere in the repository.
ENVIRONMENT = {
    "DATABASE_URL",
    "REDIS_URL",
    "TEST_DATABASE",
    "TEST_PG_PREPARED",
    "TEST_PGBOUNCER",
    "TEST_WORKERS",
    "BROWSER_TESTS",
    "UPDATE_SCREENSHOTS",
    "DEMO_PUBLIC",
    "DJANGO_ALLOWED_HOSTS",
}


def shell_commands() -> list[tuple[str, str]]:
    """(page, command) for every command of every ```sh block, the tutorial's excepted."""
    commands = []
    for page, _, code in blocks("sh"):
        if page in {"tutorial/index.md", "howto/strawberry.md"}:
            continue  # run by tests/test_docs_tutorial.py and tests/test_strawberry_docs.py
        for line in code.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                commands.extend((page, part.strip()) for part in line.split(" && "))
    return commands


def split_environment(words: list[str]) -> tuple[dict[str, str], list[str]]:
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def declared_extras() -> set[str]:
    extras = importlib.metadata.metadata("django-user-messages-plus").get_all("Provides-Extra")
    return set(extras or [])


def example_commands_parse(commands: list[list[str]]) -> list[str]:
    """Parse each ``manage.py NAME ARGS`` with the example project's real command parser."""
    program = (
        "import json, sys, django\n"
        "django.setup()\n"
        "from django.core.management import get_commands, load_command_class\n"
        "failures = []\n"
        "for name, *args in json.load(sys.stdin):\n"
        "    command = load_command_class(get_commands()[name], name)\n"
        "    try:\n"
        "        command.create_parser('manage.py', name).parse_args(args)\n"
        "    except BaseException as error:\n"
        "        failures.append(f'{name} {args}: {error!r}')\n"
        "print(json.dumps(failures))\n"
    )
    env = {"DJANGO_SETTINGS_MODULE": "example_project.settings", "PATH": "/usr/bin:/bin"}
    finished = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(commands),
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    failures: list[str] = json.loads(finished.stdout)
    return failures


@pytest.mark.django_db
def test_every_shell_command_of_the_docs_names_what_exists_and_parses(
    tmp_path: Path,
) -> None:
    repository_text = "\n".join(
        path.read_text(errors="replace")
        for folder in ("user_messages", "example_project", "tests", ".ci")
        for path in own_files(REPO / folder)
        if path.suffix in {".py", ".sh", ""}
    )
    example: list[list[str]] = []
    unknown = []
    for page, command in shell_commands():
        env, words = split_environment(shlex.split(command))
        for name in env:
            assert name in ENVIRONMENT, f"{page}: {name} is not a variable the project reads"
            assert f'"{name}"' in repository_text or f"{name}:" in repository_text, name
        program, args = words[0], words[1:]
        if program == "bash":
            assert (REPO / args[0]).is_file(), f"{page}: {args[0]} does not exist"
            for arg in args[1:]:
                if arg.startswith("tests/"):
                    assert (REPO / arg).exists(), f"{page}: {arg} does not exist"
        elif program == "pip" and args[0] == "install" and "[" in args[-1] and "-e" not in args:
            extras = re.fullmatch(r"django-user-messages-plus\[([\w,]+)\]", args[1])
            assert extras, command
            assert set(extras.group(1).split(",")) <= declared_extras(), command
        elif program.endswith("pip") and args[:2] == ["install", "-e"]:
            extras = re.fullmatch(r"\.\[([\w,]+)\]", args[2])
            assert extras, command
            assert set(extras.group(1).split(",")) <= declared_extras(), command
        elif program.endswith("python") and args[0] == "example_project/manage.py":
            example.append(args[1:])
        elif program.endswith("python") and args[0] == "manage.py":
            call_command(*args[1:])  # the package's own commands, run against the test database
        elif program in {"gunicorn", "uvicorn", "daphne"}:
            parse_server_command(program, args)
        elif program == "cd":
            assert (REPO / args[0]).is_dir(), command
        elif program == "django-admin" or (
            program.endswith("python") and args[:2] == ["-m", "django"]
        ):
            name = args[0] if program == "django-admin" else args[2]
            rest = args[1:] if program == "django-admin" else args[3:]
            from django.core.management import get_commands, load_command_class

            load_command_class(get_commands()[name], name).create_parser(
                "django-admin", name
            ).parse_args(rest)
        elif program.endswith("python") and args[:2] == ["-m", "sphinx"]:
            parse_sphinx_command(args[2:])
        elif program == "ulimit":
            assert args[0] == "-n", command
            assert int(args[1]) > 0, command
        elif (program, *args[:2]) == ("python3", "-m", "venv"):
            pass
        elif program.endswith("/bin/pip") and args[0] == "install":
            # django-user-messages 1.1 in a venv of its own, for bench --compare-python.
            assert "django-user-messages==1.1.0" in args
        else:
            unknown.append(f"{page}: {command}")
    assert unknown == [], "no check for these commands: add one"
    assert example_commands_parse(example) == []


def parse_sphinx_command(args: list[str]) -> None:
    """The docs build: the options CI builds with, parsed by Sphinx where the docs extra is."""
    assert args == ["-W", "--keep-going", "-n", "-b", "html", "docs", "docs/_build/html"]
    try:
        from sphinx.cmd.build import get_parser
    except ImportError:  # the suite's environment has no docs extra
        return
    parsed = get_parser().parse_args(args)
    assert (parsed.sourcedir, parsed.outputdir, parsed.builder) == (
        "docs",
        "docs/_build/html",
        "html",
    )
    assert (parsed.warningiserror, parsed.keep_going, parsed.nitpicky) == (True, True, True)


def parse_server_command(program: str, args: list[str]) -> None:
    """Parse a server's command line with the server's own parser, without serving."""
    if program == "gunicorn":
        from gunicorn.config import Config

        parsed = Config().parser().parse_args(args)
        assert parsed.args == ["mysite.wsgi:application"]
    elif program == "uvicorn":
        from uvicorn.main import main

        context = main.make_context("uvicorn", list(args))
        assert context.params["app"] == "mysite.asgi:application"
    else:
        from daphne.cli import CommandLineInterface

        parsed = CommandLineInterface().parser.parse_args(args)
        assert parsed.application == "mysite.asgi:application"


def test_the_docs_channel_layer_connects_as_the_example_project_does() -> None:
    """The layer the tutorial and the live-updates page show keeps the example's settings."""
    program = (
        "import json, runpy, importlib\n"
        "example = importlib.import_module('example_project.settings').CHANNEL_LAYERS\n"
        "docs = runpy.run_path('docs/tutorial/mysite/settings.py')['CHANNEL_LAYERS']\n"
        "print(json.dumps([example, docs], default=str))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "REDIS_URL": "redis://r:6379/3"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    example, docs = (layer["default"] for layer in json.loads(finished.stdout))

    assert docs["BACKEND"] == example["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert docs["CONFIG"]["capacity"] == example["CONFIG"]["capacity"]
    (docs_host,) = docs["CONFIG"]["hosts"]
    (example_host,) = example["CONFIG"]["hosts"]
    assert (
        docs_host
        == example_host
        == {
            "address": "redis://r:6379/3",
            "max_connections": 1000,
            "socket_timeout": 10,
        }
    )
